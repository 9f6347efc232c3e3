package bot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/releasebot/releasebot/internal/httpbody"
)

// Slack answers chat.postMessage and chat.update with the message it
// stored, blocks and all, and slack-go decodes that echo into a
// slack.Message, each block twice (once to learn its type), for callers
// that only get the channel, timestamp and text back. For a status message
// that was 36 µs and 153 allocations a post, 3.4 µs and 12 with the echo
// dropped (BenchmarkDropEcho): the largest share of the CPU a /release
// start cost over the benchmark's minimal bot, which posts plain text. The
// bot's HTTP client for slack-go drops the echo before slack-go reads the
// answer.

// echoing are the methods whose answers carry the message posted.
var echoing = []string{"/chat.postMessage", "/chat.update"}

// Echoless is the client the bot hands slack-go: an *http.Client whose
// answers to the methods in echoing have their echo dropped (dropEcho). The
// benchmark's minimal bot posts through one too: a baseline gets the
// tunings the bot gets.
type Echoless struct{ c *http.Client }

// NewEcholess wraps c.
func NewEcholess(c *http.Client) Echoless { return Echoless{c} }

// Do sends req with the client it wraps.
func (e Echoless) Do(req *http.Request) (*http.Response, error) {
	resp, err := e.c.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK || !isEchoing(req.URL.Path) {
		return resp, err
	}
	body, err := httpbody.Read(resp.Body, resp.ContentLength, -1)
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(dropEcho(body)))
	resp.ContentLength = -1
	return resp, nil
}

func isEchoing(path string) bool {
	for _, m := range echoing {
		if strings.HasSuffix(path, m) {
			return true
		}
	}
	return false
}

// dropEcho returns body without its top-level "message" member. A body
// that is not a JSON object with such a member comes back as it is, and so
// does one dropEcho cannot read: slack-go then decodes it all, as without
// dropEcho.
//
// It skims rather than decodes: decoding the answer into a map of raw
// members, to drop one, cost a third of what dropping spared. The skim
// finds where each top-level member ends, skipping strings and nested
// values whole; the object rebuilt from the others, a few dozen bytes, is
// checked with json.Valid. The message itself is not checked: it is not
// read.
func dropEcho(body []byte) []byte {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return body
	}
	// out is the object rebuilt from its members but "message".
	out := append(make([]byte, 0, 256), body[:i+1]...)
	kept, dropped := 0, false
	if i = skipSpace(body, i+1); i < len(body) && body[i] == '}' {
		return body
	}
	for i < len(body) && body[i] == '"' {
		start := i
		end, ok := skipString(body, i)
		if !ok {
			return body
		}
		key := body[start+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			return body // an escaped key might spell "message"
		}
		if i = skipSpace(body, end); i >= len(body) || body[i] != ':' {
			return body
		}
		if i, ok = skipValue(body, skipSpace(body, i+1)); !ok {
			return body
		}
		if string(key) == "message" {
			dropped = true
		} else {
			if kept > 0 {
				out = append(out, ',')
			}
			out = append(out, body[start:i]...)
			kept++
		}
		switch i = skipSpace(body, i); {
		case i < len(body) && body[i] == ',':
			i = skipSpace(body, i+1)
		case i < len(body) && body[i] == '}':
			if !dropped {
				return body
			}
			if out = append(out, body[i:]...); !json.Valid(out) {
				return body
			}
			return out
		default:
			return body
		}
	}
	return body
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string that starts at b[i],
// a double quote.
func skipString(b []byte, i int) (int, bool) {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return 0, false
}

// skipValue returns the index just past the value that starts at b[i]: a
// string, an object or array (nested values and strings skipped whole, its
// brackets paired), or a literal or number (up to the next delimiter).
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		var open []byte // the brackets not yet closed, innermost last
		for ; i < len(b); i++ {
			switch c := b[i]; c {
			case '"':
				end, ok := skipString(b, i)
				if !ok {
					return 0, false
				}
				i = end - 1
			case '{', '[':
				open = append(open, c)
			case '}', ']':
				if open[len(open)-1] != c-2 { // '{'+2 is '}', '['+2 is ']'
					return 0, false
				}
				if open = open[:len(open)-1]; len(open) == 0 {
					return i + 1, true
				}
			}
		}
		return 0, false
	case ',', '}', ']', ':':
		return 0, false
	}
	for ; i < len(b); i++ {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i, true
		}
	}
	return i, true
}

package bot

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDropEcho(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"echo dropped", `{"ok":true,"channel":"C1","ts":"1.2","message":{"text":"hi","blocks":[{"type":"divider"}]}}`,
			`{"ok":true,"channel":"C1","ts":"1.2"}`},
		{"warnings and metadata kept", `{"ok":true,"message":{},"warning":"missing_charset","response_metadata":{"warnings":["missing_charset"]}}`,
			`{"ok":true,"warning":"missing_charset","response_metadata":{"warnings":["missing_charset"]}}`},
		{"nested message kept", `{"ok":false,"error":"invalid_blocks","errors":[{"message":"x"}]}`,
			`{"ok":false,"error":"invalid_blocks","errors":[{"message":"x"}]}`},
		{"no echo", `{"ok":true, "ts":"1.2"}`, `{"ok":true, "ts":"1.2"}`},
		{"not an object", `[{"message":1}]`, `[{"message":1}]`},
		{"null", `null`, `null`},
		{"not JSON", `<html>bad gateway</html>`, `<html>bad gateway</html>`},
		{"truncated", `{"ok":true,"message":{"text":`, `{"ok":true,"message":{"text":`},
		{"invalid member kept", `{"ok":tru,"message":{}}`, `{"ok":tru,"message":{}}`},
		{"escaped key", `{"ok":true,"\u006dessage":{}}`, `{"ok":true,"\u006dessage":{}}`},
		{"brackets that do not pair", `{"message":{"x":[1},"ok":false]},"channel":"C"}`, `{"message":{"x":[1},"ok":false]},"channel":"C"}`},
		{"message not read", `{"ok":true,"message":{"text":01}}`, `{"ok":true}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(dropEcho([]byte(tc.in)))
			if json.Valid([]byte(tc.want)) && tc.want != tc.in {
				assert.JSONEq(t, tc.want, got)
			} else {
				assert.Equal(t, tc.want, got, "a body without a top-level message comes back as it is")
			}
		})
	}
}

// FuzzDropEcho: whatever Slack (or a proxy) answers, dropEcho either hands
// it back untouched or returns a JSON object that is the answer without
// its "message" member (whose value it does not read, so need not check).
func FuzzDropEcho(f *testing.F) {
	for _, s := range []string{
		`{"ok":true,"channel":"C1","ts":"1.2","message":{"blocks":[{"type":"section"}]}}`,
		`{"ok":false,"error":"ratelimited"}`, `{"message":null,"message":1}`, `"message"`, `{}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		out := dropEcho(in)
		require.Equal(t, orig, in, "the body read is not modified")
		if bytes.Equal(out, in) {
			return
		}
		var after map[string]any
		require.NoError(t, json.Unmarshal(out, &after), "a rewrite is a JSON object")
		require.NotContains(t, after, "message")
		require.Contains(t, string(in), `"message"`)
		var before map[string]any
		if json.Unmarshal(in, &before) != nil {
			return // the message was not valid JSON: it is dropped unread
		}
		delete(before, "message")
		require.Equal(t, before, after)
	})
}

// BenchmarkDropEcho compares slack-go's decoding of a chat.postMessage
// answer that echoes a status message with the decoding of that answer
// once its echo is dropped.
func BenchmarkDropEcho(b *testing.B) {
	text := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
	}
	blocks := []slack.Block{
		slack.NewSectionBlock(text("*bench-task* started by <@U0ALICE>: execution `exec-1` is *Running*"), []*slack.TextBlockObject{text("*Task*\nbench-task"), text("*Execution*\nexec-1")}, nil),
		slack.NewContextBlock("", text("Followed every 10 s · <https://console.example.com/x|Open in the console>")),
		slack.NewActionBlock("run", slack.NewButtonBlockElement("stop", "p1/exec-1", slack.NewTextBlockObject(slack.PlainTextType, "Stop", false, false))),
	}
	body, err := json.Marshal(map[string]any{"ok": true, "channel": "C1", "ts": "1.2", "message": map[string]any{
		"type": "message", "user": "U0BOT", "text": "bench-task started", "ts": "1.2", "blocks": blocks}})
	require.NoError(b, err)
	// answer is what slack-go decodes a chat.postMessage answer into.
	type answer struct {
		Channel   string        `json:"channel"`
		Timestamp string        `json:"ts"`
		Message   slack.Message `json:"message"`
		slack.SlackResponse
	}
	decode := func(b *testing.B, body []byte) {
		var a answer
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&a); err != nil || a.Timestamp != "1.2" {
			b.Fatal(a.Timestamp, err)
		}
	}
	b.Run("echo decoded", func(b *testing.B) {
		for b.Loop() {
			decode(b, body)
		}
	})
	b.Run("echo dropped", func(b *testing.B) {
		for b.Loop() {
			decode(b, dropEcho(body))
		}
	})
}

package bot_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/bot"
)

// The message Slack echoes back is dropped before slack-go decodes the
// answer: an echo slack-go cannot decode fails nothing, and what the
// caller gets (the ts, Slack's error) still comes through; with the
// answer's length given (read in one buffer) or not (chunked, read as it
// comes).
func TestEchoNotDecoded(t *testing.T) {
	// An echo whose blocks slack-go cannot decode, as the test's witness
	// that it is never decoded.
	const badEcho = `"message":{"type":"message","blocks":"not a list"}`
	answers := map[string]string{
		"/chat.postMessage": `{"ok":true,"channel":"C0REL","ts":"1700000000.000200",` + badEcho + `}`,
		"/chat.update":      `{"ok":true,"channel":"C0REL","ts":"1700000000.000200","text":"Done",` + badEcho + `}`,
	}
	for _, chunked := range []bool{false, true} {
		t.Run(map[bool]string{false: "with Content-Length", true: "chunked"}[chunked], func(t *testing.T) {
			var refuse atomic.Bool
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				answer := answers[r.URL.Path]
				if refuse.Load() {
					answer = `{"ok":false,"error":"channel_not_found",` + badEcho + `}`
				}
				if chunked {
					// Sent before the handler ends: no Content-Length.
					_, _ = io.WriteString(w, answer[:1])
					w.(http.Flusher).Flush()
					answer = answer[1:]
				}
				_, _ = io.WriteString(w, answer)
			}))
			t.Cleanup(srv.Close)
			tr := &http.Transport{}
			t.Cleanup(tr.CloseIdleConnections)
			b := bot.New(bot.Config{BotToken: "xoxb-test", AppToken: "xapp-test", APIURL: srv.URL + "/", HTTPClient: &http.Client{Transport: tr}}, zerolog.Nop())
			ctx := testContext(t)

			m := bot.Message{Text: "Done", Blocks: []slack.Block{section("Done")}}
			ts, err := b.Post(ctx, "C0REL", m)
			require.NoError(t, err)
			assert.Equal(t, "1700000000.000200", ts)
			require.NoError(t, b.Update(ctx, "C0REL", ts, m))

			refuse.Store(true)
			_, err = b.Post(ctx, "C0REL", m)
			assert.EqualError(t, err, "chat.postMessage: channel_not_found")
		})
	}
}

// An answer cut short is an error, even when what came of it reads as a
// whole answer: nothing is taken for done on part of an answer.
func TestEchoCutShortIsAnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "500") // more than is sent: the connection closes early
		_, _ = io.WriteString(w, `{"ok":true,"channel":"C0REL","ts":"1700000000.000200"}`)
	}))
	t.Cleanup(srv.Close)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	b := bot.New(bot.Config{BotToken: "xoxb-test", AppToken: "xapp-test", APIURL: srv.URL + "/", HTTPClient: &http.Client{Transport: tr}}, zerolog.Nop())
	_, err := b.Post(testContext(t), "C0REL", bot.Message{Text: "Done"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "chat.postMessage: ")
}

package fakeslack_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/internal/fakeslack"
)

// uiItem and uiState mirror the JSON of the page's event stream.
type uiItem struct {
	Kind     string            `json:"kind"`
	Key      string            `json:"key"`
	Deleted  bool              `json:"deleted"`
	Channel  string            `json:"channel"`
	TS       string            `json:"ts"`
	ThreadTS string            `json:"thread_ts"`
	User     string            `json:"user"`
	Text     string            `json:"text"`
	Edits    int               `json:"edits"`
	ViewType string            `json:"view_type"`
	View     json.RawMessage   `json:"view"`
	Open     bool              `json:"open"`
	Errors   map[string]string `json:"errors"`
}

type uiState struct {
	Rev       int64    `json:"rev"`
	Reset     bool     `json:"reset"`
	Connected bool     `json:"connected"`
	Items     []uiItem `json:"items"`
}

// uiClient talks to a Server's UIHandler as the page does.
type uiClient struct {
	base string
	hc   *http.Client
}

func startUI(t *testing.T, s *fakeslack.Server) *uiClient {
	t.Helper()
	srv := httptest.NewServer(s.UIHandler())
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
	})
	return &uiClient{base: srv.URL, hc: &http.Client{Transport: tr}}
}

// post sends body to route and returns the status and the decoded answer.
func (c *uiClient) post(t *testing.T, route string, body any) (int, map[string]any) {
	t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	resp, err := c.hc.Post(c.base+route, "application/json", bytes.NewReader(raw))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if len(data) > 0 {
		require.NoError(t, json.Unmarshal(data, &out), "%s", data)
	}
	return resp.StatusCode, out
}

// postAsync is post for a route that waits for the bot's ack, which the test sends.
func (c *uiClient) postAsync(t *testing.T, route string, body any) <-chan int {
	t.Helper()
	done := make(chan int, 1)
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	go func() {
		resp, err := c.hc.Post(c.base+route, "application/json", bytes.NewReader(raw))
		if err != nil {
			done <- 0
			return
		}
		_ = resp.Body.Close()
		done <- resp.StatusCode
	}()
	return done
}

// stream is one person's event stream.
type stream struct {
	states chan uiState
	seen   []uiItem
}

func (c *uiClient) stream(t *testing.T, ctx context.Context, user string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/events?user="+user, nil)
	require.NoError(t, err)
	resp, err := c.hc.Do(req)
	require.NoError(t, err)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	st := &stream{states: make(chan uiState, 64)}
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(st.states)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var s uiState
			if json.Unmarshal([]byte(data), &s) == nil {
				st.states <- s
			}
		}
	})
	t.Cleanup(func() {
		cancel()
		_ = resp.Body.Close()
		wg.Wait()
	})
	return st
}

// next waits for a state event.
func (st *stream) next(t *testing.T, ctx context.Context) uiState {
	t.Helper()
	select {
	case s, ok := <-st.states:
		require.True(t, ok, "the stream ended")
		st.seen = append(st.seen, s.Items...)
		return s
	case <-ctx.Done():
		t.Fatalf("waiting for a state event: %v", ctx.Err())
		return uiState{}
	}
}

// item waits for an item that match accepts.
func (st *stream) item(t *testing.T, ctx context.Context, match func(uiItem) bool) uiItem {
	t.Helper()
	for {
		for _, it := range st.next(t, ctx).Items {
			if match(it) {
				return it
			}
		}
	}
}

func TestUIStreamsWhatEachPersonSees(t *testing.T) {
	s, b, ctx := startConnected(t, fakeslack.Options{Users: []fakeslack.User{{ID: "U0BOB", Name: "Bob", Title: "approver"}}})
	ui := startUI(t, s)

	resp, err := ui.hc.Get(ui.base + "/users")
	require.NoError(t, err)
	var dir struct {
		Bot   fakeslack.User   `json:"bot"`
		Users []fakeslack.User `json:"users"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&dir))
	_ = resp.Body.Close()
	assert.Equal(t, []fakeslack.User{{ID: "U0BOB", Name: "Bob", Title: "approver"}}, dir.Users)
	assert.Equal(t, fakeslack.BotUserID, dir.Bot.ID)

	bob, carol := ui.stream(t, ctx, "U0BOB"), ui.stream(t, ctx, "U0CAROL")
	first := bob.next(t, ctx)
	assert.True(t, first.Reset)
	assert.True(t, first.Connected)
	carol.next(t, ctx)

	// Bob types a command: the app gets it as Bob's, and answers him alone.
	done := ui.postAsync(t, "/command", map[string]any{"user": "U0BOB", "text": "start payments-api"})
	evt := b.next(t, ctx, socketmode.EventTypeSlashCommand)
	cmd := evt.Data.(slack.SlashCommand)
	assert.Equal(t, "U0BOB", cmd.UserID)
	assert.Equal(t, "Bob", cmd.UserName)
	assert.Equal(t, "start payments-api", cmd.Text)
	b.ack(t, evt)
	assert.Equal(t, http.StatusNoContent, <-done)
	_, err = b.api.PostEphemeral(cmd.ChannelID, cmd.UserID, slack.MsgOptionText("only Bob", false))
	require.NoError(t, err)
	eph := bob.item(t, ctx, func(it uiItem) bool { return it.Kind == "ephemeral" })
	assert.Equal(t, "only Bob", eph.Text)

	// A channel message reaches both; carol never saw Bob's ephemeral one.
	_, ts, err := b.api.PostMessage("C0REL", slack.MsgOptionText("Approval needed", false), slack.MsgOptionBlocks(approvalBlocks()...))
	require.NoError(t, err)
	carol.item(t, ctx, func(it uiItem) bool { return it.Kind == "message" && it.TS == ts })
	for _, it := range carol.seen {
		assert.NotEqual(t, "ephemeral", it.Kind, "carol saw %+v", it)
	}
	_, _, _, err = b.api.UpdateMessage("C0REL", ts, slack.MsgOptionText("Approved", false))
	require.NoError(t, err)
	edited := bob.item(t, ctx, func(it uiItem) bool { return it.TS == ts && it.Edits == 1 })
	assert.Equal(t, "Approved", edited.Text)

	// Bob clicks Refuse; the modal the app opens is his, and its errors come back.
	done = ui.postAsync(t, "/click", map[string]any{"user": "U0BOB", "channel": "C0REL", "ts": ts, "action_id": "refuse"})
	evt = b.next(t, ctx, socketmode.EventTypeInteractive)
	cb := evt.Data.(slack.InteractionCallback)
	assert.Equal(t, "prompt-42", cb.ActionCallback.BlockActions[0].Value)
	b.ack(t, evt)
	assert.Equal(t, http.StatusNoContent, <-done)
	req := modal("Refuse", "prompt-42", slack.NewInputBlock("reason", slack.NewTextBlockObject("plain_text", "Reason", false, false), nil,
		slack.NewPlainTextInputBlockElement(nil, "reason_input")))
	req.Submit = slack.NewTextBlockObject("plain_text", "Refuse", false, false)
	view, err := b.api.OpenView(cb.TriggerID, req)
	require.NoError(t, err)
	opened := bob.item(t, ctx, func(it uiItem) bool { return it.Kind == "view" })
	assert.Equal(t, "modal", opened.ViewType)
	assert.True(t, opened.Open)

	submitted := make(chan map[string]any, 1)
	go func() {
		// post must not run t.FailNow off the test goroutine: decode here.
		raw, _ := json.Marshal(map[string]any{"user": "U0BOB", "view_id": view.ID, "values": map[string]any{"reason": map[string]string{"reason_input": ""}}})
		resp, err := ui.hc.Post(ui.base+"/submit", "application/json", bytes.NewReader(raw))
		var out map[string]any
		if err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&out)
			_ = resp.Body.Close()
		}
		submitted <- out
	}()
	evt = b.next(t, ctx, socketmode.EventTypeInteractive)
	b.ack(t, evt, slack.NewErrorsViewSubmissionResponse(map[string]string{"reason": "Say why"}))
	assert.Equal(t, map[string]any{"open": true, "errors": map[string]any{"reason": "Say why"}}, <-submitted)

	code, _ := ui.post(t, "/close", map[string]any{"user": "U0CAROL", "view_id": view.ID})
	assert.Equal(t, http.StatusBadRequest, code, "carol cannot close Bob's modal")
	code, _ = ui.post(t, "/close", map[string]any{"user": "U0BOB", "view_id": view.ID})
	assert.Equal(t, http.StatusNoContent, code)
	bob.item(t, ctx, func(it uiItem) bool { return it.Kind == "view" && !it.Open })

	done = ui.postAsync(t, "/home", map[string]any{"user": "U0BOB"})
	b.ack(t, b.next(t, ctx, socketmode.EventTypeEventsAPI))
	assert.Equal(t, http.StatusNoContent, <-done)

	code, _ = ui.post(t, "/message", map[string]any{"user": "U0BOB", "text": "ship it"})
	assert.Equal(t, http.StatusNoContent, code)
	said := carol.item(t, ctx, func(it uiItem) bool { return it.User == "U0BOB" })
	assert.Equal(t, "ship it", said.Text)
}

func TestUIRejectsBadRequests(t *testing.T) {
	s := fakeslack.MustStart(t, fakeslack.Options{})
	ui := startUI(t, s)

	resp, err := ui.hc.Post(ui.base+"/command", "application/x-www-form-urlencoded", strings.NewReader("user=U0BOB&text=start"))
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode, "a form on another site cannot post a command")

	tests := []struct {
		name, route string
		body        map[string]any
	}{
		{"no user", "/command", map[string]any{"text": "help"}},
		{"not a slash command", "/command", map[string]any{"user": "U0BOB", "command": "release"}},
		{"empty message", "/message", map[string]any{"user": "U0BOB", "text": " "}},
		{"click without action", "/click", map[string]any{"user": "U0BOB"}},
		{"unknown modal", "/submit", map[string]any{"user": "U0BOB", "view_id": "V0NOPE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := ui.post(t, tt.route, tt.body)
			assert.Equal(t, http.StatusBadRequest, code)
			assert.NotEmpty(t, out["error"])
		})
	}

	resp, err = ui.hc.Get(ui.base + "/events")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "a stream is for one person")

	resp, err = ui.hc.Get(ui.base + "/files/F0NOPE")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestUIServesSharedFiles(t *testing.T) {
	s, b, ctx := startConnected(t, fakeslack.Options{Scopes: fakeslack.AllScopes()})
	ui := startUI(t, s)
	csv := "time,user\n"
	sum, err := b.api.UploadFileContext(ctx, slack.UploadFileParameters{
		Filename: "audit.csv", FileSize: len(csv), Content: csv, Channel: "C0REL",
	})
	require.NoError(t, err)

	resp, err := ui.hc.Get(ui.base + "/files/" + sum.ID)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, csv, string(body))
	assert.Equal(t, `attachment; filename=audit.csv`, resp.Header.Get("Content-Disposition"))
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
}

package fakeslack_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/internal/fakeslack"
)

func TestConnectAndHello(t *testing.T) {
	s, b, ctx := startConnected(t, fakeslack.Options{})

	hello := b.next(t, ctx, socketmode.EventTypeHello)
	require.NotNil(t, hello.Request)
	assert.Equal(t, fakeslack.AppID, hello.Request.ConnectionInfo.AppID)
	assert.Equal(t, 1, hello.Request.NumConnections)
	assert.Equal(t, 1, s.Connections())
	assert.Equal(t, 1, s.Opens())
	assert.Equal(t, []string{"https://api.slack.com"}, s.Origins())

	open := s.Calls("apps.connections.open")
	require.Len(t, open, 1)
	assert.Equal(t, fakeslack.DefaultAppToken, open[0].Token)
}

func TestSlashCommandRoundTrip(t *testing.T) {
	s, b, ctx := startConnected(t, fakeslack.Options{})

	env, err := s.SendSlashCommand(ctx, fakeslack.SlashCommand{UserID: "U0BOB", UserName: "bob", Text: "start web-prod"})
	require.NoError(t, err)
	assert.Equal(t, "slash_commands", env.Type)

	evt := b.next(t, ctx, socketmode.EventTypeSlashCommand)
	cmd, ok := evt.Data.(slack.SlashCommand)
	require.True(t, ok, "got %T, want slack.SlashCommand", evt.Data)
	assert.Equal(t, slack.SlashCommand{
		Token:       fakeslack.VerificationToken,
		TeamID:      fakeslack.DefaultTeamID,
		TeamDomain:  fakeslack.TeamDomain,
		ChannelID:   fakeslack.DefaultChannelID,
		ChannelName: fakeslack.DefaultChannelName,
		UserID:      "U0BOB",
		UserName:    "bob",
		Command:     "/release",
		Text:        "start web-prod",
		ResponseURL: env.ResponseURL,
		TriggerID:   env.TriggerID,
		APIAppID:    fakeslack.AppID,
	}, cmd)
	assert.Equal(t, env.ID, evt.Request.EnvelopeID)
	assert.True(t, evt.Request.AcceptsResponsePayload)
	assert.False(t, env.Acked())
	assert.Len(t, s.Unacked(), 1)

	b.ack(t, evt, map[string]any{"response_type": "ephemeral", "text": "Starting web-prod"})
	ack, err := env.Ack(ctx)
	require.NoError(t, err)
	assert.Equal(t, env.ID, ack.EnvelopeID)
	assert.JSONEq(t, `{"response_type":"ephemeral","text":"Starting web-prod"}`, string(ack.Payload))
	assert.False(t, ack.At.Before(env.SentAt), "ack at %v before sent at %v", ack.At, env.SentAt)
	assert.True(t, env.Acked())
	assert.Empty(t, s.Unacked())
}

func TestClick(t *testing.T) {
	s, b, ctx := startConnected(t, fakeslack.Options{})
	_, ts, err := b.api.PostMessage("C0REL", slack.MsgOptionText("Approval needed", false), slack.MsgOptionBlocks(approvalBlocks()...))
	require.NoError(t, err)

	tests := []struct {
		name                             string
		click                            fakeslack.Click
		wantBlockID, wantValue, wantText string
		wantMessageTS, wantMessageText   string
	}{
		{
			name:        "button found in the posted message",
			click:       fakeslack.Click{UserID: "U0BOB", MessageTS: ts, ActionID: "refuse"},
			wantBlockID: "approval", wantValue: "prompt-42",
			wantMessageTS: ts, wantMessageText: "Approval needed",
		},
		{
			name: "explicit fields and message",
			click: fakeslack.Click{
				UserID: "U0BOB", ChannelID: "C0OTHER", MessageTS: "1700000000.999900",
				ActionID: "approve", BlockID: "b1", Value: "v1",
				Message: json.RawMessage(`{"type":"message","ts":"1700000000.999900","text":"old"}`),
			},
			wantBlockID: "b1", wantValue: "v1",
			wantMessageTS: "1700000000.999900", wantMessageText: "old",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := s.SendClick(ctx, tt.click)
			require.NoError(t, err)

			evt := b.next(t, ctx, socketmode.EventTypeInteractive)
			cb, ok := evt.Data.(slack.InteractionCallback)
			require.True(t, ok, "got %T, want slack.InteractionCallback", evt.Data)
			assert.Equal(t, slack.InteractionTypeBlockActions, cb.Type)
			require.Len(t, cb.ActionCallback.BlockActions, 1)
			assert.Empty(t, cb.ActionCallback.AttachmentActions)
			act := cb.ActionCallback.BlockActions[0]
			assert.Equal(t, tt.click.ActionID, act.ActionID)
			assert.Equal(t, tt.wantBlockID, act.BlockID)
			assert.Equal(t, tt.wantValue, act.Value)
			assert.Equal(t, "U0BOB", cb.User.ID)
			assert.Equal(t, tt.wantMessageTS, cb.Container.MessageTs)
			assert.Equal(t, tt.wantMessageTS, cb.Message.Timestamp)
			assert.Equal(t, tt.wantMessageText, cb.Message.Text)
			assert.Equal(t, env.ResponseURL, cb.ResponseURL)
			assert.Equal(t, env.TriggerID, cb.TriggerID)

			b.ack(t, evt)
			ack, err := env.Ack(ctx)
			require.NoError(t, err)
			assert.Nil(t, ack.Payload)
		})
	}
}

func TestSubmission(t *testing.T) {
	s, b, ctx := startConnected(t, fakeslack.Options{})

	// A view opened with the trigger of a slash command, as the bot would.
	env, err := s.SendSlashCommand(ctx, fakeslack.SlashCommand{Text: "refuse 42"})
	require.NoError(t, err)
	b.ack(t, b.next(t, ctx, socketmode.EventTypeSlashCommand))
	opened, err := b.api.OpenView(env.TriggerID, slack.ModalViewRequest{
		Type:            slack.VTModal,
		Title:           slack.NewTextBlockObject("plain_text", "Refuse", false, false),
		Submit:          slack.NewTextBlockObject("plain_text", "Refuse", false, false),
		CallbackID:      "refuse_reason",
		PrivateMetadata: `{"prompt":"42"}`,
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewInputBlock("reason", slack.NewTextBlockObject("plain_text", "Reason", false, false), nil,
				slack.NewPlainTextInputBlockElement(nil, "reason_input")),
		}},
	})
	require.NoError(t, err)
	require.NotEmpty(t, opened.ID)

	values := map[string]map[string]string{"reason": {"reason_input": "Smoke tests fail"}}
	tests := []struct {
		name                     string
		sub                      fakeslack.Submission
		wantCallback, wantMeta   string
		wantBlocks               int
		wantViewID, wantTitleTxt string
	}{
		{
			name:         "opened view",
			sub:          fakeslack.Submission{ViewID: opened.ID, Values: values},
			wantCallback: "refuse_reason", wantMeta: `{"prompt":"42"}`, wantBlocks: 1,
			wantViewID: opened.ID, wantTitleTxt: "Refuse",
		},
		{
			name:         "values only",
			sub:          fakeslack.Submission{UserID: "U0BOB", CallbackID: "other", PrivateMetadata: "m", Values: values},
			wantCallback: "other", wantMeta: "m", wantBlocks: 1, wantTitleTxt: "Modal",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := s.SendSubmission(ctx, tt.sub)
			require.NoError(t, err)

			evt := b.next(t, ctx, socketmode.EventTypeInteractive)
			cb, ok := evt.Data.(slack.InteractionCallback)
			require.True(t, ok, "got %T, want slack.InteractionCallback", evt.Data)
			assert.Equal(t, slack.InteractionTypeViewSubmission, cb.Type)
			assert.Equal(t, tt.wantCallback, cb.View.CallbackID)
			assert.Equal(t, tt.wantMeta, cb.View.PrivateMetadata)
			assert.Len(t, cb.View.Blocks.BlockSet, tt.wantBlocks)
			require.NotNil(t, cb.View.Title)
			assert.Equal(t, tt.wantTitleTxt, cb.View.Title.Text)
			if tt.wantViewID != "" {
				assert.Equal(t, tt.wantViewID, cb.View.ID)
			}
			require.NotNil(t, cb.View.State)
			assert.Equal(t, "Smoke tests fail", cb.View.State.Values["reason"]["reason_input"].Value)
			assert.Empty(t, env.ResponseURL)
			assert.NotEmpty(t, env.TriggerID)

			b.ack(t, evt, slack.NewErrorsViewSubmissionResponse(map[string]string{"reason": "Too short"}))
			ack, err := env.Ack(ctx)
			require.NoError(t, err)
			assert.JSONEq(t, `{"response_action":"errors","errors":{"reason":"Too short"}}`, string(ack.Payload))
		})
	}

	_, err = s.SendSubmission(ctx, fakeslack.Submission{ViewID: "V0NOPE"})
	assert.ErrorContains(t, err, "no such view")
}

func TestInvalidAppTokenIsFatal(t *testing.T) {
	ctx := testContext(t)
	s := fakeslack.MustStart(t, fakeslack.Options{})
	b := startBot(t, s, botConfig{appToken: "xapp-1-wrong"})
	select {
	case err := <-b.runErr:
		assert.EqualError(t, err, "invalid_auth")
	case <-ctx.Done():
		t.Fatal("RunContext did not return on invalid_auth")
	}
	assert.Equal(t, 1, s.Opens())
}

func TestReconnect(t *testing.T) {
	tests := []struct {
		name  string
		cause func(s *fakeslack.Server)
	}{
		{"disconnect refresh_requested", func(s *fakeslack.Server) { s.Disconnect("refresh_requested") }},
		{"drop", (*fakeslack.Server).Drop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, b, ctx := startConnected(t, fakeslack.Options{})
			b.next(t, ctx, socketmode.EventTypeHello)

			// The old socket stops counting as live before cause returns, so
			// this waits for the new one.
			tt.cause(s)
			require.NoError(t, s.WaitConnected(ctx, 1))
			assert.Equal(t, 2, s.Opens())
			b.next(t, ctx, socketmode.EventTypeHello)

			env, err := s.SendSlashCommand(ctx, fakeslack.SlashCommand{Text: "list"})
			require.NoError(t, err)
			evt := b.next(t, ctx, socketmode.EventTypeSlashCommand)
			b.ack(t, evt)
			_, err = env.Ack(ctx)
			require.NoError(t, err)
		})
	}
}

func TestPings(t *testing.T) {
	t.Run("server pings keep the link up", func(t *testing.T) {
		ctx := testContext(t)
		s := fakeslack.MustStart(t, fakeslack.Options{PingInterval: 20 * time.Millisecond})
		startBot(t, s, botConfig{smOpts: []socketmode.Option{socketmode.OptionPingInterval(200 * time.Millisecond)}})
		// 25 pongs take at least 500 ms, well past slack-go's 200 ms watchdog.
		require.NoError(t, s.WaitPongs(ctx, 25))
		assert.Equal(t, 1, s.Opens())
	})
	t.Run("without pings slack-go reconnects", func(t *testing.T) {
		ctx := testContext(t)
		s := fakeslack.MustStart(t, fakeslack.Options{PingInterval: time.Hour})
		b := startBot(t, s, botConfig{smOpts: []socketmode.Option{socketmode.OptionPingInterval(50 * time.Millisecond)}})
		b.next(t, ctx, socketmode.EventTypeConnected)
		b.next(t, ctx, socketmode.EventTypeConnected)
		assert.GreaterOrEqual(t, s.Opens(), 2)
	})
}

func TestEnvelopesSpreadAcrossConnections(t *testing.T) {
	ctx := testContext(t)
	s := fakeslack.MustStart(t, fakeslack.Options{})
	bots := []*bot{startBot(t, s, botConfig{}), startBot(t, s, botConfig{})}
	require.NoError(t, s.WaitConnected(ctx, 2))

	perConn := map[int]int{}
	for range 4 {
		env, err := s.SendSlashCommand(ctx, fakeslack.SlashCommand{Text: "list"})
		require.NoError(t, err)
		perConn[env.Conn]++
	}
	assert.Len(t, perConn, 2)
	for conn, n := range perConn {
		assert.Equal(t, 2, n, "envelopes on conn %d", conn)
	}
	for _, b := range bots {
		for range 2 {
			b.ack(t, b.next(t, ctx, socketmode.EventTypeSlashCommand))
		}
	}
	for _, env := range s.Unacked() {
		_, err := env.Ack(ctx)
		require.NoError(t, err)
	}
}

func TestHostileFrames(t *testing.T) {
	s, b, ctx := startConnected(t, fakeslack.Options{})

	_, err := s.SendRaw(ctx, "slash_commands", json.RawMessage(`{"is_enterprise_install":3}`))
	require.NoError(t, err)
	bad := b.next(t, ctx, socketmode.EventTypeErrorBadMessage)
	assert.IsType(t, &socketmode.ErrorBadMessage{}, bad.Data)

	_, err = s.SendRaw(ctx, "mystery", json.RawMessage(`{}`))
	require.NoError(t, err)
	b.next(t, ctx, socketmode.EventTypeErrorBadMessage)

	require.NoError(t, s.SendFrame(ctx, []byte(`{"type":`)))
	require.NoError(t, s.SendFrame(ctx, []byte(`not json`)))
	b.next(t, ctx, socketmode.EventTypeIncomingError)

	env, err := s.SendSlashCommand(ctx, fakeslack.SlashCommand{})
	require.NoError(t, err)
	b.ack(t, b.next(t, ctx, socketmode.EventTypeSlashCommand))
	_, err = env.Ack(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, s.Opens(), "bad frames do not cost the connection")
}

// TestRawSocket checks the wire protocol with a bare WebSocket client.
func TestRawSocket(t *testing.T) {
	ctx := testContext(t)
	s := fakeslack.MustStart(t, fakeslack.Options{})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	api := slack.New(fakeslack.DefaultBotToken, slack.OptionAppLevelToken(fakeslack.DefaultAppToken),
		slack.OptionAPIURL(s.APIURL()), slack.OptionHTTPClient(&http.Client{Transport: tr}))
	_, wsURL, err := api.StartSocketModeContext(ctx)
	require.NoError(t, err)

	dial := func() (*websocket.Conn, error) {
		c, resp, err := websocket.DefaultDialer.DialContext(ctx, wsURL, http.Header{"Origin": {"https://api.slack.com"}})
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		return c, err
	}
	ws, err := dial()
	require.NoError(t, err)
	defer ws.Close()
	_, err = dial()
	assert.ErrorIs(t, err, websocket.ErrBadHandshake, "tickets are single-use")

	read := func() map[string]any {
		t.Helper()
		require.NoError(t, ws.SetReadDeadline(time.Now().Add(waitTimeout)))
		var frame map[string]any
		require.NoError(t, ws.ReadJSON(&frame))
		return frame
	}
	hello := read()
	assert.Equal(t, "hello", hello["type"])
	assert.Equal(t, map[string]any{"app_id": fakeslack.AppID}, hello["connection_info"])

	env, err := s.SendSlashCommand(ctx, fakeslack.SlashCommand{})
	require.NoError(t, err)
	frame := read()
	assert.Equal(t, env.ID, frame["envelope_id"])
	assert.Equal(t, "slash_commands", frame["type"])
	assert.Equal(t, true, frame["accepts_response_payload"])
	require.NoError(t, ws.WriteJSON(map[string]any{"envelope_id": "unknown"}))
	require.NoError(t, ws.WriteJSON(map[string]any{"envelope_id": env.ID}))
	_, err = env.Ack(ctx)
	require.NoError(t, err)
	acks := s.Acks()
	require.Len(t, acks, 2)
	assert.Equal(t, "unknown", acks[0].EnvelopeID)

	s.Disconnect("warning")
	assert.Equal(t, map[string]any{"type": "disconnect", "reason": "warning", "debug_info": map[string]any{"host": "applink-fakeslack"}}, read())
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = s.SendSlashCommand(short, fakeslack.SlashCommand{})
	assert.ErrorIs(t, err, context.DeadlineExceeded, "nothing is sent after disconnect")
}

func TestClose(t *testing.T) {
	s := fakeslack.New(fakeslack.Options{})
	s.Close()
	s.Close()
	err := s.WaitConnected(context.Background(), 1)
	assert.ErrorIs(t, err, fakeslack.ErrClosed)
	_, err = s.SendSlashCommand(context.Background(), fakeslack.SlashCommand{})
	assert.True(t, errors.Is(err, fakeslack.ErrClosed), "got %v", err)
}

package bot_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/bot"
	"github.com/releasebot/releasebot/internal/fakeslack"
)

// blockFirst returns a handler whose command "block" holds its worker until
// g releases it; every other call returns at once.
func blockFirst(g *gate) *handler {
	return newHandler(func(ctx context.Context, in any) {
		if c, ok := in.(bot.Command); ok && c.Text == "block" {
			_ = g.hold(ctx, in)
		}
	})
}

// sends are one envelope of each kind a handler receives.
var sends = []struct {
	name string
	send func(ctx context.Context, s *fakeslack.Server) (*fakeslack.Envelope, error)
}{
	{"slash command", func(ctx context.Context, s *fakeslack.Server) (*fakeslack.Envelope, error) {
		return s.SendSlashCommand(ctx, fakeslack.SlashCommand{Text: "status web"})
	}},
	{"block action", func(ctx context.Context, s *fakeslack.Server) (*fakeslack.Envelope, error) {
		return s.SendClick(ctx, fakeslack.Click{ActionID: "approve", BlockID: "prompt", Value: "p-1", MessageTS: "1700000000.000100"})
	}},
	{"view submission", func(ctx context.Context, s *fakeslack.Server) (*fakeslack.Envelope, error) {
		return s.SendSubmission(ctx, fakeslack.Submission{CallbackID: "refuse", Values: map[string]map[string]string{"reason": {"text": "no"}}})
	}},
}

// TestAckBeforeHandler: with the only worker busy, an envelope of each kind
// is still acknowledged, and its handler runs once the worker is free.
func TestAckBeforeHandler(t *testing.T) {
	for _, tc := range sends {
		t.Run(tc.name, func(t *testing.T) {
			g := newGate()
			h := blockFirst(g)
			hs := start(t, bot.Config{Workers: 1}, h)

			hs.command(t, "block")
			assert.Equal(t, "block", h.nextCommand(t, hs.ctx).Text)
			// The call reports its start before it takes the gate.
			require.Eventually(t, func() bool { return g.inUse.Load() == 1 }, 10*time.Second, time.Millisecond, "the worker is busy")

			env, err := tc.send(hs.ctx, hs.slack)
			require.NoError(t, err)
			ack := hs.ack(t, env)
			assert.Nil(t, ack.Payload, "an ack carries no payload")
			assert.Equal(t, int32(1), g.inUse.Load(), "acknowledged while the only worker is still busy")
			assert.Empty(t, h.started, "no handler started before the worker was free")

			g.release("block")
			in := h.next(t, hs.ctx)
			assert.Equal(t, env.ID, envelopeID(in), "the envelope's handler runs after its ack")
			require.NoError(t, hs.shutdown(t))
			assert.Equal(t, int32(2), hs.acks.Load(), "OnAck once per acknowledged envelope")
		})
	}
}

func envelopeID(in any) string {
	switch v := in.(type) {
	case bot.Command:
		return v.EnvelopeID
	case bot.Action:
		return v.EnvelopeID
	case bot.Submission:
		return v.EnvelopeID
	}
	return ""
}

// quiet proves that no call is pending: with one worker, calls run in the
// order of their envelopes, so the next call after a sentinel command must be
// that command.
func (hs *harness) quiet(t *testing.T, h *handler) {
	t.Helper()
	env := hs.command(t, "sentinel")
	hs.ack(t, env)
	c := h.nextCommand(t, hs.ctx)
	assert.Equal(t, env.ID, c.EnvelopeID, "a call before the sentinel: %#v", c)
}

// clickPayload is a block_actions payload as Slack sends it for a click in a
// message of a DM with the app: no "channel", only the container's.
const clickPayload = `{
  "type": "block_actions", "api_app_id": "A0RELEASE", "token": "t",
  "team": {"id": "T0TEAM", "domain": "acme"},
  "user": {"id": "U0CAROL", "username": "carol", "name": "carol", "team_id": "T0TEAM"},
  "container": {"type": "message", "message_ts": "1700000000.000300", "channel_id": "D0CAROL", "is_ephemeral": false},
  "trigger_id": "111.222.abc", "response_url": "https://hooks.slack.test/actions/T0TEAM/1/xyz",
  "actions": [
    {"type": "button", "action_id": "approve", "block_id": "prompt-7", "value": "7", "action_ts": "1700000001.000001"},
    {"type": "button", "action_id": "refuse", "block_id": "prompt-7", "value": "7r", "action_ts": "1700000001.000002"}
  ]
}`

// TestNormalisation checks the plain structs the handlers receive.
func TestNormalisation(t *testing.T) {
	cases := []struct {
		name string
		send func(ctx context.Context, s *fakeslack.Server) (*fakeslack.Envelope, error)
		want func(env *fakeslack.Envelope) []any
	}{
		{
			name: "slash command",
			send: func(ctx context.Context, s *fakeslack.Server) (*fakeslack.Envelope, error) {
				return s.SendSlashCommand(ctx, fakeslack.SlashCommand{
					UserID: "U0BOB", ChannelID: "C0OPS", TeamID: "T0OTHER", Command: "/release", Text: "start web-api  now",
				})
			},
			want: func(env *fakeslack.Envelope) []any {
				return []any{bot.Command{
					EnvelopeID: env.ID, Command: "/release", Text: "start web-api  now", UserID: "U0BOB",
					ChannelID: "C0OPS", TeamID: "T0OTHER", TriggerID: env.TriggerID, ResponseURL: env.ResponseURL,
				}}
			},
		},
		{
			name: "block action",
			send: func(ctx context.Context, s *fakeslack.Server) (*fakeslack.Envelope, error) {
				return s.SendClick(ctx, fakeslack.Click{
					UserID: "U0BOB", ChannelID: "C0OPS", MessageTS: "1700000000.000200",
					ActionID: "approve", BlockID: "prompt-42", Value: "42",
				})
			},
			want: func(env *fakeslack.Envelope) []any {
				return []any{bot.Action{
					EnvelopeID: env.ID, ActionID: "approve", BlockID: "prompt-42", Value: "42", UserID: "U0BOB",
					ChannelID: "C0OPS", MessageTS: "1700000000.000200", TriggerID: env.TriggerID, ResponseURL: env.ResponseURL,
				}}
			},
		},
		{
			name: "block action on an ephemeral message",
			send: func(ctx context.Context, s *fakeslack.Server) (*fakeslack.Envelope, error) {
				return s.SendClick(ctx, fakeslack.Click{MessageTS: "1700000000.000250", ActionID: "confirm", BlockID: "c", Value: "v", Ephemeral: true})
			},
			want: func(env *fakeslack.Envelope) []any {
				return []any{bot.Action{
					EnvelopeID: env.ID, ActionID: "confirm", BlockID: "c", Value: "v", UserID: fakeslack.DefaultUserID,
					ChannelID: fakeslack.DefaultChannelID, MessageTS: "1700000000.000250", TriggerID: env.TriggerID,
					ResponseURL: env.ResponseURL, Ephemeral: true,
				}}
			},
		},
		{
			name: "two actions in one envelope, channel from the container",
			send: func(ctx context.Context, s *fakeslack.Server) (*fakeslack.Envelope, error) {
				return s.SendRaw(ctx, "interactive", json.RawMessage(clickPayload))
			},
			want: func(env *fakeslack.Envelope) []any {
				a := bot.Action{
					EnvelopeID: env.ID, ActionID: "approve", BlockID: "prompt-7", Value: "7", UserID: "U0CAROL",
					ChannelID: "D0CAROL", MessageTS: "1700000000.000300", TriggerID: "111.222.abc",
					ResponseURL: "https://hooks.slack.test/actions/T0TEAM/1/xyz",
				}
				r := a
				r.ActionID, r.Value = "refuse", "7r"
				return []any{a, r}
			},
		},
		{
			name: "view submission",
			send: func(ctx context.Context, s *fakeslack.Server) (*fakeslack.Envelope, error) {
				return s.SendSubmission(ctx, fakeslack.Submission{
					UserID: "U0BOB", CallbackID: "rollback_confirm", PrivateMetadata: `{"task":"web"}`,
					Values: map[string]map[string]string{"reason": {"text": "broken <here>"}, "ticket": {"id": "T-1"}},
				})
			},
			want: func(env *fakeslack.Envelope) []any {
				return []any{bot.Submission{
					EnvelopeID: env.ID, CallbackID: "rollback_confirm", PrivateMetadata: `{"task":"web"}`, UserID: "U0BOB",
					Values: map[string]map[string]string{"reason": {"text": "broken <here>"}, "ticket": {"id": "T-1"}},
				}}
			},
		},
		{
			name: "view submission without state",
			send: func(ctx context.Context, s *fakeslack.Server) (*fakeslack.Envelope, error) {
				return s.SendRaw(ctx, "interactive", json.RawMessage(
					`{"type":"view_submission","user":{"id":"U0BOB"},"view":{"id":"V1","callback_id":"ask","private_metadata":"m"}}`))
			},
			want: func(env *fakeslack.Envelope) []any {
				return []any{bot.Submission{
					EnvelopeID: env.ID, CallbackID: "ask", PrivateMetadata: "m", UserID: "U0BOB",
					Values: map[string]map[string]string{},
				}}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHandler(nil)
			hs := start(t, bot.Config{Workers: 1}, h)
			env, err := tc.send(hs.ctx, hs.slack)
			require.NoError(t, err)
			hs.ack(t, env)

			want := tc.want(env)
			var got []any
			for range want {
				got = append(got, h.next(t, hs.ctx))
			}
			assert.Equal(t, want, got)
			hs.quiet(t, h)
		})
	}
}

// TestOtherEnvelopesAcknowledged: envelopes no handler takes, and those
// slack-go cannot read, are acknowledged all the same (or Slack sends them
// again), and reach no handler.
func TestOtherEnvelopesAcknowledged(t *testing.T) {
	cases := []struct {
		name, typ, payload string
		logged             bool // logged as unreadable
	}{
		{name: "events API", typ: "events_api", payload: `{"token":"t","team_id":"T0TEAM","api_app_id":"A0RELEASE",` +
			`"type":"event_callback","event_id":"Ev1","event_time":1,` +
			`"event":{"type":"app_mention","user":"U0ALICE","text":"hi","ts":"1.2","channel":"C0REL","event_ts":"1.2"}}`},
		{name: "global shortcut", typ: "interactive", payload: `{"type":"shortcut","callback_id":"x","trigger_id":"1.2.3","user":{"id":"U0ALICE"}}`},
		{name: "view closed", typ: "interactive", payload: `{"type":"view_closed","user":{"id":"U0ALICE"},"view":{"id":"V1"}}`},
		{name: "unknown envelope type", typ: "future_type", payload: `{"x":1}`, logged: true},
		{name: "slash command not an object", typ: "slash_commands", payload: `"start web"`, logged: true},
		{name: "slash command without payload", typ: "slash_commands", logged: true},
		{name: "interactive with a mistyped field", typ: "interactive", payload: `{"type":"block_actions","actions":"approve"}`, logged: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHandler(nil)
			hs := start(t, bot.Config{Workers: 1}, h)
			var payload json.RawMessage
			if tc.payload != "" {
				payload = json.RawMessage(tc.payload)
			}
			env, err := hs.slack.SendRaw(hs.ctx, tc.typ, payload)
			require.NoError(t, err)
			ack := hs.ack(t, env)
			assert.Nil(t, ack.Payload)
			if tc.logged {
				line := hs.log.line(t, hs.ctx, "unreadable envelope", env.ID)
				assert.Contains(t, line, `"type":"`+tc.typ+`"`)
				assert.NotContains(t, line, "start web", "the payload is not logged")
			}
			hs.quiet(t, h)
			assert.Len(t, hs.slack.Acks(), 2, "one ack each, no more")
		})
	}
}

// TestConnection covers Connected, OnReconnect after Slack asks for a
// refresh, and Run's nil error on shutdown.
func TestConnection(t *testing.T) {
	reconnected := make(chan struct{}, 4)
	h := newHandler(nil)
	hs := start(t, bot.Config{Workers: 1, OnReconnect: func() { reconnected <- struct{}{} }}, h)
	hs.connected(t)
	assert.Empty(t, reconnected, "the first connection is no reconnection")

	hs.slack.Disconnect("refresh_requested")
	select {
	case <-reconnected:
	case <-hs.ctx.Done():
		t.Fatalf("no reconnection: %v\nlog:\n%s", hs.ctx.Err(), hs.log.String())
	}
	hs.connected(t)
	assert.Equal(t, 2, hs.slack.Opens())
	hs.log.line(t, hs.ctx, "connected to Slack", `"reconnect":true`)

	hs.ack(t, hs.command(t, "after the refresh"))
	assert.Equal(t, "after the refresh", h.nextCommand(t, hs.ctx).Text)

	require.NoError(t, hs.shutdown(t))
	assert.False(t, hs.bot.Connected(), "not connected once Run has returned")
	assert.Empty(t, reconnected, "one reconnection only")
}

// TestRefusedAppToken: Run returns an error, without the token, when Slack
// refuses the app-level token.
func TestRefusedAppToken(t *testing.T) {
	const token = "xapp-1-A0RELEASE-1-revoked-secret"
	hs := start(t, bot.Config{AppToken: token}, newHandler(nil))
	err := hs.wait(t)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "invalid_auth")
	assert.NotContains(t, err.Error(), token)
	assert.NotContains(t, hs.log.String(), token)
	assert.False(t, hs.bot.Connected())
}

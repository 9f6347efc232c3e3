package fakeslack_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/releasebot/releasebot/internal/fakeslack"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const waitTimeout = 15 * time.Second

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// bot is the real slack-go Socket Mode client, run against the fake.
type bot struct {
	api    *slack.Client
	client *socketmode.Client
	events chan socketmode.Event
	runErr chan error // RunContext's result
}

type botConfig struct {
	appToken string
	smOpts   []socketmode.Option
}

// startBot runs slack-go's Socket Mode client against s until the test ends.
// Its cleanup cancels RunContext, waits for it and closes idle HTTP
// connections, so goleak sees no slack-go goroutines.
func startBot(t *testing.T, s *fakeslack.Server, cfg botConfig) *bot {
	t.Helper()
	b := newAPIBot(t, s, fakeslack.DefaultBotToken, cfg.appToken)
	b.client = socketmode.New(b.api, cfg.smOpts...)
	b.events = make(chan socketmode.Event, 64)
	b.runErr = make(chan error, 1)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { b.runErr <- b.client.RunContext(ctx) })
	wg.Go(func() {
		for {
			select {
			case evt := <-b.client.Events:
				select {
				case b.events <- evt:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return b
}

// newAPIBot is a Web API client only, with its own transport whose idle
// connections are closed at cleanup.
func newAPIBot(t *testing.T, s *fakeslack.Server, botToken, appToken string) *bot {
	t.Helper()
	if appToken == "" {
		appToken = fakeslack.DefaultAppToken
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &bot{api: slack.New(botToken,
		slack.OptionAppLevelToken(appToken),
		slack.OptionAPIURL(s.APIURL()),
		slack.OptionHTTPClient(&http.Client{Transport: tr}),
	)}
}

// next returns the next event of type typ, skipping others.
func (b *bot) next(t *testing.T, ctx context.Context, typ socketmode.EventType) socketmode.Event {
	t.Helper()
	for {
		select {
		case evt := <-b.events:
			if evt.Type == typ {
				return evt
			}
		case <-ctx.Done():
			t.Fatalf("waiting for %s event: %v", typ, ctx.Err())
		}
	}
}

func (b *bot) ack(t *testing.T, evt socketmode.Event, payload ...any) {
	t.Helper()
	require.NotNil(t, evt.Request, "event %s has no request", evt.Type)
	require.NoError(t, b.client.Ack(*evt.Request, payload...))
}

func startConnected(t *testing.T, opts fakeslack.Options) (*fakeslack.Server, *bot, context.Context) {
	t.Helper()
	ctx := testContext(t)
	s := fakeslack.MustStart(t, opts)
	b := startBot(t, s, botConfig{})
	require.NoError(t, s.WaitConnected(ctx, 1))
	return s, b, ctx
}

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

func approvalBlocks() []slack.Block {
	return []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "Approval needed", false, true), nil, nil),
		slack.NewActionBlock("approval",
			slack.NewButtonBlockElement("approve", "prompt-42", slack.NewTextBlockObject("plain_text", "Approve", false, false)),
			slack.NewButtonBlockElement("refuse", "prompt-42", slack.NewTextBlockObject("plain_text", "Refuse", false, false)),
		),
	}
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

func TestWebAPICallsRecorded(t *testing.T) {
	s, b, ctx := startConnected(t, fakeslack.Options{})
	s.SetUserGroup("S0APPROVERS", "U0ALICE", "U0BOB")

	auth, err := b.api.AuthTest()
	require.NoError(t, err)
	assert.Equal(t, fakeslack.BotUserID, auth.UserID)
	assert.Equal(t, fakeslack.BotID, auth.BotID)

	ch, ts, err := b.api.PostMessage("C0REL", slack.MsgOptionText("Approval needed", false),
		slack.MsgOptionBlocks(approvalBlocks()...), slack.MsgOptionTS("1690000000.000100"))
	require.NoError(t, err)
	assert.Equal(t, "C0REL", ch)
	assert.Regexp(t, `^\d{10}\.\d{6}$`, ts)

	post := s.Calls("chat.postMessage")
	require.Len(t, post, 1)
	assert.Equal(t, fakeslack.DefaultBotToken, post[0].Token)
	assert.Equal(t, "C0REL", post[0].Params["channel"])
	assert.Equal(t, "Approval needed", post[0].Params["text"])
	assert.Equal(t, "1690000000.000100", post[0].Params["thread_ts"])
	assert.Contains(t, post[0].Params["blocks"], `"action_id":"approve"`)
	assert.NotContains(t, post[0].Params, "token")
	assert.Empty(t, post[0].Error)

	msg, ok := s.Message("C0REL", ts)
	require.True(t, ok)
	assert.Equal(t, "Approval needed", msg.Text)
	assert.Equal(t, "1690000000.000100", msg.ThreadTS)
	assert.JSONEq(t, post[0].Params["blocks"], string(msg.Blocks))

	ets, err := b.api.PostEphemeral("C0REL", "U0BOB", slack.MsgOptionText("only you", false))
	require.NoError(t, err)
	assert.NotEmpty(t, ets)
	eph, err := s.WaitCall(ctx, "chat.postEphemeral", func(c fakeslack.Call) bool { return c.Params["user"] == "U0BOB" })
	require.NoError(t, err)
	assert.Equal(t, "only you", eph.Params["text"])

	_, _, _, err = b.api.UpdateMessage("C0REL", ts, slack.MsgOptionText("Approved by bob", false), slack.MsgOptionBlocks())
	require.NoError(t, err)
	msg, ok = s.Message("C0REL", ts)
	require.True(t, ok)
	assert.Equal(t, "Approved by bob", msg.Text)
	assert.JSONEq(t, `[]`, string(msg.Blocks))
	assert.Equal(t, 1, msg.Edits)
	assert.Len(t, s.Messages("C0REL"), 1)

	env, err := s.SendSlashCommand(ctx, fakeslack.SlashCommand{})
	require.NoError(t, err)
	view, err := b.api.OpenView(env.TriggerID, slack.ModalViewRequest{
		Type:       slack.VTModal,
		Title:      slack.NewTextBlockObject("plain_text", "Refuse", false, false),
		CallbackID: "refuse_reason",
		Blocks:     slack.Blocks{BlockSet: []slack.Block{slack.NewDividerBlock()}},
	})
	require.NoError(t, err)
	assert.Equal(t, "refuse_reason", view.CallbackID)
	open := s.Calls("views.open")
	require.Len(t, open, 1)
	assert.Equal(t, fakeslack.DefaultBotToken, open[0].Token, "views.open sends the token as Bearer")
	assert.Equal(t, env.TriggerID, open[0].Params["trigger_id"])
	assert.JSONEq(t, `{"type":"modal","title":{"type":"plain_text","text":"Refuse","emoji":false},"blocks":[{"type":"divider"}],"callback_id":"refuse_reason"}`,
		open[0].Params["view"])
	assert.Contains(t, string(open[0].Response), view.ID)

	members, err := b.api.GetUserGroupMembers("S0APPROVERS")
	require.NoError(t, err)
	assert.Equal(t, []string{"U0ALICE", "U0BOB"}, members)
	assert.Equal(t, "S0APPROVERS", s.Calls("usergroups.users.list")[0].Params["usergroup"])

	assert.Equal(t, map[string]int{
		"apps.connections.open": 1, "auth.test": 1, "chat.postMessage": 1, "chat.postEphemeral": 1,
		"chat.update": 1, "views.open": 1, "usergroups.users.list": 1,
	}, s.CallCount())
}

// clock is a settable clock for trigger expiry.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func modal(title string, metadata string, blocks ...slack.Block) slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		Title:           slack.NewTextBlockObject("plain_text", title, false, false),
		PrivateMetadata: metadata,
		Blocks:          slack.Blocks{BlockSet: append([]slack.Block{slack.NewDividerBlock()}, blocks...)},
	}
}

func dividers(n int) []slack.Block {
	out := make([]slack.Block, n)
	for i := range out {
		out[i] = slack.NewDividerBlock()
	}
	return out
}

func section(n int) slack.Block {
	return slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", strings.Repeat("a", n), false, false), nil, nil)
}

func button(valueLen int) slack.Block {
	return slack.NewActionBlock("a", slack.NewButtonBlockElement("approve", strings.Repeat("v", valueLen),
		slack.NewTextBlockObject("plain_text", "Approve", false, false)))
}

func TestWebAPIErrors(t *testing.T) {
	clk := &clock{now: time.Unix(1700000000, 0)}
	s, b, ctx := startConnected(t, fakeslack.Options{TriggerTTL: 3 * time.Second, Now: clk.Now})
	trigger := func(t *testing.T) string {
		t.Helper()
		env, err := s.SendSlashCommand(ctx, fakeslack.SlashCommand{})
		require.NoError(t, err)
		return env.TriggerID
	}
	post := func(blocks ...slack.Block) error {
		_, _, err := b.api.PostMessage("C0REL", slack.MsgOptionText("x", false), slack.MsgOptionBlocks(blocks...))
		return err
	}

	tests := []struct {
		name    string
		call    func(t *testing.T) error
		wantErr string // Slack error code; "" for success
	}{
		{"FailNext", func(t *testing.T) error {
			s.FailNext("chat.postMessage", "channel_not_found")
			return post()
		}, "channel_not_found"},
		{"FailNext is used once", func(t *testing.T) error { return post() }, ""},
		{"unknown usergroup", func(t *testing.T) error {
			_, err := b.api.GetUserGroupMembers("S0NOPE")
			return err
		}, "no_such_subteam"},
		{"update unknown message", func(t *testing.T) error {
			_, _, _, err := b.api.UpdateMessage("C0REL", "1.000000", slack.MsgOptionText("x", false))
			return err
		}, "message_not_found"},
		{"post without text or blocks", func(t *testing.T) error {
			_, _, err := b.api.PostMessage("C0REL")
			return err
		}, "no_text"},
		{"50 blocks", func(t *testing.T) error { return post(dividers(50)...) }, ""},
		{"51 blocks", func(t *testing.T) error { return post(dividers(51)...) }, "invalid_blocks"},
		{"section text 3000", func(t *testing.T) error { return post(section(3000)) }, ""},
		{"section text 3001", func(t *testing.T) error { return post(section(3001)) }, "invalid_blocks"},
		{"empty section text", func(t *testing.T) error { return post(section(0)) }, "invalid_blocks"},
		{"button value 2000", func(t *testing.T) error { return post(button(2000)) }, ""},
		{"button value 2001", func(t *testing.T) error { return post(button(2001)) }, "invalid_blocks"},
		{"unknown trigger", func(t *testing.T) error {
			_, err := b.api.OpenView("1.2.3", modal("Refuse", ""))
			return err
		}, "invalid_trigger_id"},
		{"used trigger", func(t *testing.T) error {
			tr := trigger(t)
			_, err := b.api.OpenView(tr, modal("Refuse", ""))
			require.NoError(t, err)
			_, err = b.api.OpenView(tr, modal("Refuse", ""))
			return err
		}, "exchanged_trigger_id"},
		{"expired trigger", func(t *testing.T) error {
			tr := trigger(t)
			clk.Advance(3*time.Second + time.Millisecond)
			_, err := b.api.OpenView(tr, modal("Refuse", ""))
			return err
		}, "expired_trigger_id"},
		{"modal title 24", func(t *testing.T) error {
			_, err := b.api.OpenView(trigger(t), modal(strings.Repeat("t", 24), ""))
			return err
		}, ""},
		{"modal title 25", func(t *testing.T) error {
			_, err := b.api.OpenView(trigger(t), modal(strings.Repeat("t", 25), ""))
			return err
		}, "invalid_arguments"},
		{"private_metadata 3001", func(t *testing.T) error {
			_, err := b.api.OpenView(trigger(t), modal("Refuse", strings.Repeat("m", 3001)))
			return err
		}, "invalid_arguments"},
		{"input without submit", func(t *testing.T) error {
			_, err := b.api.OpenView(trigger(t), modal("Refuse", "", slack.NewInputBlock("reason",
				slack.NewTextBlockObject("plain_text", "Reason", false, false), nil,
				slack.NewPlainTextInputBlockElement(nil, "reason_input"))))
			return err
		}, "invalid_arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(t)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			var slackErr slack.SlackErrorResponse
			require.ErrorAs(t, err, &slackErr)
			assert.Equal(t, tt.wantErr, slackErr.Err)
		})
	}
}

func TestRateLimitScopeAndAuth(t *testing.T) {
	ctx := testContext(t)
	s := fakeslack.MustStart(t, fakeslack.Options{Scopes: []string{"commands", "chat:write"}})
	b := newAPIBot(t, s, fakeslack.DefaultBotToken, "")

	t.Run("RateLimitNext", func(t *testing.T) {
		s.RateLimitNext("chat.postMessage", 7)
		_, _, err := b.api.PostMessage("C0REL", slack.MsgOptionText("x", false))
		var rl *slack.RateLimitedError
		require.ErrorAs(t, err, &rl)
		assert.Equal(t, 7*time.Second, rl.RetryAfter)
		got, err := s.WaitCall(ctx, "chat.postMessage", nil)
		require.NoError(t, err)
		assert.Equal(t, http.StatusTooManyRequests, got.Status)

		_, _, err = b.api.PostMessage("C0REL", slack.MsgOptionText("x", false))
		assert.NoError(t, err, "only the next call is limited")
	})
	t.Run("missing_scope", func(t *testing.T) {
		_, err := b.api.GetUserGroupMembers("S0APPROVERS")
		var slackErr slack.SlackErrorResponse
		require.ErrorAs(t, err, &slackErr)
		assert.Equal(t, "missing_scope", slackErr.Err)
		assert.Equal(t, "usergroups:read", slackErr.Needed)
		assert.Equal(t, "chat:write,commands", slackErr.Provided)
	})
	t.Run("invalid_auth", func(t *testing.T) {
		bad := newAPIBot(t, s, "xoxb-wrong", "")
		_, err := bad.api.AuthTest()
		var slackErr slack.SlackErrorResponse
		require.ErrorAs(t, err, &slackErr)
		assert.Equal(t, "invalid_auth", slackErr.Err)
	})
	t.Run("truncated text", func(t *testing.T) {
		// slack-go's OptionOnWarning does not see chat.postMessage answers, so check the recorded one.
		ch, ts, err := b.api.PostMessage("C0REL", slack.MsgOptionText(strings.Repeat("é", 40001), false))
		require.NoError(t, err)
		msg, ok := s.Message(ch, ts)
		require.True(t, ok)
		assert.Equal(t, 40000, len([]rune(msg.Text)))
		got, err := s.WaitCall(ctx, "chat.postMessage", func(c fakeslack.Call) bool { return strings.Contains(string(c.Response), ts) })
		require.NoError(t, err)
		assert.Contains(t, string(got.Response), `"warnings":["message_truncated"]`)
	})
}

// TestRawWebAPI covers requests slack-go cannot be made to send.
func TestRawWebAPI(t *testing.T) {
	s := fakeslack.MustStart(t, fakeslack.Options{})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}

	tests := []struct {
		name, method string
		form         map[string]string
		wantErr      string
	}{
		{"unknown method", "chat.nope", map[string]string{"token": fakeslack.DefaultBotToken}, "unknown_method"},
		{"no token", "auth.test", nil, "not_authed"},
		{"app token on a bot method", "auth.test", map[string]string{"token": fakeslack.DefaultAppToken}, "not_allowed_token_type"},
		{"blocks not an array", "chat.postMessage", map[string]string{
			"token": fakeslack.DefaultBotToken, "channel": "C0REL", "text": "x", "blocks": `{"type":"divider"}`,
		}, "invalid_blocks"},
		{"blocks not JSON", "chat.postMessage", map[string]string{
			"token": fakeslack.DefaultBotToken, "channel": "C0REL", "text": "x", "blocks": `[{`,
		}, "invalid_blocks"},
		{"duplicate block_id", "chat.postMessage", map[string]string{
			"token": fakeslack.DefaultBotToken, "channel": "C0REL", "text": "x",
			"blocks": `[{"type":"divider","block_id":"a"},{"type":"divider","block_id":"a"}]`,
		}, "invalid_blocks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vals := make(map[string][]string)
			for k, v := range tt.form {
				vals[k] = []string{v}
			}
			resp, err := hc.PostForm(s.APIURL()+tt.method, vals)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			var body struct {
				OK    bool   `json:"ok"`
				Error string `json:"error"`
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			assert.False(t, body.OK)
			assert.Equal(t, tt.wantErr, body.Error)
		})
	}
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

func TestResponseURL(t *testing.T) {
	s, b, ctx := startConnected(t, fakeslack.Options{})

	t.Run("ephemeral post and the 5-use limit", func(t *testing.T) {
		env, err := s.SendSlashCommand(ctx, fakeslack.SlashCommand{Text: "help"})
		require.NoError(t, err)
		for i := range 5 {
			_, _, err := b.api.PostMessage("", slack.MsgOptionResponseURL(env.ResponseURL, slack.ResponseTypeEphemeral),
				slack.MsgOptionText("x", false))
			require.NoError(t, err, "use %d", i+1)
		}
		_, _, err = b.api.PostMessage("", slack.MsgOptionResponseURL(env.ResponseURL, slack.ResponseTypeEphemeral),
			slack.MsgOptionText("x", false))
		var status slack.StatusCodeError
		require.ErrorAs(t, err, &status)
		assert.Equal(t, http.StatusNotFound, status.Code)

		got, err := s.WaitCall(ctx, fakeslack.ResponseURLMethod, func(c fakeslack.Call) bool { return c.URL == env.ResponseURL })
		require.NoError(t, err)
		assert.Equal(t, "x", got.Params["text"])
		assert.Equal(t, "ephemeral", got.Params["response_type"])
		assert.Empty(t, got.Token, "response_url posts carry no token")
		assert.Len(t, s.Calls(fakeslack.ResponseURLMethod), 6)
		assert.Empty(t, s.Messages("C0REL"), "ephemeral replies are not channel messages")
	})

	t.Run("in_channel and replace_original", func(t *testing.T) {
		_, ts, err := b.api.PostMessage("C0REL", slack.MsgOptionText("Approval needed", false), slack.MsgOptionBlocks(approvalBlocks()...))
		require.NoError(t, err)
		env, err := s.SendClick(ctx, fakeslack.Click{MessageTS: ts, ActionID: "approve"})
		require.NoError(t, err)

		_, _, err = b.api.PostMessage("", slack.MsgOptionResponseURL(env.ResponseURL, slack.ResponseTypeInChannel),
			slack.MsgOptionReplaceOriginal(env.ResponseURL), slack.MsgOptionText("Approved", false))
		require.NoError(t, err)
		msg, ok := s.Message("C0REL", ts)
		require.True(t, ok)
		assert.Equal(t, "Approved", msg.Text)
		assert.Nil(t, msg.Blocks)

		_, _, err = b.api.PostMessage("", slack.MsgOptionResponseURL(env.ResponseURL, slack.ResponseTypeInChannel),
			slack.MsgOptionText("Started", false))
		require.NoError(t, err)
		msgs := s.Messages("C0REL")
		require.Len(t, msgs, 2)
		assert.Equal(t, "Started", msgs[1].Text)

		_, _, err = b.api.PostMessage("", slack.MsgOptionDeleteOriginal(env.ResponseURL))
		require.NoError(t, err)
		_, ok = s.Message("C0REL", ts)
		assert.False(t, ok, "delete_original removes the source message")
	})
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

func TestMethodScopes(t *testing.T) {
	assert.Equal(t, map[string]string{
		"apps.connections.open": "",
		"auth.test":             "",
		"chat.postMessage":      "chat:write",
		"chat.postEphemeral":    "chat:write",
		"chat.update":           "chat:write",
		"views.open":            "",
		"usergroups.users.list": "usergroups:read",
		// files.go
		"conversations.open":           "im:write",
		"files.getUploadURLExternal":   "files:write",
		"files.completeUploadExternal": "files:write",
	}, fakeslack.MethodScopes)
}

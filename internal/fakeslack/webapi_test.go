package fakeslack_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/internal/fakeslack"
)

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

func TestMethodScopes(t *testing.T) {
	assert.Equal(t, map[string]string{
		"apps.connections.open":        "",
		"auth.test":                    "",
		"chat.postMessage":             "chat:write",
		"chat.postEphemeral":           "chat:write",
		"chat.update":                  "chat:write",
		"conversations.open":           "im:write",
		"files.getUploadURLExternal":   "files:write",
		"files.completeUploadExternal": "files:write",
		"views.open":                   "",
		"views.publish":                "",
		"usergroups.users.list":        "usergroups:read",
	}, fakeslack.MethodScopes)
	assert.Equal(t, []string{"chat:write", "commands", "files:write", "im:write", "usergroups:read"}, fakeslack.AllScopes())
}

// TestForget: what was recorded is dropped but still counted; an envelope
// not yet acknowledged stays, and one handed out still gives its ack.
func TestForget(t *testing.T) {
	s, b, ctx := startConnected(t, fakeslack.Options{})
	_, ts, err := b.api.PostMessage("C0REL", slack.MsgOptionText("one", false))
	require.NoError(t, err)
	acked, err := s.SendSlashCommand(ctx, fakeslack.SlashCommand{Text: "status"})
	require.NoError(t, err)
	b.ack(t, b.next(t, ctx, socketmode.EventTypeSlashCommand))
	_, err = acked.Ack(ctx)
	require.NoError(t, err)
	waiting, err := s.SendSlashCommand(ctx, fakeslack.SlashCommand{Text: "list"})
	require.NoError(t, err)
	pending := b.next(t, ctx, socketmode.EventTypeSlashCommand)

	s.Forget()
	assert.Empty(t, s.Calls(""), "calls dropped")
	assert.Equal(t, 1, s.CallCount()["chat.postMessage"], "still counted")
	_, ok := s.Message("C0REL", ts)
	assert.False(t, ok, "messages dropped")
	assert.Empty(t, s.Acks())
	assert.Equal(t, []string{waiting.ID}, envelopeIDs(s.Unacked()), "the envelope not yet acknowledged stays")
	a, err := acked.Ack(ctx)
	require.NoError(t, err, "an envelope handed out still gives its ack")
	assert.Equal(t, acked.ID, a.EnvelopeID)

	b.ack(t, pending)
	_, err = waiting.Ack(ctx)
	require.NoError(t, err)
	_, _, err = b.api.PostMessage("C0REL", slack.MsgOptionText("two", false))
	require.NoError(t, err)
	require.NoError(t, s.WaitCount(ctx, "chat.postMessage", 2), "forgotten calls count")
	c, err := s.WaitCall(ctx, "chat.postMessage", nil)
	require.NoError(t, err)
	assert.Equal(t, "two", c.Params["text"], "WaitCall sees only what was not forgotten")
}

func envelopeIDs(es []*fakeslack.Envelope) []string {
	var ids []string
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
}

package bot_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/bot"
	"github.com/releasebot/releasebot/internal/fakeslack"
)

// newReplier returns a bot that is not run (the reply helpers need no
// socket) and the fake Slack it talks to.
func newReplier(t *testing.T) (*bot.Bot, *fakeslack.Server, context.Context) {
	t.Helper()
	s := fakeslack.MustStart(t, fakeslack.Options{})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	b := bot.New(bot.Config{
		BotToken: fakeslack.DefaultBotToken, AppToken: fakeslack.DefaultAppToken,
		APIURL: s.APIURL(), HTTPClient: &http.Client{Transport: tr},
	}, zerolog.Nop())
	return b, s, testContext(t)
}

func section(text string) slack.Block {
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.PlainTextType, text, false, false), nil, nil)
}

const sectionJSON = `[{"type":"section","text":{"type":"plain_text","text":"Releasing (4)","emoji":false}}]`

// only returns the single recorded call to method, which must have
// succeeded and carried the bot token (a response_url post: no token).
func only(t *testing.T, s *fakeslack.Server, method string) fakeslack.Call {
	t.Helper()
	calls := s.Calls(method)
	require.Len(t, calls, 1, "calls to %s", method)
	c := calls[0]
	token := fakeslack.DefaultBotToken
	if method == fakeslack.ResponseURLMethod {
		token = ""
	}
	assert.Equal(t, token, c.Token, "the token sent with %s", method)
	assert.Empty(t, c.Error, "%s answered", method)
	return c
}

func TestPost(t *testing.T) {
	b, s, ctx := newReplier(t)
	m := bot.Message{Text: "web-api: Releasing (4)", Blocks: []slack.Block{section("Releasing (4)")}, ThreadTS: "1700000000.000100"}
	ts, err := b.Post(ctx, "C0REL", m)
	require.NoError(t, err)

	c := only(t, s, "chat.postMessage")
	assert.Equal(t, "C0REL", c.Params["channel"])
	assert.Equal(t, "web-api: Releasing (4)", c.Params["text"])
	assert.JSONEq(t, sectionJSON, c.Params["blocks"])
	assert.Equal(t, "1700000000.000100", c.Params["thread_ts"])
	posted, ok := s.Message("C0REL", ts)
	require.True(t, ok, "the returned ts names the posted message")
	assert.Equal(t, "1700000000.000100", posted.ThreadTS)

	_, err = b.Post(ctx, "C0REL", bot.Message{Text: "no blocks"})
	require.NoError(t, err)
	c = s.Calls("chat.postMessage")[1]
	assert.NotContains(t, c.Params, "blocks")
	assert.NotContains(t, c.Params, "thread_ts")
}

func TestPostEphemeral(t *testing.T) {
	b, s, ctx := newReplier(t)
	require.NoError(t, b.PostEphemeral(ctx, "C0REL", "U0BOB", bot.Message{Text: "denied", Blocks: []slack.Block{section("Releasing (4)")}}))
	c := only(t, s, "chat.postEphemeral")
	assert.Equal(t, map[string]string{"channel": "C0REL", "user": "U0BOB", "text": "denied", "blocks": c.Params["blocks"]}, c.Params)
	assert.JSONEq(t, sectionJSON, c.Params["blocks"])
	assert.Empty(t, s.Messages("C0REL"), "an ephemeral message is no channel message")
}

func TestUpdate(t *testing.T) {
	b, s, ctx := newReplier(t)
	ts, err := b.Post(ctx, "C0REL", bot.Message{Text: "Queued"})
	require.NoError(t, err)
	require.NoError(t, b.Update(ctx, "C0REL", ts, bot.Message{Text: "Releasing (4)", Blocks: []slack.Block{section("Releasing (4)")}}))

	c := only(t, s, "chat.update")
	assert.Equal(t, "C0REL", c.Params["channel"])
	assert.Equal(t, ts, c.Params["ts"])
	m, ok := s.Message("C0REL", ts)
	require.True(t, ok)
	assert.Equal(t, "Releasing (4)", m.Text)
	assert.JSONEq(t, sectionJSON, string(m.Blocks))
	assert.Equal(t, 1, m.Edits)

	err = b.Update(ctx, "C0REL", "1.000000", bot.Message{Text: "x"})
	assert.EqualError(t, err, "chat.update: message_not_found")
}

// commandEnvelope runs a bot and delivers a slash command, for its
// response_url and trigger_id.
func commandEnvelope(t *testing.T) (*harness, *fakeslack.Envelope) {
	t.Helper()
	hs := start(t, bot.Config{Workers: 1}, newHandler(nil))
	env := hs.command(t, "rollback web")
	hs.ack(t, env)
	return hs, env
}

func TestRespond(t *testing.T) {
	hs, env := commandEnvelope(t)
	m := bot.Message{Text: "Only operators may roll back.", Blocks: []slack.Block{section("Releasing (4)")}}
	require.NoError(t, hs.bot.Respond(hs.ctx, env.ResponseURL, m))

	c := only(t, hs.slack, fakeslack.ResponseURLMethod)
	assert.Equal(t, env.ResponseURL, c.URL)
	assert.Equal(t, "ephemeral", c.Params["response_type"])
	assert.Equal(t, "Only operators may roll back.", c.Params["text"])
	assert.JSONEq(t, sectionJSON, c.Params["blocks"])
	assert.Empty(t, hs.slack.Messages(fakeslack.DefaultChannelID), "nothing is posted to the channel")

	err := hs.bot.Respond(hs.ctx, "", m)
	assert.EqualError(t, err, "no response_url")
	assert.Len(t, hs.slack.Calls(fakeslack.ResponseURLMethod), 1, "no request without a response_url")
}

// TestRespondErrorsHideTheURL: a response_url lets anyone post to the user
// for 30 minutes, so no error quotes it, whatever failed.
func TestRespondErrorsHideTheURL(t *testing.T) {
	hs, env := commandEnvelope(t)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // connections are refused from now on
	cancelled, cancel := context.WithCancel(hs.ctx)
	cancel()

	cases := []struct {
		name string
		ctx  context.Context
		url  string
		is   error
	}{
		{"connection refused", hs.ctx, gone.URL + "/response/T0TEAM-1-secret", nil},
		{"cancelled", cancelled, env.ResponseURL, context.Canceled},
		{"expired", hs.ctx, hs.slack.URL() + "/response/T0TEAM-2-secret", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := hs.bot.Respond(tc.ctx, tc.url, bot.Message{Text: "x"})
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), "response_url: "), err.Error())
			assert.NotContains(t, err.Error(), "/response/")
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
		})
	}
}

func TestOpenModal(t *testing.T) {
	hs, env := commandEnvelope(t)
	v := slack.ModalViewRequest{
		Type:            slack.VTModal,
		Title:           slack.NewTextBlockObject(slack.PlainTextType, "Roll back web", false, false),
		Submit:          slack.NewTextBlockObject(slack.PlainTextType, "Roll back", false, false),
		Blocks:          slack.Blocks{BlockSet: []slack.Block{section("Releasing (4)")}},
		CallbackID:      "rollback_confirm",
		PrivateMetadata: "task-1",
	}
	require.NoError(t, hs.bot.OpenModal(hs.ctx, env.TriggerID, v))
	c := only(t, hs.slack, "views.open")
	assert.Equal(t, env.TriggerID, c.Params["trigger_id"])
	assert.Contains(t, c.Params["view"], `"callback_id":"rollback_confirm"`)
	assert.Contains(t, c.Params["view"], `"private_metadata":"task-1"`)

	err := hs.bot.OpenModal(hs.ctx, env.TriggerID, v)
	assert.EqualError(t, err, "views.open: exchanged_trigger_id", "a trigger opens one modal")
}

func TestUserGroupMembers(t *testing.T) {
	b, s, ctx := newReplier(t)
	s.SetUserGroup("S0OPS", "U0ALICE", "U0BOB")
	users, err := b.UserGroupMembers(ctx, "S0OPS")
	require.NoError(t, err)
	assert.Equal(t, []string{"U0ALICE", "U0BOB"}, users)
	assert.Equal(t, "S0OPS", only(t, s, "usergroups.users.list").Params["usergroup"])

	_, err = b.UserGroupMembers(ctx, "S0NONE")
	assert.EqualError(t, err, "usergroups.users.list: no_such_subteam")
}

// replies are the helpers retried after a rate limit, each with the Web API
// method it calls.
var replies = []struct {
	method string
	call   func(ctx context.Context, b *bot.Bot) error
}{
	{"chat.postMessage", func(ctx context.Context, b *bot.Bot) error {
		_, err := b.Post(ctx, "C0REL", bot.Message{Text: "Releasing (4)"})
		return err
	}},
	{"chat.postEphemeral", func(ctx context.Context, b *bot.Bot) error {
		return b.PostEphemeral(ctx, "C0REL", "U0BOB", bot.Message{Text: "denied"})
	}},
	{"chat.update", func(ctx context.Context, b *bot.Bot) error {
		return b.Update(ctx, "C0REL", "1700000000.000100", bot.Message{Text: "Succeeded (2)"})
	}},
	{"usergroups.users.list", func(ctx context.Context, b *bot.Bot) error {
		_, err := b.UserGroupMembers(ctx, "S0OPS")
		return err
	}},
}

// TestRetryAfter: each helper waits Slack's Retry-After once rate limited,
// then tries again.
func TestRetryAfter(t *testing.T) {
	for _, r := range replies {
		t.Run(r.method, func(t *testing.T) {
			t.Parallel()
			b, s, ctx := newReplier(t)
			s.SetUserGroup("S0OPS", "U0BOB")
			_, err := b.Post(ctx, "C0REL", bot.Message{Text: "Queued"}) // the message chat.update edits
			require.NoError(t, err)

			before := len(s.Calls(r.method))
			s.RateLimitNext(r.method, 1)
			require.NoError(t, r.call(ctx, b))
			calls := s.Calls(r.method)[before:]
			require.Len(t, calls, 2)
			assert.Equal(t, http.StatusTooManyRequests, calls[0].Status)
			assert.Empty(t, calls[1].Error)
			assert.GreaterOrEqual(t, calls[1].At.Sub(calls[0].At), time.Second, "tried again before Retry-After")
		})
	}
}

// TestRetryAfterLimits: three attempts at most, none when Slack asks for
// more than 30 s, and none once the caller's context is done.
func TestRetryAfterLimits(t *testing.T) {
	post := replies[0].call
	t.Run("three attempts", func(t *testing.T) {
		t.Parallel()
		b, s, ctx := newReplier(t)
		for range 3 {
			s.RateLimitNext("chat.postMessage", 1)
		}
		err := post(ctx, b)
		var rl *slack.RateLimitedError
		require.ErrorAs(t, err, &rl)
		assert.True(t, strings.HasPrefix(err.Error(), "chat.postMessage: "), err.Error())
		assert.Len(t, s.Calls("chat.postMessage"), 3)
	})
	t.Run("Retry-After over 30 s", func(t *testing.T) {
		t.Parallel()
		b, s, ctx := newReplier(t)
		s.RateLimitNext("chat.postMessage", 31)
		err := post(ctx, b)
		var rl *slack.RateLimitedError
		require.ErrorAs(t, err, &rl)
		assert.Equal(t, 31*time.Second, rl.RetryAfter)
		assert.Len(t, s.Calls("chat.postMessage"), 1)
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		t.Parallel()
		b, s, ctx := newReplier(t)
		// Longer than the test's deadline: only the cancellation can end the wait.
		s.RateLimitNext("chat.postMessage", 25)
		callCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- post(callCtx, b) }()
		_, err := s.WaitCall(ctx, "chat.postMessage", nil)
		require.NoError(t, err)
		cancel()
		select {
		case err := <-done:
			require.Error(t, err)
		case <-ctx.Done():
			t.Fatal("Post still waits after its context was cancelled")
		}
		assert.Len(t, s.Calls("chat.postMessage"), 1)
	})
}

// TestSlackErrors: Slack's error code is returned with the method's name.
func TestSlackErrors(t *testing.T) {
	for _, r := range replies {
		t.Run(r.method, func(t *testing.T) {
			b, s, ctx := newReplier(t)
			s.FailNext(r.method, "channel_not_found")
			err := r.call(ctx, b)
			assert.EqualError(t, err, r.method+": channel_not_found")
			assert.NotContains(t, err.Error(), fakeslack.DefaultBotToken)
			assert.Len(t, s.Calls(r.method), 1, "other errors are not retried")
		})
	}
}

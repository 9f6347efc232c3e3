package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/internal/fakeslack"
)

func TestE2EHealthReadinessMetrics(t *testing.T) {
	h := startBot(t, following)
	assert.Equal(t, http.StatusOK, getStatus(t, "http://"+h.addr+"/healthz"))
	assert.Equal(t, http.StatusOK, getStatus(t, "http://"+h.addr+"/readyz"))

	h.command(t, alice, "start payments-api")
	ts := h.tsOf(t, h.posted(t, "started *payments-api*")).Params["ts"]
	h.command(t, mallory, "start web-frontend")
	h.reply(t, mallory, "Only operators may operate release tasks")
	h.command(t, alice, "<!here>")
	h.reply(t, alice, "Unknown command")
	h.clock.Advance(time.Minute)
	prompt := h.tsOf(t, h.threadReply(t, ts, "Approval needed"))
	h.click(t, bob, prompt, "approve")
	h.updated(t, "approved by")
	h.logged(t, `"verb":"click:approve"`)

	m := h.metricsText(t)
	for _, want := range []string{
		`releasebot_commands_total{outcome="ok",verb="start"} 1`,
		`releasebot_commands_total{outcome="denied",verb="start"} 1`,
		`releasebot_commands_total{outcome="usage",verb="invalid"} 1`,
		`releasebot_commands_total{outcome="ok",verb="click:approve"} 1`,
		`releasebot_upstream_request_duration_seconds_count{operation="action:start",status="200"} 1`,
		`releasebot_upstream_request_duration_seconds_count{operation="action:approval",status="200"} 1`,
		`releasebot_decisions_total{decision="agree"} 1`,
		`releasebot_followed_executions 1`,
		`releasebot_slack_reconnects_total 0`,
	} {
		assert.Contains(t, m, want)
	}
	assert.Regexp(t, `releasebot_ack_latency_seconds_count [1-9]`, m)
	assert.NotContains(t, m, "here", "what a user typed never becomes a label")
}

func TestE2EReconnects(t *testing.T) {
	tests := []struct {
		name string
		cut  func(s *fakeslack.Server)
	}{
		{"refresh requested", func(s *fakeslack.Server) { s.Disconnect("refresh_requested") }},
		{"dropped without a word", func(s *fakeslack.Server) { s.Drop() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startBot(t, nil)
			// Work acknowledged before the cut is still finished.
			h.up.mu.Lock()
			h.up.hold, h.up.held = make(chan struct{}), make(chan struct{}, 1)
			release := h.up.hold
			h.up.mu.Unlock()
			h.command(t, alice, "start web-frontend")
			<-h.up.held
			// Slack will refuse the next connections a few times: the bot is
			// not ready meanwhile.
			for range 3 {
				h.slack.FailNext("apps.connections.open", "internal_error")
			}
			tt.cut(h.slack)
			require.Eventually(t, func() bool { return getStatus(t, "http://"+h.addr+"/readyz") == http.StatusServiceUnavailable },
				10*time.Second, time.Millisecond, "/readyz follows the connection")
			h.up.mu.Lock()
			h.up.hold = nil
			h.up.mu.Unlock()
			close(release)
			h.posted(t, "started *web-frontend*")

			require.Eventually(t, func() bool { return getStatus(t, "http://"+h.addr+"/readyz") == http.StatusOK },
				20*time.Second, 5*time.Millisecond, "ready again once reconnected")
			assert.GreaterOrEqual(t, h.slack.Opens(), 2)
			h.command(t, alice, "status web-frontend")
			h.reply(t, alice, "web-frontend")
			assert.Contains(t, h.metricsText(t), "releasebot_slack_reconnects_total 1")
		})
	}
}

func TestE2EShutdownFinishesInFlightWork(t *testing.T) {
	h := newWorld(t, "sqlite")
	_, stop := h.start(t, nil)
	h.up.mu.Lock()
	h.up.hold, h.up.held = make(chan struct{}), make(chan struct{}, 1)
	release := h.up.hold
	h.up.mu.Unlock()
	h.command(t, alice, "start web-frontend")
	<-h.up.held

	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }() // SIGTERM: run's context ends
	require.Eventually(t, func() bool { return h.slack.Connections() == 0 }, 10*time.Second, time.Millisecond,
		"the socket closes: no new work")
	select {
	case <-stopped:
		t.Fatal("run returned while a command was in flight")
	default:
	}
	close(release)
	<-stopped
	h.posted(t, "started *web-frontend*")
}

func TestE2ESlackFaults(t *testing.T) {
	t.Run("not in the channel: a private reply through response_url", func(t *testing.T) {
		h := startBot(t, nil)
		h.slack.FailNext("chat.postMessage", "not_in_channel")
		h.slack.FailNext("chat.postEphemeral", "not_in_channel")
		h.command(t, alice, "start web-frontend")
		c, err := h.slack.WaitCall(waitCtx(t), "response_url", func(c fakeslack.Call) bool {
			return strings.Contains(string(c.JSON), "Releasing (4)")
		})
		require.NoError(t, err)
		assert.Contains(t, string(c.JSON), "invite it with")
		assert.Contains(t, string(c.JSON), `"response_type":"ephemeral"`)
		assert.Len(t, h.up.actions(), 1, "done once, not retried")
	})
	t.Run("channel not found for a private reply", func(t *testing.T) {
		h := startBot(t, nil)
		h.slack.FailNext("chat.postEphemeral", "channel_not_found")
		h.command(t, mallory, "start web-frontend")
		_, err := h.slack.WaitCall(waitCtx(t), "response_url", func(c fakeslack.Call) bool {
			return strings.Contains(string(c.JSON), "Only operators may operate release tasks")
		})
		require.NoError(t, err)
		assert.Empty(t, h.up.actions())
	})
	t.Run("rate limited: posted once after Retry-After", func(t *testing.T) {
		h := startBot(t, nil)
		h.slack.RateLimitNext("chat.postMessage", 1)
		h.command(t, alice, "start web-frontend")
		h.posted(t, "started *web-frontend*")
		var posted int
		for _, c := range h.slack.Calls("chat.postMessage") {
			if c.Error == "" {
				posted++
			}
		}
		assert.Equal(t, 1, posted)
		assert.Len(t, h.slack.Calls("chat.postMessage"), 2, "one refused, one after the wait")
		assert.Len(t, h.up.actions(), 1)
	})
}

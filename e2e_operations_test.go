package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/internal/fakeslack"
)

func TestE2EStartContinueRetry(t *testing.T) {
	h := startBot(t, nil)

	h.command(t, alice, "start web-frontend build:build-image")
	c := h.posted(t, "started *web-frontend*")
	assert.Contains(t, content(c), "Releasing (4)")
	assert.Contains(t, content(c), "<@"+alice+">")
	assert.Contains(t, content(c), "`286541`")
	require.Len(t, h.up.actions(), 1)
	assert.Contains(t, h.up.actions()[0], "action_id=start")

	h.command(t, alice, `start "data-pipeline"`)
	h.posted(t, "started *data-pipeline*")
	h.clock.Advance(time.Minute)
	h.command(t, alice, "status data-pipeline")
	h.reply(t, alice, "Paused (7)")
	h.command(t, alice, "continue data-pipeline")
	h.posted(t, "continued *data-pipeline*")

	h.command(t, alice, "start legacy-batch")
	h.posted(t, "started *legacy-batch*")
	h.clock.Advance(time.Minute)
	h.command(t, alice, "retry legacy-batch")
	c = h.posted(t, "retried *legacy-batch*")
	assert.Contains(t, content(c), "Restarting (14)")
	assert.Len(t, h.up.actions(), 5)
}

func TestE2EStopAndRollbackNeedConfirmation(t *testing.T) {
	forEachDriver(t, testE2EStopAndRollbackNeedConfirmation)
}

func testE2EStopAndRollbackNeedConfirmation(t *testing.T, driver string) {
	h := startBotOn(t, driver, map[string]string{"RELEASEBOT_OPERATORS": alice + "," + bob})

	h.command(t, alice, "start payments-api")
	h.posted(t, "started *payments-api*")

	h.command(t, alice, "stop pay")
	conf := h.tsOf(t, h.posted(t, "asks to *stop* *payments-api*"))
	assert.Len(t, h.up.actions(), 1, "nothing is sent before confirmation")

	h.click(t, mallory, conf, "confirm")
	h.reply(t, mallory, "Only operators may operate release tasks")
	assert.Len(t, h.up.actions(), 1)

	h.click(t, bob, conf, "confirm")
	h.updated(t, "confirmed by <@"+bob+">")
	h.posted(t, "stopped *payments-api*")
	require.Len(t, h.up.actions(), 2)
	assert.Contains(t, h.up.actions()[1], "action_id=stop")

	h.click(t, alice, conf, "confirm")
	h.reply(t, alice, "Already confirmed by <@"+bob+">")
	assert.Len(t, h.up.actions(), 2, "a confirmation is used once")

	h.clock.Advance(time.Minute)
	h.command(t, alice, "rollback payments-api")
	rb := h.tsOf(t, h.posted(t, "asks to *rollback* *payments-api*"))
	h.click(t, alice, rb, "cancel")
	h.updated(t, "cancelled by <@"+alice+">")
	h.click(t, bob, rb, "confirm")
	h.reply(t, bob, "Already cancelled")
	assert.Len(t, h.up.actions(), 2, "Cancel sends nothing")

	h.command(t, alice, "rollback payments-api")
	var rb2 fakeslack.Call
	require.Eventually(t, func() bool { return len(h.slack.Calls("chat.postMessage")) == 5 }, 10*time.Second, time.Millisecond)
	rb2 = h.slack.Calls("chat.postMessage")[4]
	rb2 = h.tsOf(t, rb2)
	h.click(t, bob, rb2, "confirm")
	h.posted(t, "rolled back *payments-api*")
	require.Len(t, h.up.actions(), 3)
	assert.Contains(t, h.up.actions()[2], "action_id=rollback")
}

func TestE2EUpstreamErrorIsPrivate(t *testing.T) {
	h := startBot(t, nil)
	h.up.mu.Lock()
	h.up.failNext = http.StatusBadRequest
	h.up.mu.Unlock()
	h.command(t, alice, "start web-frontend")
	c := h.reply(t, alice, "ServiceStage answered HTTP 400 `SVCSTG.00100500`")
	assert.Contains(t, content(c), "&lt;!here&gt;", "upstream text is escaped")
	assert.Len(t, h.up.actions(), 1, "the failed start is not retried")
	assert.Empty(t, h.slack.Calls("chat.postMessage"))
}

func TestE2EAckBeforeUpstream(t *testing.T) {
	h := startBot(t, nil)
	h.up.mu.Lock()
	h.up.hold, h.up.held = make(chan struct{}), make(chan struct{}, 1)
	h.up.mu.Unlock()
	env, err := h.slack.SendSlashCommand(waitCtx(t), fakeslack.SlashCommand{UserID: alice, ChannelID: channel, Text: "start web-frontend"})
	require.NoError(t, err)
	<-h.up.held // the start has reached the upstream, which now holds it
	_, err = env.Ack(waitCtx(t))
	require.NoError(t, err, "acknowledged while the upstream call is still in flight")
	assert.Empty(t, h.slack.Calls("chat.postMessage"))
	close(h.up.hold)
	h.posted(t, "started *web-frontend*")
}

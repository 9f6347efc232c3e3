package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/releasebot/releasebot/store/storetest"
)

func TestE2EFollowToTheEnd(t *testing.T) { forEachDriver(t, testE2EFollowToTheEnd) }

func testE2EFollowToTheEnd(t *testing.T, driver string) {
	h := startBotOn(t, driver, following)
	h.command(t, alice, "start web-frontend")
	msg := h.tsOf(t, h.posted(t, "started *web-frontend*"))
	ts := msg.Params["ts"]

	h.clock.Advance(5 * time.Second) // the build is done, the deploy runs: still Releasing (4)
	h.polls(t, 2)
	assert.Empty(t, h.slack.Calls("chat.update"), "no edit while the status stays the same")

	h.clock.Advance(time.Minute)
	edit := h.editOf(t, ts, "Released (2)")
	assert.Contains(t, content(edit), "started by <@"+alice+">")
	assert.Contains(t, content(edit), "Stages:")
	h.threadReply(t, ts, "finished: Released (2) after")

	var top int
	for _, c := range h.slack.Calls("chat.postMessage") {
		if c.Params["thread_ts"] == "" {
			top++
		}
	}
	assert.Equal(t, 1, top, "the channel gets edits, not new messages")
	assert.Len(t, h.slack.Calls("chat.update"), 1, "one edit per status change, none once finished")
}

func TestE2EFollowApprovalWaitAndPause(t *testing.T) {
	forEachDriver(t, testE2EFollowApprovalWaitAndPause)
}

func testE2EFollowApprovalWaitAndPause(t *testing.T, driver string) {
	h := startBotOn(t, driver, following)
	h.command(t, alice, "start payments-api")
	ts := h.tsOf(t, h.posted(t, "started *payments-api*")).Params["ts"]
	h.clock.Advance(time.Minute)
	h.editOf(t, ts, "Awaiting approval (5)")
	prompt := h.threadReply(t, ts, "Approval needed: *payments-api*")
	h.polls(t, 3)
	prompts := 0
	for _, c := range h.slack.Calls("chat.postMessage") {
		if strings.Contains(content(c), "Approval needed") {
			prompts++
		}
	}
	assert.Equal(t, 1, prompts, "one prompt per approval wait, not one per poll")

	prompt = h.tsOf(t, prompt)
	h.click(t, bob, prompt, "approve")
	h.updated(t, "approved by <@"+bob+">")
	h.clock.Advance(time.Minute)
	h.threadReply(t, ts, "finished: Released (2)")

	h.command(t, alice, "start data-pipeline")
	dts := h.tsOf(t, h.posted(t, "started *data-pipeline*")).Params["ts"]
	h.clock.Advance(time.Minute)
	h.editOf(t, dts, "Paused (7)")
	hint := h.tsOf(t, h.threadReply(t, dts, "is paused (7)"))
	h.click(t, mallory, hint, "confirm")
	h.reply(t, mallory, "Only operators may operate release tasks")
	h.click(t, alice, hint, "confirm")
	h.posted(t, "continued *data-pipeline*")
	h.clock.Advance(time.Minute)
	h.threadReply(t, dts, "finished: Released (2)")
}

func TestE2EFollowingResumesAfterRestart(t *testing.T) {
	forEachDriver(t, testE2EFollowingResumesAfterRestart)
}

func testE2EFollowingResumesAfterRestart(t *testing.T, driver string) {
	h := newWorld(t, driver)
	_, stop := h.start(t, following)
	h.command(t, alice, "start web-frontend")
	ts := h.tsOf(t, h.posted(t, "started *web-frontend*")).Params["ts"]
	h.logged(t, `"verb":"start"`)
	stop()
	h.clock.Advance(time.Minute)
	h.start(t, following)
	h.threadReply(t, ts, "finished: Released (2)")
}

func TestE2ETwoInstancesFollowOnce(t *testing.T) {
	if !contains(storetest.Drivers(), "postgres") {
		t.Fatalf("%s must be set: several replicas share PostgreSQL", storetest.PostgresEnv)
	}
	h := newWorld(t, "postgres")
	h.start(t, following)
	h.start(t, following)
	h.command(t, alice, "start web-frontend")
	ts := h.tsOf(t, h.posted(t, "started *web-frontend*")).Params["ts"]
	h.command(t, alice, "start data-pipeline")
	h.posted(t, "started *data-pipeline*")
	h.clock.Advance(time.Minute)
	h.threadReply(t, ts, "finished: Released (2)")
	h.posted(t, "is paused (7)")
	h.polls(t, 4)
	var finished, hints int
	for _, c := range h.slack.Calls("chat.postMessage") {
		if strings.Contains(content(c), "finished:") {
			finished++
		}
		if strings.Contains(content(c), "is paused (7)") {
			hints++
		}
	}
	assert.Equal(t, 1, finished, "one replica follows each execution")
	assert.Equal(t, 1, hints)
}

func TestE2EContinueHintWithdrawn(t *testing.T) {
	h := startBot(t, following)
	h.command(t, alice, "start data-pipeline")
	ts := h.tsOf(t, h.posted(t, "started *data-pipeline*")).Params["ts"]
	h.clock.Advance(time.Minute)
	hint := h.tsOf(t, h.threadReply(t, ts, "is paused (7)"))
	h.command(t, alice, "continue data-pipeline")
	h.posted(t, "continued *data-pipeline*")
	h.editOf(t, hint.Params["ts"], "is no longer paused")
	before := len(h.up.actions())
	h.click(t, alice, hint, "confirm")
	h.reply(t, alice, "no longer needed")
	assert.Len(t, h.up.actions(), before, "an old Continue button sends nothing")
}

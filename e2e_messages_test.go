package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Messages people can act on at 2 a.m. (SPEC §12).

func TestE2EAutomaticPromptNotifiesTheApprovers(t *testing.T) {
	h := startBot(t, map[string]string{"RELEASEBOT_POLL_INTERVAL": "1s", "RELEASEBOT_APPROVERS": bob + ",S0APPROVERS",
		"RELEASEBOT_REQUIRED_APPROVALS": "2", "RELEASEBOT_CONSOLE_URL": "https://console.example/servicestage/{project_id}/{pipeline_id}/{execution_id}"})
	h.command(t, alice, "start payments-api")
	ts := h.tsOf(t, h.posted(t, "started *payments-api*")).Params["ts"]
	h.clock.Advance(time.Minute)
	prompt := h.tsOf(t, h.threadReply(t, ts, "Approval needed: *payments-api*"))
	assert.Equal(t, "true", prompt.Params["reply_broadcast"], "the prompt is shown in the channel too")
	assert.Contains(t, content(prompt), "Waiting for <@"+bob+">, <!subteam^S0APPROVERS>")
	assert.Contains(t, content(prompt), "run by <@"+alice+"> (may not approve)")
	assert.Contains(t, content(prompt), "approvals 0 of 2")
	assert.Contains(t, content(prompt), "waiting since <!date^")
	assert.Contains(t, content(prompt), "|Open in ServiceStage>")
	h.editOf(t, ts, "started by <@"+alice+">")

	h.click(t, bob, prompt, "approve")
	h.click(t, carol, prompt, "approve")
	decided := h.editOf(t, prompt.Params["ts"], "approved by <@"+bob+">, <@"+carol+">")
	assert.NotContains(t, content(decided), "needed")
}

func TestE2ERollbackIsCreditedAsARollback(t *testing.T) {
	h := startBot(t, map[string]string{"RELEASEBOT_POLL_INTERVAL": "1s", "RELEASEBOT_OPERATORS": alice + "," + bob})
	h.command(t, alice, "start legacy-batch")
	h.posted(t, "started *legacy-batch*")
	h.clock.Advance(10 * time.Minute) // the migration fails
	h.command(t, alice, "rollback legacy-batch")
	h.click(t, bob, h.tsOf(t, h.posted(t, "asks to *rollback*")), "confirm")
	ts := h.tsOf(t, h.posted(t, "rolled back *legacy-batch*")).Params["ts"]
	h.clock.Advance(10 * time.Minute)
	c := h.editOf(t, ts, "rolled back by <@"+bob+">")
	assert.NotContains(t, content(c), "started by")
}

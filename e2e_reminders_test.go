package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/internal/fakeslack"
)

// Approvals that never rot (SPEC §8): reminders, escalation, deadlines,
// per-release-task rules.

const (
	erin = "U0ERIN" // escalation
)

// remindersIn counts the reminders posted in the thread of ts.
func (h *harness) remindersIn(ts, mark string) []fakeslack.Call {
	var out []fakeslack.Call
	for _, c := range h.slack.Calls("chat.postMessage") {
		if c.Params["thread_ts"] == ts && strings.Contains(content(c), mark) {
			out = append(out, c)
		}
	}
	return out
}

func TestE2ERemindersEscalationAndDeadline(t *testing.T) {
	forEachDriver(t, testE2ERemindersEscalation)
}

func testE2ERemindersEscalation(t *testing.T, driver string) {
	h := startBotOn(t, driver, map[string]string{
		"RELEASEBOT_APPROVERS": bob + "," + dave + ",S0APPROVERS", "RELEASEBOT_REQUIRED_APPROVALS": "2",
		"RELEASEBOT_POLL_INTERVAL": "1s", "RELEASEBOT_APPROVAL_REMIND": "1s", "RELEASEBOT_APPROVAL_REMINDERS": "2",
		"RELEASEBOT_APPROVAL_ESCALATE_TO": erin, "RELEASEBOT_APPROVAL_DM": "true", "RELEASEBOT_APPROVAL_TIMEOUT": "1h",
	})
	prompt := h.paymentsAwaitingApproval(t)
	ts := prompt.Params["ts"]
	assert.Contains(t, content(prompt), "times out <!date^", "the deadline shows from the start")
	h.click(t, bob, prompt, "approve")
	h.editOf(t, ts, "approvals 1 of 2")

	first := h.threadReply(t, ts, ":bell:")
	assert.Contains(t, content(first), "<@"+dave+">")
	assert.Contains(t, content(first), "<!subteam^S0APPROVERS>")
	assert.NotContains(t, content(first), "<@"+bob+">", "bob has voted")
	assert.NotContains(t, content(first), "<@"+alice+">", "alice started it and asked")
	dm, err := h.slack.WaitCall(waitCtx(t), "chat.postMessage", func(c fakeslack.Call) bool { return c.Params["channel"] == carol })
	require.NoError(t, err, "carol, a member of the approvers' group, gets a direct message")
	assert.Contains(t, content(dm), "open the prompt")

	escalation := h.threadReply(t, ts, ":rotating_light: Escalated to <@"+erin+">")
	assert.Contains(t, content(escalation), "after 2 reminders")
	h.logged(t, `"verb":"escalation"`)
	assert.Len(t, h.remindersIn(ts, ":bell:"), 2, "two reminders, then the escalation")
	for _, c := range h.slack.Calls("chat.postMessage") {
		assert.NotEqual(t, bob, c.Params["channel"], "no direct message to who voted")
	}

	h.click(t, erin, prompt, "approve")
	h.editOf(t, ts, "approved by <@"+bob+">, <@"+erin+">")
	h.polls(t, 2)
	assert.Len(t, h.remindersIn(ts, ":bell:"), 2, "nothing after the decision")
	assert.Len(t, h.remindersIn(ts, ":rotating_light:"), 1, "one escalation")
}

func TestE2EDeadlineExpiresOrRefuses(t *testing.T) {
	for _, action := range []string{"expire", "refuse"} {
		t.Run(action, func(t *testing.T) {
			h := startBot(t, map[string]string{"RELEASEBOT_POLL_INTERVAL": "1s", "RELEASEBOT_APPROVAL_TIMEOUT": "2s",
				"RELEASEBOT_APPROVAL_TIMEOUT_ACTION": action, "RELEASEBOT_APPROVAL_REMIND": "0"})
			prompt := h.paymentsAwaitingApproval(t)
			if action == "expire" {
				c := h.editOf(t, prompt.Params["ts"], "timed out, nothing was sent")
				assert.NotContains(t, content(c), "refused")
				assert.Zero(t, h.up.approvalsSent(), "nothing sent at the deadline")
			} else {
				h.editOf(t, prompt.Params["ts"], "refused by `releasebot`")
				require.Equal(t, 1, h.up.approvalsSent())
				assert.Contains(t, h.up.actions()[1], "action_id=approval")
			}
			h.logged(t, `"verb":"deadline"`)
		})
	}
}

func TestE2EReminderNotRepeatedAfterARestart(t *testing.T) {
	h := newWorld(t, "sqlite")
	env := map[string]string{"RELEASEBOT_POLL_INTERVAL": "1s", "RELEASEBOT_APPROVAL_REMIND": "2s", "RELEASEBOT_APPROVAL_REMINDERS": "1"}
	_, stop := h.start(t, env)
	prompt := h.paymentsAwaitingApproval(t)
	ts := prompt.Params["ts"]
	h.threadReply(t, ts, ":bell:")
	stop()
	h.start(t, env)
	h.polls(t, 3)
	assert.Len(t, h.remindersIn(ts, ":bell:"), 1, "the one reminder, once, across a restart")
}

func TestE2EPolicyFileRulesPerReleaseTask(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`release_tasks:
  payments-*:
    approvers: [`+erin+`]
  payments-api:
    approvers: [`+dave+`, `+erin+`]
    required_approvals: 2
`), 0o600))
	h := startBot(t, map[string]string{"RELEASEBOT_POLICY": path})
	prompt := h.paymentsAwaitingApproval(t)
	assert.Contains(t, content(prompt), "approvals 0 of 2", "the policy's quorum for this release task")
	h.click(t, bob, prompt, "approve")
	h.reply(t, bob, "Only approvers of this release task may approve or refuse (<@"+dave+">, <@"+erin+">)")
	h.click(t, dave, prompt, "approve")
	h.editOf(t, prompt.Params["ts"], "approvals 1 of 2 (<@"+dave+">)")
	h.click(t, erin, prompt, "approve")
	h.editOf(t, prompt.Params["ts"], "approved by <@"+dave+">, <@"+erin+">")
	assert.Equal(t, 1, h.up.approvalsSent())
}

func TestE2EAppHome(t *testing.T) {
	h := startBot(t, map[string]string{"RELEASEBOT_REQUIRED_APPROVALS": "2"})
	prompt := h.paymentsAwaitingApproval(t)
	h.logged(t, `"outcome":"prompt posted"`) // its message is recorded

	_, err := h.slack.OpenHome(waitCtx(t), bob)
	require.NoError(t, err)
	var home fakeslack.View
	require.Eventually(t, func() bool { home, _ = h.slack.Home(bob); return home.ID != "" }, 10*time.Second, time.Millisecond,
		"views.publish for bob")
	assert.Contains(t, string(home.JSON), "Approval needed: *payments-api*", "the prompt bob may decide")
	assert.Contains(t, string(home.JSON), `"action_id":"approve"`)

	_, err = h.slack.OpenHome(waitCtx(t), alice)
	require.NoError(t, err)
	var aliceHome fakeslack.View
	require.Eventually(t, func() bool { aliceHome, _ = h.slack.Home(alice); return aliceHome.ID != "" }, 10*time.Second, time.Millisecond)
	assert.NotContains(t, string(aliceHome.JSON), `"action_id":"approve"`, "alice started it: nothing for her to decide")
	assert.Contains(t, string(aliceHome.JSON), "started", "her running release")

	env, err := h.slack.SendClick(waitCtx(t), fakeslack.Click{UserID: bob, ViewID: home.ID, ActionID: "approve",
		Value: buttonValue(t, prompt, "approve")})
	require.NoError(t, err)
	_, err = env.Ack(waitCtx(t))
	require.NoError(t, err)
	h.editOf(t, prompt.Params["ts"], "approvals 1 of 2 (<@"+bob+">)")
	require.Eventually(t, func() bool {
		v, _ := h.slack.Home(bob)
		return strings.Contains(string(v.JSON), "Your last decisions") && strings.Contains(string(v.JSON), "You approved *payments-api*")
	}, 10*time.Second, time.Millisecond, "the tab is published again with bob's decision")
	assert.Zero(t, h.up.approvalsSent(), "one vote of two: nothing sent yet")
}

package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/internal/fakeslack"
	"github.com/releasebot/releasebot/sandbox"
	"github.com/releasebot/releasebot/store/storetest"
)

const hostile = "<!channel> @here <https://x.example|y>"

func TestE2EApproveAndRefuseCommands(t *testing.T) { forEachDriver(t, testE2EApproveAndRefuseCommands) }

func testE2EApproveAndRefuseCommands(t *testing.T, driver string) {
	h := startBotOn(t, driver, nil)
	h.command(t, alice, "start payments-api")
	h.posted(t, "started *payments-api*")
	h.clock.Advance(time.Minute)

	h.command(t, mallory, "approve payments-api approve-prod ok")
	h.reply(t, mallory, "Only approvers may approve or refuse (<!subteam^S0APPROVERS>, <@"+bob+">)")
	assert.Len(t, h.up.actions(), 1)

	h.command(t, bob, "approve payments-api approve-prod "+hostile)
	c := h.updated(t, "approved by")
	assert.Contains(t, content(c), "&lt;!channel&gt; @here &lt;https://x.example|y&gt;")
	assert.Contains(t, content(c), "Releasing (4)")
	require.Len(t, h.up.actions(), 2)
	assert.Contains(t, h.up.actions()[1], "action_id=approval")
	for _, call := range h.slack.Calls("") {
		raw := content(call) // blocks decoded: \u003c is compared as <
		assert.NotContains(t, raw, "<!channel>")
		assert.NotContains(t, raw, "<https://x.example")
		assert.NotContains(t, call.Params["text"], "@here")
	}
	view, ok := h.up.sb.LatestExecution(sandbox.DemoPaymentsAPIID)
	require.True(t, ok)
	require.NotEmpty(t, view.Approvals)
	assert.Equal(t, hostile, view.Approvals[0].Message, "the comment reaches ServiceStage as typed")

	h.clock.Advance(time.Minute)
	h.command(t, alice, "start payments-api")
	h.posted(t, "`286542`")
	h.clock.Advance(time.Minute)
	h.command(t, carol, "refuse payments-api approve-prod smoke tests fail")
	c = h.updated(t, "refused by")
	assert.Contains(t, content(c), "smoke tests fail")
	assert.Contains(t, content(c), "<@"+carol+">")
	view, _ = h.up.sb.LatestExecution(sandbox.DemoPaymentsAPIID)
	assert.Equal(t, "refuse", view.Approvals[len(view.Approvals)-1].Type)
}

func TestE2EAskApproveRefuseButtons(t *testing.T) { forEachDriver(t, testE2EAskApproveRefuseButtons) }

func testE2EAskApproveRefuseButtons(t *testing.T, driver string) {
	h := startBotOn(t, driver, nil)
	h.command(t, alice, "start payments-api")
	h.posted(t, "started *payments-api*")
	h.clock.Advance(time.Minute)

	h.command(t, alice, "ask payments-api approve-prod please check the canary")
	prompt := h.tsOf(t, h.posted(t, "Approval needed: *payments-api*"))
	assert.Contains(t, content(prompt), "please check the canary")

	h.click(t, alice, prompt, "approve")
	h.reply(t, alice, "Only approvers may approve or refuse (<!subteam^S0APPROVERS>, <@"+bob+">)")

	h.click(t, bob, prompt, "refuse")
	view, err := h.slack.WaitCall(waitCtx(t), "views.open", nil)
	require.NoError(t, err)
	assert.Contains(t, string(view.JSON), "refuse_reason")
	assert.Len(t, h.up.actions(), 1, "opening the modal sends nothing")

	var meta struct {
		View struct {
			PrivateMetadata string `json:"private_metadata"`
		} `json:"view"`
	}
	require.NoError(t, json.Unmarshal(view.JSON, &meta))
	sub, err := h.slack.SendSubmission(waitCtx(t), fakeslack.Submission{UserID: bob, CallbackID: "refuse_reason",
		PrivateMetadata: meta.View.PrivateMetadata, Values: map[string]map[string]string{"reason": {"reason_input": "canary errors"}}})
	require.NoError(t, err)
	_, err = sub.Ack(waitCtx(t))
	require.NoError(t, err)
	c := h.updated(t, "refused by")
	assert.Contains(t, content(c), "canary errors")
	require.Len(t, h.up.actions(), 2)

	h.click(t, carol, prompt, "approve")
	h.reply(t, carol, "Already refused by <@"+bob+">")
	h.click(t, carol, prompt, "refuse")
	h.reply(t, carol, "Already refused by <@"+bob+">")
	assert.Len(t, h.up.actions(), 2, "a decided prompt sends nothing")
	_, err = h.slack.WaitCall(waitCtx(t), "views.open", nil)
	require.NoError(t, err)
	assert.Len(t, h.slack.Calls("views.open"), 1, "no modal for a decided prompt")
}

func TestE2EForgedButtons(t *testing.T) {
	h := startBot(t, map[string]string{"RELEASEBOT_OPERATORS": alice + "," + bob})
	tests := []struct {
		name, action, value, reply string
	}{
		{"unknown prompt", "approve", "AAAAAAAAAAAAAAAAAAAAAAAAAA", "unknown to releasebot"},
		{"unknown confirmation", "confirm", "BBBBBBBBBBBBBBBBBBBBBBBBBB", "unknown to releasebot"},
		{"huge value", "approve", strings.Repeat("A", 1900), "not valid"},
		{"malformed value", "confirm", "../../x?y", "not valid"},
		{"unknown action", "delete_everything", "AAAAAAAAAAAAAAAAAAAAAAAAAA", "does not know this button"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := h.slack.SendClick(waitCtx(t), fakeslack.Click{UserID: bob, ChannelID: channel, MessageTS: "1.1",
				ActionID: tt.action, BlockID: "approval", Value: tt.value, Message: json.RawMessage(`{"type":"message","ts":"1.1","text":"x"}`)})
			require.NoError(t, err)
			_, err = env.Ack(waitCtx(t))
			require.NoError(t, err)
			h.reply(t, bob, tt.reply)
		})
	}
	assert.Empty(t, h.up.actions())
}

func TestE2EQuorumAndBurst(t *testing.T) { forEachDriver(t, testE2EQuorumAndBurst) }

func testE2EQuorumAndBurst(t *testing.T, driver string) {
	h := startBotOn(t, driver, map[string]string{"RELEASEBOT_REQUIRED_APPROVALS": "2", "RELEASEBOT_APPROVERS": "*"})
	prompt := h.paymentsAwaitingApproval(t)

	h.click(t, alice, prompt, "approve")
	h.reply(t, alice, "started, retried or continued this execution, so someone else must approve it")
	h.click(t, bob, prompt, "approve")
	h.updated(t, "approvals 1 of 2 (<@"+bob+">)")
	h.click(t, bob, prompt, "approve")
	assert.Len(t, h.up.actions(), 1, "one approver, counted once, is not a quorum")

	// A burst of 50 clicks at once: exactly one approval reaches ServiceStage.
	var envs []*fakeslack.Envelope
	for i := range 50 {
		user := carol
		if i%2 == 1 {
			user = mallory
		}
		env, err := h.slack.SendClick(waitCtx(t), fakeslack.Click{UserID: user, ChannelID: channel, MessageTS: prompt.Params["ts"],
			ActionID: "approve", Value: buttonValue(t, prompt, "approve")})
		require.NoError(t, err)
		envs = append(envs, env)
	}
	for _, env := range envs {
		_, err := env.Ack(waitCtx(t))
		require.NoError(t, err)
	}
	h.updated(t, "approved by")
	require.Eventually(t, func() bool { return strings.Count(h.logs.String(), `"kind":"click"`) >= 53 }, 10*time.Second, time.Millisecond)
	approvals := h.up.approvalsSent()
	assert.Equal(t, 1, approvals)
}

func TestE2EUnknownOutcomeIsNotResent(t *testing.T) {
	forEachDriver(t, testE2EUnknownOutcomeIsNotResent)
}

func testE2EUnknownOutcomeIsNotResent(t *testing.T, driver string) {
	h := startBotOn(t, driver, nil)
	prompt := h.paymentsAwaitingApproval(t)

	h.up.mu.Lock()
	h.up.failNext = garbageOK
	h.up.mu.Unlock()
	h.click(t, bob, prompt, "approve")
	h.reply(t, bob, "ServiceStage may have carried this out")
	h.updated(t, "Checking with ServiceStage")
	require.Len(t, h.up.actions(), 2)

	h.click(t, carol, prompt, "approve")
	h.reply(t, carol, "releasebot is checking with ServiceStage")
	assert.Len(t, h.up.actions(), 2, "an approval that may have landed is not sent again")
}

func TestE2EPromptSurvivesRestart(t *testing.T) { forEachDriver(t, testE2EPromptSurvivesRestart) }

func testE2EPromptSurvivesRestart(t *testing.T, driver string) {
	h := newWorld(t, driver)
	_, stop := h.start(t, nil)
	prompt := h.paymentsAwaitingApproval(t)
	h.command(t, alice, "stop payments-api")
	conf := h.tsOf(t, h.posted(t, "asks to *stop*"))
	h.logged(t, `"verb":"stop"`)
	stop()

	h.start(t, nil)
	h.click(t, bob, prompt, "approve")
	h.updated(t, "approved by <@"+bob+">")
	h.click(t, alice, conf, "cancel")
	h.updated(t, "cancelled by <@"+alice+">")
	approvals := h.up.approvalsSent()
	assert.Equal(t, 1, approvals)
	h.command(t, alice, "audit payments-api")
	c := h.reply(t, alice, "on payments-api")
	assert.Contains(t, content(c), "`ask`", "the audit log survives the restart")
}

func TestE2ETwoInstancesDecideOnce(t *testing.T) {
	if !contains(storetest.Drivers(), "postgres") {
		t.Fatalf("%s must be set: several replicas share PostgreSQL", storetest.PostgresEnv)
	}
	h := newWorld(t, "postgres")
	env := map[string]string{"RELEASEBOT_APPROVERS": "*"}
	h.start(t, env)
	h.start(t, env)
	require.Equal(t, 2, h.slack.Connections())

	prompt := h.paymentsAwaitingApproval(t)

	// The fake spreads envelopes over both connections, as Slack does.
	var envs []*fakeslack.Envelope
	users := []string{bob, carol, mallory, "U0DAVE", "U0ERIN"}
	for i := range 30 {
		env, err := h.slack.SendClick(waitCtx(t), fakeslack.Click{UserID: users[i%len(users)], ChannelID: channel,
			MessageTS: prompt.Params["ts"], ActionID: "approve", Value: buttonValue(t, prompt, "approve")})
		require.NoError(t, err)
		envs = append(envs, env)
	}
	conns := map[int]bool{}
	for _, env := range envs {
		_, err := env.Ack(waitCtx(t))
		require.NoError(t, err)
		conns[env.Conn] = true
	}
	assert.Len(t, conns, 2, "clicks reached both instances")
	h.updated(t, "approved by")
	// Every click is answered: one decided, the others were told who did.
	require.Eventually(t, func() bool {
		n := 0
		for _, c := range h.slack.Calls("chat.postEphemeral") {
			if strings.Contains(content(c), "Already approved by") || strings.Contains(content(c), "is deciding this right now") {
				n++
			}
		}
		return n == 29
	}, 15*time.Second, 5*time.Millisecond)
	approvals := h.up.approvalsSent()
	assert.Equal(t, 1, approvals, "exactly one approval reaches ServiceStage")
}

func TestE2EFailedDecisionCanBeRetried(t *testing.T) {
	forEachDriver(t, testE2EFailedDecisionCanBeRetried)
}

func testE2EFailedDecisionCanBeRetried(t *testing.T, driver string) {
	h := startBotOn(t, driver, nil)
	prompt := h.paymentsAwaitingApproval(t)

	h.up.mu.Lock()
	h.up.failNext = http.StatusConflict // a sure failure: ServiceStage refused it
	h.up.mu.Unlock()
	h.click(t, bob, prompt, "approve")
	h.reply(t, bob, "ServiceStage answered HTTP 409")
	h.updated(t, "You can decide again")
	h.click(t, carol, prompt, "approve")
	h.updated(t, "approved by <@"+carol+">")
	approvals := h.up.approvalsSent()
	assert.Equal(t, 2, approvals, "the failed approval and the one that worked")
}

func TestE2EPromptClosedWhenDecidedElsewhere(t *testing.T) {
	forEachDriver(t, testE2EPromptClosedWhenDecidedElsewhere)
}

func testE2EPromptClosedWhenDecidedElsewhere(t *testing.T, driver string) {
	h := startBotOn(t, driver, following)
	h.command(t, alice, "start payments-api")
	ts := h.tsOf(t, h.posted(t, "started *payments-api*")).Params["ts"]
	h.clock.Advance(time.Minute)
	prompt := h.tsOf(t, h.threadReply(t, ts, "Approval needed"))

	// Someone approves in the ServiceStage console.
	req, err := http.NewRequest(http.MethodPost, h.upURL+"/v3/"+e2eProject+"/pipeline/pipelines/"+sandbox.DemoPaymentsAPIID+
		"/action?action_id=approval", strings.NewReader(`{"task_name":"approve-prod","approval_type":"agree"}`))
	require.NoError(t, err)
	req.Header.Set("X-Auth-Token", e2eToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	http.DefaultClient.CloseIdleConnections()

	h.updated(t, "closed without a decision from Slack")
	before := len(h.up.actions())
	h.click(t, bob, prompt, "approve")
	h.reply(t, bob, "This approval is closed")
	assert.Len(t, h.up.actions(), before, "a closed prompt sends nothing")
}

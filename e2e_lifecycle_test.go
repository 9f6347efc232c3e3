package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/internal/fakeslack"
	"github.com/releasebot/releasebot/sandbox"
)

// Approvals over a release's whole life (SPEC §8): prompts bound to one
// execution, reconciled with ServiceStage, never stuck.

func TestE2ETwoRunsInARowEachGetTheirOwnPrompt(t *testing.T) {
	forEachDriver(t, testE2ETwoRunsInARowEachGetTheirOwnPrompt)
}

func testE2ETwoRunsInARowEachGetTheirOwnPrompt(t *testing.T, driver string) {
	h := startBotOn(t, driver, map[string]string{"RELEASEBOT_REQUIRED_APPROVALS": "2", "RELEASEBOT_OPERATORS": alice + "," + bob})
	first := h.paymentsAwaitingApproval(t)
	assert.Contains(t, content(first), "`286541`")
	h.click(t, bob, first, "approve")
	h.updated(t, "approvals 1 of 2 (<@"+bob+">)")

	// The first run is stopped before a decision; a second run reaches the gate.
	h.command(t, alice, "stop payments-api")
	h.click(t, bob, h.tsOf(t, h.posted(t, "asks to *stop*")), "confirm")
	h.posted(t, "stopped *payments-api*")
	h.clock.Advance(time.Minute)
	h.command(t, alice, "start payments-api")
	h.posted(t, "`286542`")
	h.clock.Advance(time.Minute)
	h.command(t, alice, "ask payments-api approve-prod")
	second := h.tsOf(t, h.posted(t, "for execution 286542"))
	assert.Contains(t, content(second), "approvals 0 of 2", "a vote for the first run does not count for the second")
	h.editOf(t, first.Params["ts"], "Superseded by execution 286542")

	h.click(t, carol, first, "approve")
	h.reply(t, carol, "This approval is superseded")
	h.click(t, carol, second, "approve")
	h.editOf(t, second.Params["ts"], "approvals 1 of 2 (<@"+carol+">)")
	assert.Zero(t, h.up.approvalsSent(), "no quorum yet: nothing sent")
	h.click(t, bob, second, "approve")
	h.editOf(t, second.Params["ts"], "approved by <@"+carol+">, <@"+bob+">")
	assert.Equal(t, 1, h.up.approvalsSent(), "exactly one decision")

	h.command(t, alice, "ask payments-api approve-prod")
	h.reply(t, alice, "has no execution waiting for approval")
}

func TestE2EAskChecksTheGateAndTheWaitingExecution(t *testing.T) {
	h := startBot(t, nil)
	h.command(t, alice, "ask payments-api approve-prod")
	h.reply(t, alice, "*payments-api* has no execution waiting for approval: it is")

	h.command(t, alice, "start payments-api")
	h.posted(t, "started *payments-api*")
	h.clock.Advance(time.Minute)
	h.command(t, alice, "ask payments-api no-such-gate")
	h.reply(t, alice, "has no manual-approval task `no-such-gate`; its approval tasks: `approve-prod`")
	h.command(t, bob, "approve payments-api no-such-gate")
	h.reply(t, bob, "has no manual-approval task `no-such-gate`")

	h.command(t, alice, "ask payments-api approve-prod")
	prompt := h.tsOf(t, h.posted(t, "Approval needed: *payments-api*"))
	h.logged(t, `"outcome":"prompt posted"`) // its message is recorded
	h.command(t, alice, "ask payments-api approve-prod")
	link := "https://slack.com/archives/" + channel + "/p" + strings.ReplaceAll(prompt.Params["ts"], ".", "")
	h.reply(t, alice, "is already open: <"+link)
	assert.Len(t, h.slack.Calls("chat.postMessage"), 2, "one start and one prompt posted")

	h.command(t, mallory, "status payments-api")
	c := h.reply(t, mallory, "Awaiting approval (5) at `approve-prod`")
	assert.Contains(t, content(c), link, "status links the open prompt")
	assert.Equal(t, []string{"POST /v3/" + e2eProject + "/pipeline/pipelines/" + sandbox.DemoPaymentsAPIID + "/action?action_id=start"},
		h.up.actions(), "nothing but the start was sent")
}

func TestE2EGatewayErrorAfterTheApprovalLeft(t *testing.T) {
	forEachDriver(t, testE2EGatewayErrorAfterTheApprovalLeft)
}

func testE2EGatewayErrorAfterTheApprovalLeft(t *testing.T, driver string) {
	h := startBotOn(t, driver, following)
	prompt := h.paymentsAwaitingApproval(t)

	h.up.mu.Lock()
	h.up.failAfterNext = http.StatusBadGateway
	h.up.mu.Unlock()
	h.click(t, bob, prompt, "approve")
	h.reply(t, bob, "Do not run it again")
	h.editOf(t, prompt.Params["ts"], "Checking with ServiceStage")
	h.click(t, carol, prompt, "approve")
	h.reply(t, carol, "releasebot is checking with ServiceStage")
	// The poller sees the execution past its gate: the approval was taken.
	h.editOf(t, prompt.Params["ts"], "approved by <@"+bob+">")
	assert.Equal(t, 1, h.up.approvalsSent(), "a second click after a 502 sends nothing")
	view, ok := h.up.sb.LatestExecution(sandbox.DemoPaymentsAPIID)
	require.True(t, ok)
	assert.Len(t, view.Approvals, 1)
}

func TestE2EPromptOfARunApprovedInTheConsoleCloses(t *testing.T) {
	h := startBot(t, following)
	prompt := h.paymentsAwaitingApproval(t) // asked, not followed through its thread
	approveInConsole(t, h)
	h.polls(t, 2)
	h.editOf(t, prompt.Params["ts"], "closed without a decision from Slack")
	h.click(t, bob, prompt, "approve")
	h.reply(t, bob, "This approval is closed")
	assert.Zero(t, h.up.approvalsSent())
}

// approveInConsole approves payments-api's gate as someone in the
// ServiceStage console would, past releasebot.
func approveInConsole(t *testing.T, h *harness) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.upURL+"/v3/"+e2eProject+"/pipeline/pipelines/"+sandbox.DemoPaymentsAPIID+
		"/action?action_id=approval", strings.NewReader(`{"task_name":"approve-prod","approval_type":"agree"}`))
	require.NoError(t, err)
	req.Header.Set("X-Auth-Token", e2eToken)
	c := &http.Client{}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	h.up.mu.Lock()
	h.up.requests = h.up.requests[:len(h.up.requests)-1] // not releasebot's
	h.up.mu.Unlock()
}

func TestE2ESIGKILLDuringAnApproval(t *testing.T) {
	h := newWorld(t, "sqlite")
	child, logs := h.startProcess(t)
	h.command(t, alice, "start payments-api")
	h.posted(t, "started *payments-api*")
	logs.await(t, `"verb":"start"`)
	h.clock.Advance(time.Minute)
	h.command(t, alice, "ask payments-api approve-prod")
	prompt := h.tsOf(t, h.posted(t, "Approval needed: *payments-api*"))

	// The approval reaches the gateway, which never passes it on; the
	// process dies while it waits for the answer.
	hold, held := make(chan struct{}), make(chan struct{}, 1)
	h.up.mu.Lock()
	h.up.hold, h.up.held, h.up.failNext = hold, held, http.StatusBadGateway
	h.up.mu.Unlock()
	h.click(t, bob, prompt, "approve")
	select {
	case <-held:
	case <-waitCtx(t).Done():
		t.Fatalf("the approval never reached ServiceStage; the process logged:\n%s", logs.String())
	}
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	_ = child.Wait()
	h.up.mu.Lock()
	h.up.hold = nil
	h.up.mu.Unlock()
	close(hold)

	started := time.Now()
	h.start(t, map[string]string{"RELEASEBOT_POLL_INTERVAL": "1s", callTimeoutKey: "1s"})
	h.editOf(t, prompt.Params["ts"], "was not applied")
	assert.Less(t, time.Since(started), 15*time.Second, "settled within the call's timeout plus a margin (and a poll)")
	h.click(t, carol, prompt, "approve")
	h.editOf(t, prompt.Params["ts"], "approved by <@"+carol+">")
	view, ok := h.up.sb.LatestExecution(sandbox.DemoPaymentsAPIID)
	require.True(t, ok)
	assert.Len(t, view.Approvals, 1, "exactly one approval reached ServiceStage")
}

// startProcess runs the real binary (this test binary re-executed as
// main) in the world, so that a test can SIGKILL it; its log lines are
// returned.
func (h *harness) startProcess(t *testing.T) (*exec.Cmd, *logLines) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = []string{
		"RELEASEBOT_TEST_RUN_MAIN=1", "GOCOVERDIR=" + t.TempDir(),
		"SLACK_BOT_TOKEN=" + fakeslack.DefaultBotToken, "SLACK_APP_TOKEN=" + fakeslack.DefaultAppToken,
		"SLACK_API_URL=" + h.slack.APIURL(), "SERVICESTAGE_ENDPOINT=" + h.upURL, "HUAWEICLOUD_PROJECT_ID=" + e2eProject,
		"HUAWEICLOUD_AUTH_TOKEN=" + e2eToken, "RELEASEBOT_OPERATORS=" + alice, "RELEASEBOT_APPROVERS=" + bob + ",S0APPROVERS",
		"RELEASEBOT_DATABASE_URL=" + h.dbURL, "RELEASEBOT_POLL_INTERVAL=1h", "RELEASEBOT_HTTP_ADDR=127.0.0.1:0",
	}
	logs := newLogLines()
	cmd.Stdout = logs
	before := h.slack.Connections()
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	require.NoError(t, h.slack.WaitConnected(waitCtx(t), before+1))
	return cmd, logs
}

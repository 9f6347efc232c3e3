package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/config"
	"github.com/releasebot/releasebot/internal/fakeslack"
	"github.com/releasebot/releasebot/sandbox"
	"github.com/releasebot/releasebot/store/storetest"
)

const (
	e2eProject = "e2eproject01"
	e2eToken   = "SECRET-upstream-token-e2e"
	channel    = "C0REL"
	alice      = "U0ALICE" // operator
	bob        = "U0BOB"   // approver
	carol      = "U0CAROL" // approver, via the user group
	mallory    = "U0MALLORY"
)

// garbageOK as upstream.failNext answers 200 with a body cut short: the
// action happened, but its answer is unreadable.
const garbageOK = -1

// upstream wraps the sandbox so that tests can count what reaches it, fail
// the next action, or hold actions until released.
type upstream struct {
	sb *sandbox.Server

	mu       sync.Mutex
	requests []string // "METHOD path?query"
	failNext int
	hold     chan struct{}
	held     chan struct{}
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.requests = append(u.requests, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	fail, hold, held := 0, u.hold, u.held
	if r.Method == http.MethodPost {
		fail, u.failNext = u.failNext, 0
	}
	u.mu.Unlock()
	if r.Method == http.MethodPost && hold != nil {
		held <- struct{}{}
		<-hold
	}
	if fail == garbageOK {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":`))
		return
	}
	if fail != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(fail)
		_, _ = w.Write([]byte(`{"error_code":"SVCSTG.00100500","error_msg":"Internal error <!here>"}`))
		return
	}
	u.sb.ServeHTTP(w, r)
}

// actions lists the POST action requests that reached the upstream.
func (u *upstream) actions() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []string
	for _, r := range u.requests {
		if strings.HasPrefix(r, "POST ") {
			out = append(out, r)
		}
	}
	return out
}

func (u *upstream) total() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.requests)
}

type harness struct {
	slack *fakeslack.Server
	up    *upstream
	clock *sandbox.ManualClock
	logs  *logLines // of the first instance
	dbURL string
	upURL string
	addr  string // health server of the first instance
}

// newWorld serves a fake Slack and the sandbox (behind upstream) and makes
// a fresh database of the driver's kind; no bot runs yet.
func newWorld(t *testing.T, driver string) *harness {
	t.Helper()
	clk := sandbox.NewManualClock(time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC))
	sb, err := sandbox.New(sandbox.Options{ProjectID: e2eProject, Token: e2eToken, Clock: clk})
	require.NoError(t, err)
	up := &upstream{sb: sb}
	upSrv := httptest.NewServer(up)
	fs := fakeslack.New(fakeslack.Options{Scopes: []string{"commands", "chat:write", "usergroups:read"}})
	fs.SetUserGroup("S0APPROVERS", carol)
	// Registered first, so it runs after every instance has stopped.
	t.Cleanup(func() {
		fs.Close()
		upSrv.Close()
	})
	dsn := storetest.DSN(t, driver)
	if driver == "sqlite" {
		dsn = "sqlite:" + dsn
	}
	return &harness{slack: fs, up: up, clock: clk, dbURL: dsn, upURL: upSrv.URL}
}

// start runs one instance of the real bot (run) in the world, through the
// real HTTP client, and waits until it is connected. The returned func
// stops it and waits for run to return; cleanup calls it too.
func (h *harness) start(t *testing.T, env map[string]string) (*logLines, func()) {
	t.Helper()
	vars := map[string]string{
		"SLACK_BOT_TOKEN":         fakeslack.DefaultBotToken,
		"SLACK_APP_TOKEN":         fakeslack.DefaultAppToken,
		"SLACK_API_URL":           h.slack.APIURL(),
		"SERVICESTAGE_ENDPOINT":   h.upURL,
		"HUAWEICLOUD_PROJECT_ID":  e2eProject,
		"HUAWEICLOUD_AUTH_TOKEN":  e2eToken,
		"RELEASEBOT_OPERATORS":    alice,
		"RELEASEBOT_APPROVERS":    bob + ",S0APPROVERS",
		"RELEASEBOT_ALIASES":      "pay:" + sandbox.DemoPaymentsAPIID,
		"RELEASEBOT_DATABASE_URL": h.dbURL,
		// Tests that follow executions set their own interval; the others
		// should not see the poller's edits.
		"RELEASEBOT_POLL_INTERVAL": "1h",
		"RELEASEBOT_HTTP_ADDR":     "127.0.0.1:0",
	}
	for k, v := range env {
		if v == "" {
			delete(vars, k)
		} else {
			vars[k] = v
		}
	}
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	require.NoError(t, err)

	logs := newLogLines()
	before := h.slack.Connections()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, newLogger(logs, cfg)) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
			for _, secret := range []string{e2eToken, fakeslack.DefaultBotToken, fakeslack.DefaultAppToken} {
				assert.NotContains(t, logs.String(), secret, "a secret reached the logs")
			}
			for _, c := range h.slack.Calls("") {
				raw, _ := json.Marshal(c.Params) // the token field is kept apart, in Call.Token
				assert.NotContains(t, string(raw)+string(c.JSON), e2eToken, "a secret reached Slack")
			}
		})
	}
	t.Cleanup(stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of the instance:\n%s", logs.String())
		}
	})
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	require.NoError(t, h.slack.WaitConnected(wctx, before+1))
	addr := httpAddr(t, logs)
	require.Eventually(t, func() bool { return getStatus(t, "http://"+addr+"/readyz") == http.StatusOK }, 10*time.Second, 5*time.Millisecond,
		"/readyz never said ready")
	if h.logs == nil {
		h.logs, h.addr = logs, addr
	}
	return logs, stop
}

var httpAddrLine = regexp.MustCompile(`"http_addr":"([^"]+)"`)

// httpAddr waits for the log line that says where /healthz is served.
func httpAddr(t *testing.T, logs *logLines) string {
	t.Helper()
	var addr string
	require.Eventually(t, func() bool {
		m := httpAddrLine.FindStringSubmatch(logs.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	}, 10*time.Second, 2*time.Millisecond)
	return addr
}

// getStatus GETs url and returns its status code, or 0 when it fails.
func getStatus(t *testing.T, url string) int {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// startBot runs one bot on SQLite in a new world.
func startBot(t *testing.T, env map[string]string) *harness {
	t.Helper()
	return startBotOn(t, "sqlite", env)
}

func startBotOn(t *testing.T, driver string, env map[string]string) *harness {
	t.Helper()
	h := newWorld(t, driver)
	h.start(t, env)
	return h
}

// logged waits for a log line containing want: the log line is the last
// thing a handler writes.
func (h *harness) logged(t *testing.T, want string) {
	t.Helper()
	require.Eventually(t, func() bool { return strings.Contains(h.logs.String(), want) }, 10*time.Second, time.Millisecond,
		"no log line with %s", want)
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (h *harness) command(t *testing.T, user, text string) *fakeslack.Envelope {
	t.Helper()
	return h.commandIn(t, user, channel, text)
}

func (h *harness) commandIn(t *testing.T, user, ch, text string) *fakeslack.Envelope {
	t.Helper()
	env, err := h.slack.SendSlashCommand(waitCtx(t), fakeslack.SlashCommand{UserID: user, ChannelID: ch, Text: text})
	require.NoError(t, err)
	_, err = env.Ack(waitCtx(t))
	require.NoError(t, err, "every envelope is acknowledged")
	return env
}

// content is a call's notification text and blocks, for matching.
func content(c fakeslack.Call) string {
	var blocks any
	_ = json.Unmarshal([]byte(c.Params["blocks"]), &blocks)
	b, _ := json.Marshal(blocks)
	text := c.Params["text"] + " " + string(b)
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(text)
}

// awaitCall waits for a call to method that Slack accepted and that match
// accepts; what says what was awaited, for the failure message.
func (h *harness) awaitCall(t *testing.T, method, what string, match func(c fakeslack.Call) bool) fakeslack.Call {
	t.Helper()
	c, err := h.slack.WaitCall(waitCtx(t), method, func(c fakeslack.Call) bool { return c.Error == "" && match(c) })
	require.NoError(t, err, "no %s; calls: %v", what, h.slack.Calls(""))
	return c
}

// reply waits for a private reply to user containing want.
func (h *harness) reply(t *testing.T, user, want string) fakeslack.Call {
	t.Helper()
	return h.awaitCall(t, "chat.postEphemeral", fmt.Sprintf("private reply to %s containing %q", user, want), func(c fakeslack.Call) bool {
		return c.Params["user"] == user && strings.Contains(content(c), want)
	})
}

// posted waits for a channel message containing want.
func (h *harness) posted(t *testing.T, want string) fakeslack.Call {
	t.Helper()
	return h.awaitCall(t, "chat.postMessage", fmt.Sprintf("channel message containing %q", want), func(c fakeslack.Call) bool {
		return strings.Contains(content(c), want)
	})
}

// updated waits for an update of a message containing want.
func (h *harness) updated(t *testing.T, want string) fakeslack.Call {
	t.Helper()
	return h.awaitCall(t, "chat.update", fmt.Sprintf("update containing %q", want), func(c fakeslack.Call) bool {
		return strings.Contains(content(c), want)
	})
}

// buttonValue finds the value of the button actionID in a posted message.
func buttonValue(t *testing.T, c fakeslack.Call, actionID string) string {
	t.Helper()
	var blocks []struct {
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	require.NoError(t, json.Unmarshal([]byte(c.Params["blocks"]), &blocks))
	for _, b := range blocks {
		for _, e := range b.Elements {
			if e.ActionID == actionID {
				return e.Value
			}
		}
	}
	t.Fatalf("no button %s in %s", actionID, c.Params["blocks"])
	return ""
}

func (h *harness) click(t *testing.T, user string, msg fakeslack.Call, actionID string) *fakeslack.Envelope {
	t.Helper()
	env, err := h.slack.SendClick(waitCtx(t), fakeslack.Click{
		UserID: user, ChannelID: channel, MessageTS: msg.Params["ts"], ActionID: actionID, Value: buttonValue(t, msg, actionID),
	})
	require.NoError(t, err)
	_, err = env.Ack(waitCtx(t))
	require.NoError(t, err)
	return env
}

// ts of a posted message, from the fake's answer.
func (h *harness) tsOf(t *testing.T, c fakeslack.Call) fakeslack.Call {
	t.Helper()
	for _, m := range h.slack.Messages(channel) {
		if m.Text == c.Params["text"] {
			c.Params["ts"] = m.TS
			return c
		}
	}
	t.Fatalf("message %q not found", c.Params["text"])
	return c
}

func TestE2EHelpListStatus(t *testing.T) {
	h := startBot(t, nil)

	h.command(t, mallory, "help")
	h.reply(t, mallory, "/release start &lt;task&gt;")

	h.command(t, mallory, "list")
	c := h.reply(t, mallory, "4 release tasks")
	for _, name := range []string{"web-frontend", "payments-api", "legacy-batch", "data-pipeline"} {
		assert.Contains(t, content(c), name)
	}

	h.command(t, mallory, "status web-frontend")
	h.reply(t, mallory, "No executions yet")
	assert.Empty(t, h.up.actions())
	assert.Empty(t, h.slack.Calls("chat.postMessage"), "help, list and status answer privately")
}

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
	h.reply(t, mallory, "not in RELEASEBOT_OPERATORS")
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

const hostile = "<!channel> @here <https://x.example|y>"

func TestE2EApproveAndRefuseCommands(t *testing.T) { forEachDriver(t, testE2EApproveAndRefuseCommands) }

func testE2EApproveAndRefuseCommands(t *testing.T, driver string) {
	h := startBotOn(t, driver, nil)
	h.command(t, alice, "start payments-api")
	h.posted(t, "started *payments-api*")
	h.clock.Advance(time.Minute)

	h.command(t, mallory, "approve payments-api approve-prod ok")
	h.reply(t, mallory, "not in RELEASEBOT_APPROVERS")
	assert.Len(t, h.up.actions(), 1)

	h.command(t, bob, "approve payments-api approve-prod "+hostile)
	c := h.updated(t, "Approved")
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
	c = h.updated(t, "Refused")
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
	prompt := h.tsOf(t, h.posted(t, "Approval needed for *payments-api*"))
	assert.Contains(t, content(prompt), "please check the canary")

	h.click(t, alice, prompt, "approve")
	h.reply(t, alice, "not in RELEASEBOT_APPROVERS")

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
	c := h.updated(t, "Refused")
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

func TestE2EAudit(t *testing.T) { forEachDriver(t, testE2EAudit) }

func testE2EAudit(t *testing.T, driver string) {
	h := startBotOn(t, driver, nil)
	h.command(t, alice, "start web-frontend")
	h.posted(t, "started *web-frontend*")
	h.logged(t, `"verb":"start"`)
	h.command(t, alice, "audit")
	c := h.reply(t, alice, "Last actions through releasebot")
	assert.Contains(t, content(c), "web-frontend")
	assert.Contains(t, content(c), "`286541`")

	h.command(t, bob, "audit web-frontend")
	h.reply(t, bob, "on web-frontend")

	h.command(t, mallory, "audit")
	h.reply(t, mallory, "Only people in RELEASEBOT_OPERATORS or RELEASEBOT_APPROVERS")
}

func TestE2ENothingUpstreamWhenRefused(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		user  string
		ch    string
		text  string
		reply string
	}{
		{"not an operator", nil, mallory, channel, "start web-frontend", "You may not operate release tasks: you are not in RELEASEBOT_OPERATORS"},
		{"nobody configured", map[string]string{"RELEASEBOT_OPERATORS": ""}, alice, channel, "start web-frontend", "an admin must set RELEASEBOT_OPERATORS"},
		{"approver is not operator", nil, bob, channel, "retry web-frontend", "RELEASEBOT_OPERATORS"},
		{"malformed", nil, alice, channel, "start", "Usage: `/release start &lt;task&gt;"},
		{"unknown verb", nil, alice, channel, "deploy web-frontend", "Unknown command"},
		{"unterminated quote", nil, alice, channel, `start "web`, "quote is not closed"},
		{"unknown task", nil, alice, channel, "start web-frontnd", "Did you mean `web-frontend`"},
		{"refuse without reason", nil, bob, channel, "refuse payments-api approve-prod", "a reason is required"},
		{"other channel", map[string]string{"RELEASEBOT_CHANNELS": channel}, alice, "C0OTHER", "start web-frontend", "does not work in this channel. Use <#" + channel + ">"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startBot(t, tt.env)
			before := h.up.total()
			h.commandIn(t, tt.user, tt.ch, tt.text)
			h.reply(t, tt.user, tt.reply)
			assert.Empty(t, h.up.actions(), "nothing may be sent upstream")
			if tt.ch != channel || strings.HasPrefix(tt.name, "malformed") {
				assert.Equal(t, before, h.up.total(), "not even a read")
			}
			assert.Empty(t, h.slack.Calls("chat.postMessage"), "refusals are private")
		})
	}
}

func TestE2EUserGroupsAndAliases(t *testing.T) {
	h := startBot(t, map[string]string{"RELEASEBOT_OPERATORS": "S0APPROVERS"})
	h.command(t, carol, "start pay")
	h.posted(t, "started *payments-api*")
	_, err := h.slack.WaitCall(waitCtx(t), "usergroups.users.list", nil)
	require.NoError(t, err)
	h.command(t, carol, "start web-frontend")
	h.posted(t, "started *web-frontend*")
	assert.Len(t, h.slack.Calls("usergroups.users.list"), 1, "members are cached")
}

func TestE2EUpstreamErrorIsPrivate(t *testing.T) {
	h := startBot(t, nil)
	h.up.mu.Lock()
	h.up.failNext = http.StatusInternalServerError
	h.up.mu.Unlock()
	h.command(t, alice, "start web-frontend")
	c := h.reply(t, alice, "ServiceStage answered HTTP 500 `SVCSTG.00100500`")
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
	h.reply(t, alice, "You started this release, so someone else must approve it")
	h.click(t, bob, prompt, "approve")
	h.updated(t, "Approvals: 1 of 2 (<@"+bob+">)")
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
	h.updated(t, "*Approved*")
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
	h.reply(t, bob, "ServiceStage may have received this request")
	h.updated(t, "may have reached ServiceStage")
	require.Len(t, h.up.actions(), 2)

	h.click(t, carol, prompt, "approve")
	h.reply(t, carol, "may have reached ServiceStage; nothing more was sent")
	assert.Len(t, h.up.actions(), 2, "an approval that may have landed is not sent again")
}

// forEachDriver runs test on every database the store supports here:
// SQLite always, PostgreSQL when storetest.PostgresEnv is set (CI sets it).
func forEachDriver(t *testing.T, test func(t *testing.T, driver string)) {
	for _, d := range storetest.Drivers() {
		t.Run(d, func(t *testing.T) { test(t, d) })
	}
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
	h.updated(t, "*Approved* by <@"+bob+">")
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
	h.updated(t, "*Approved*")
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestE2EFailedDecisionCanBeRetried(t *testing.T) {
	forEachDriver(t, testE2EFailedDecisionCanBeRetried)
}

func testE2EFailedDecisionCanBeRetried(t *testing.T, driver string) {
	h := startBotOn(t, driver, nil)
	prompt := h.paymentsAwaitingApproval(t)

	h.up.mu.Lock()
	h.up.failNext = http.StatusInternalServerError
	h.up.mu.Unlock()
	h.click(t, bob, prompt, "approve")
	h.reply(t, bob, "ServiceStage answered HTTP 500")
	h.updated(t, "The last attempt failed")
	h.click(t, carol, prompt, "approve")
	h.updated(t, "*Approved* by <@"+carol+">")
	approvals := h.up.approvalsSent()
	assert.Equal(t, 2, approvals, "the failed approval and the one that worked")
}

// threadReply waits for a message in the thread of ts containing want.
func (h *harness) threadReply(t *testing.T, ts, want string) fakeslack.Call {
	t.Helper()
	return h.awaitCall(t, "chat.postMessage", fmt.Sprintf("reply in thread %s containing %q", ts, want), func(c fakeslack.Call) bool {
		return c.Params["thread_ts"] == ts && strings.Contains(content(c), want)
	})
}

// editOf waits for an update of the message at ts containing want.
func (h *harness) editOf(t *testing.T, ts, want string) fakeslack.Call {
	t.Helper()
	return h.awaitCall(t, "chat.update", fmt.Sprintf("edit of %s containing %q", ts, want), func(c fakeslack.Call) bool {
		return c.Params["ts"] == ts && strings.Contains(content(c), want)
	})
}

// polls waits until the poller has listed release tasks n more times.
func (h *harness) polls(t *testing.T, n int) {
	t.Helper()
	count := func() int { return h.up.sb.Requests()["list"] }
	target := count() + n
	require.Eventually(t, func() bool { return count() >= target }, 20*time.Second, 5*time.Millisecond)
}

var following = map[string]string{"RELEASEBOT_POLL_INTERVAL": "1s", "RELEASEBOT_APPROVERS": "*"}

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
	prompt := h.threadReply(t, ts, "Approval needed for *payments-api*")
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
	h.updated(t, "*Approved* by <@"+bob+">")
	h.clock.Advance(time.Minute)
	h.threadReply(t, ts, "finished: Released (2)")

	h.command(t, alice, "start data-pipeline")
	dts := h.tsOf(t, h.posted(t, "started *data-pipeline*")).Params["ts"]
	h.clock.Advance(time.Minute)
	h.editOf(t, dts, "Paused (7)")
	hint := h.tsOf(t, h.threadReply(t, dts, "is paused (7)"))
	h.click(t, mallory, hint, "confirm")
	h.reply(t, mallory, "not in RELEASEBOT_OPERATORS")
	h.click(t, alice, hint, "confirm")
	h.posted(t, "continued *data-pipeline*")
	h.clock.Advance(time.Minute)
	h.threadReply(t, dts, "finished: Released (2)")
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

	h.updated(t, "*Closed* at")
	before := len(h.up.actions())
	h.click(t, bob, prompt, "approve")
	h.reply(t, bob, "This approval is closed")
	assert.Len(t, h.up.actions(), before, "a closed prompt sends nothing")
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

// metricsText fetches /metrics of the first instance.
func (h *harness) metricsText(t *testing.T) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://" + h.addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	var b strings.Builder
	_, err = io.Copy(&b, resp.Body)
	require.NoError(t, err)
	return b.String()
}

func TestE2EHealthReadinessMetrics(t *testing.T) {
	h := startBot(t, following)
	assert.Equal(t, http.StatusOK, getStatus(t, "http://"+h.addr+"/healthz"))
	assert.Equal(t, http.StatusOK, getStatus(t, "http://"+h.addr+"/readyz"))

	h.command(t, alice, "start payments-api")
	ts := h.tsOf(t, h.posted(t, "started *payments-api*")).Params["ts"]
	h.command(t, mallory, "start web-frontend")
	h.reply(t, mallory, "not in RELEASEBOT_OPERATORS")
	h.command(t, alice, "<!here>")
	h.reply(t, alice, "Unknown command")
	h.clock.Advance(time.Minute)
	prompt := h.tsOf(t, h.threadReply(t, ts, "Approval needed"))
	h.click(t, bob, prompt, "approve")
	h.updated(t, "*Approved*")
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
			return strings.Contains(string(c.JSON), "RELEASEBOT_OPERATORS")
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

// paymentsAwaitingApproval starts payments-api, lets it reach its approval
// gate, and asks for the approval; it returns the prompt posted.
func (h *harness) paymentsAwaitingApproval(t *testing.T) fakeslack.Call {
	t.Helper()
	starts := strings.Count(h.logs.String(), `"verb":"start"`)
	h.command(t, alice, "start payments-api")
	h.posted(t, "started *payments-api*")
	// The start is recorded once its command is done, as its log line says;
	// a person asks for the approval of a run seconds later, not within
	// the milliseconds of a test.
	require.Eventually(t, func() bool { return strings.Count(h.logs.String(), `"verb":"start"`) > starts }, 10*time.Second, time.Millisecond)
	h.clock.Advance(time.Minute)
	h.command(t, alice, "ask payments-api approve-prod")
	return h.tsOf(t, h.posted(t, "Approval needed for *payments-api*"))
}

// approvalsSent counts the approval actions that reached the upstream.
func (u *upstream) approvalsSent() int {
	n := 0
	for _, a := range u.actions() {
		if strings.Contains(a, "action_id=approval") {
			n++
		}
	}
	return n
}

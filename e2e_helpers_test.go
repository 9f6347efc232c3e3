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

// callTimeoutKey in a test's environment shortens the bound of upstream
// actions (no variable sets it in production).
const callTimeoutKey = "test:call-timeout"

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
	// failAfterNext passes the next action to ServiceStage, then answers
	// with this status instead: a gateway error after the request left.
	failAfterNext int
	hold          chan struct{}
	held          chan struct{}
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.requests = append(u.requests, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	fail, after, hold, held := 0, 0, u.hold, u.held
	if r.Method == http.MethodPost {
		fail, u.failNext = u.failNext, 0
		after, u.failAfterNext = u.failAfterNext, 0
	}
	u.mu.Unlock()
	if r.Method == http.MethodPost && hold != nil {
		held <- struct{}{}
		<-hold
	}
	if after != 0 {
		u.sb.ServeHTTP(httptest.NewRecorder(), r)
		fail = after
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
	fs := fakeslack.New(fakeslack.Options{Scopes: []string{"commands", "chat:write", "usergroups:read", "files:write", "im:write"}})
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
	callTimeout := vars[callTimeoutKey]
	delete(vars, callTimeoutKey)
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	require.NoError(t, err)
	if callTimeout != "" {
		cfg.CallTimeout, err = time.ParseDuration(callTimeout)
		require.NoError(t, err)
	}

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

// forEachDriver runs test on every database the store supports here:
// SQLite always, PostgreSQL when storetest.PostgresEnv is set (CI sets it).
func forEachDriver(t *testing.T, test func(t *testing.T, driver string)) {
	for _, d := range storetest.Drivers() {
		t.Run(d, func(t *testing.T) { test(t, d) })
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
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
	return h.tsOf(t, h.posted(t, "Approval needed: *payments-api*"))
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

package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/releasebot/releasebot/config"
	"github.com/releasebot/releasebot/internal/fakeslack"
)

func TestMain(m *testing.M) {
	// Re-executed by TestEmptyEnvironmentFailsAtOnce to be the real binary.
	if os.Getenv("RELEASEBOT_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	goleak.VerifyTestMain(m)
}

func TestEmptyEnvironmentFailsAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	// Nothing of releasebot's; GOCOVERDIR only keeps `go test -cover` from
	// adding a warning line of its own.
	cmd.Env = []string{"RELEASEBOT_TEST_RUN_MAIN=1", "GOCOVERDIR=" + t.TempDir()}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr

	err := cmd.Run()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, "stderr: %s", stderr.String())
	assert.Equal(t, 2, exitErr.ExitCode())
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	require.Len(t, lines, 1, "one message")
	assert.Contains(t, lines[0], "SLACK_BOT_TOKEN")
	assert.Contains(t, lines[0], "SLACK_APP_TOKEN")
	assert.Empty(t, stdout.String())
}

// logLines collects log output and tells when a line containing a text
// arrives, so tests wait on the program rather than on a clock.
type logLines struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wants map[string]chan struct{}
}

func newLogLines(wants ...string) *logLines {
	l := &logLines{wants: map[string]chan struct{}{}}
	for _, w := range wants {
		l.wants[w] = make(chan struct{})
	}
	return l
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for w, ch := range l.wants {
		if ch != nil && bytes.Contains(l.buf.Bytes(), []byte(w)) {
			close(ch)
			l.wants[w] = nil
		}
	}
	return len(p), nil
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logLines) await(t *testing.T, text string) {
	t.Helper()
	l.mu.Lock()
	ch := l.wants[text]
	l.mu.Unlock()
	if ch == nil {
		return
	}
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("no log line with %q in:\n%s", text, l.String())
	}
}

// sandboxConfig is a sandbox configuration talking to a fake Slack of its own.
func sandboxConfig(t *testing.T, extra map[string]string) (config.Config, *fakeslack.Server) {
	t.Helper()
	fs := fakeslack.New(fakeslack.Options{})
	t.Cleanup(fs.Close)
	env := map[string]string{
		"SLACK_BOT_TOKEN":         fakeslack.DefaultBotToken,
		"SLACK_APP_TOKEN":         fakeslack.DefaultAppToken,
		"SLACK_API_URL":           fs.APIURL(),
		"RELEASEBOT_SANDBOX":      "true",
		"RELEASEBOT_OPERATORS":    "*",
		"LOG_LEVEL":               "debug",
		"RELEASEBOT_DATABASE_URL": "sqlite:" + t.TempDir() + "/releasebot.db",
		"RELEASEBOT_HTTP_ADDR":    "127.0.0.1:0",
	}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	require.NoError(t, err)
	return cfg, fs
}

func TestRunOnTheSandbox(t *testing.T) {
	cfg, fs := sandboxConfig(t, map[string]string{
		"HUAWEICLOUD_AUTH_TOKEN": "SECRET-ignored-token",
		"SERVICESTAGE_ENDPOINT":  "https://servicestage.example",
		"HUAWEICLOUD_SDK_SK":     "SECRET-ignored-sk",
		"HUAWEICLOUD_SDK_AK":     "AKIGNORED",
	})
	logs := newLogLines("releasebot started", "releasebot stopped")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, newLogger(logs, cfg)) }()

	logs.await(t, "releasebot started")
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	require.NoError(t, fs.WaitConnected(wctx, 1))
	env, err := fs.SendSlashCommand(wctx, fakeslack.SlashCommand{Text: "start web-frontend"})
	require.NoError(t, err)
	_, err = env.Ack(wctx)
	require.NoError(t, err)
	_, err = fs.WaitCall(wctx, "chat.postMessage", func(c fakeslack.Call) bool {
		return strings.Contains(c.Params["text"], "started web-frontend: Releasing (4)")
	})
	require.NoError(t, err, "the sandbox answers like ServiceStage")

	cancel()
	require.NoError(t, <-done)
	out := logs.String()
	assert.Equal(t, 1, strings.Count(out, "upstream endpoint, project and credentials are ignored"), out)
	assert.Contains(t, out, `"ignored":["SERVICESTAGE_ENDPOINT","HUAWEICLOUD_AUTH_TOKEN","HUAWEICLOUD_SDK_AK","HUAWEICLOUD_SDK_SK"]`)
	assert.NotContains(t, out, "SECRET")
}

func TestNewUpstreamForEveryAuthMode(t *testing.T) {
	base := map[string]string{
		"SLACK_BOT_TOKEN":        "xoxb-1",
		"SLACK_APP_TOKEN":        "xapp-1",
		"SERVICESTAGE_ENDPOINT":  "https://servicestage.invalid",
		"HUAWEICLOUD_PROJECT_ID": "0a1b2c3d4e5f",
	}
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"token", map[string]string{"HUAWEICLOUD_AUTH_TOKEN": "SECRET-tok"}},
		{"aksk", map[string]string{"HUAWEICLOUD_SDK_AK": "AK1", "HUAWEICLOUD_SDK_SK": "SECRET-sk"}},
		{"iam", map[string]string{
			"HUAWEICLOUD_IAM_ENDPOINT": "https://iam.invalid", "HUAWEICLOUD_IAM_USERNAME": "robot",
			"HUAWEICLOUD_IAM_PASSWORD": "SECRET-pw", "HUAWEICLOUD_IAM_DOMAIN": "acme",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			require.NoError(t, err)
			var logs bytes.Buffer
			// Credentials are not checked at start-up: building the client
			// must not dial out (the endpoint does not even resolve).
			c, closeFn, err := newUpstream(context.Background(), cfg, zerolog.New(&logs), http.DefaultTransport)
			require.NoError(t, err)
			require.NotNil(t, c)
			closeFn()
			assert.Contains(t, logs.String(), `"auth":"`+tt.name+`"`)
			assert.NotContains(t, logs.String(), "SECRET")
		})
	}
	_, _, err := newUpstream(context.Background(), config.Config{}, zerolog.Nop(), http.DefaultTransport)
	require.Error(t, err)
	assert.False(t, errors.Is(err, context.Canceled))
}

func TestSIGTERMExitsCleanly(t *testing.T) {
	fs := fakeslack.New(fakeslack.Options{})
	defer fs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = []string{
		"RELEASEBOT_TEST_RUN_MAIN=1", "GOCOVERDIR=" + t.TempDir(),
		"SLACK_BOT_TOKEN=" + fakeslack.DefaultBotToken, "SLACK_APP_TOKEN=" + fakeslack.DefaultAppToken,
		"SLACK_API_URL=" + fs.APIURL(), "RELEASEBOT_SANDBOX=true",
		"RELEASEBOT_DATABASE_URL=sqlite:" + t.TempDir() + "/releasebot.db", "RELEASEBOT_HTTP_ADDR=127.0.0.1:0",
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	require.NoError(t, fs.WaitConnected(ctx, 1)) // stderr is read only after Wait
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "exit 0 after SIGTERM; stderr: %s", stderr.String())
	assert.Contains(t, stdout.String(), "releasebot stopped")
	assert.NotContains(t, stdout.String(), fakeslack.DefaultBotToken)
}

func TestRunStopsWhenSlackRefusesTheAppToken(t *testing.T) {
	cfg, _ := sandboxConfig(t, map[string]string{"SLACK_APP_TOKEN": "xapp-1-not-the-fakes-token"})
	done := make(chan error, 1)
	go func() { done <- run(context.Background(), cfg, zerolog.Nop()) }()
	select {
	case err := <-done:
		require.Error(t, err)
		assert.Contains(t, err.Error(), "invalid_auth")
		assert.NotContains(t, err.Error(), "not-the-fakes-token")
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after Slack refused the app token")
	}
}

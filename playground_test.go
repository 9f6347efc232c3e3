//go:build !noplayground

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/playground"
)

// chromium finds the browser for the playground test: Debian's chromium
// package, or one on PATH. Without one the test fails when CI is set (CI
// installs it) and is skipped elsewhere.
func chromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "no Chromium at /usr/bin/chromium or on PATH: install it (apt-get install -y chromium) to run the playground's browser test"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// startPlayground runs the playground in this process on a loopback port
// and returns the page's URL once the bot is connected.
func startPlayground(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	out, logs := newLogLines("releasebot playground: open"), newLogLines()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runPlayground(ctx, ln, out, logs) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		if t.Failed() {
			t.Logf("playground log:\n%s", logs.String())
		}
	})
	out.await(t, "releasebot playground: open")
	return "http://" + ln.Addr().String() + "/"
}

// browser starts headless Chromium for the test; the returned context
// drives one tab and ends at deadline. On failure a screenshot of the page
// is saved in the test's temporary directory.
func browser(t *testing.T, deadline time.Duration) context.Context {
	t.Helper()
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	// The browser lives as long as the context of its first action: one
	// without the deadline, which only the test's actions get.
	require.NoError(t, chromedp.Do(bctx), "start Chromium")
	ctx, cancel := context.WithTimeout(bctx, deadline)
	t.Cleanup(cancel)
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		// The deadline may be what failed the test: take the picture without it.
		sctx, scancel := context.WithTimeout(bctx, 10*time.Second)
		defer scancel()
		text, _ := chromedp.Run(sctx, chromedp.Text(chromedp.CSS("body")))
		t.Logf("text of the page:\n%s", text)
		png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Logf("no screenshot: %v", err)
			return
		}
		path := filepath.Join(t.TempDir(), "playground.png")
		if err := os.WriteFile(path, png, 0o600); err == nil {
			t.Logf("screenshot of the page: %s", path)
		}
	})
	return ctx
}

// actAs picks a person in the page's switcher, as a person would, and
// waits until the page shows what that person sees.
func actAs(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.SetValue(chromedp.CSS("#who"), id),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("who").dispatchEvent(new Event("change"))`),
		chromedp.WaitVisible(chromedp.CSS(`body[data-as="`+id+`"][data-connected="true"]`)),
	)
}

// command types a command in the message box and sends it with Enter.
func command(text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitEnabled(chromedp.CSS("#compose")),
		chromedp.SendKeys(chromedp.CSS("#compose"), text+kb.Enter),
	)
}

// poll waits, without a deadline of its own, for the expression to be truthy
// and returns its value.
func poll[T any](ctx context.Context, expr string) (T, error) {
	return chromedp.Run(ctx, chromedp.Poll[T](expr, chromedp.WithPollingTimeout(0)))
}

// The page's hooks are data attributes (data-ts, data-thread-ts,
// data-user, data-edits, data-ephemeral) and button texts, not the bot's
// sentences, which change as its messages are reworked.
const (
	progressTS = `(() => {
	  const m = [...document.querySelectorAll('#timeline > li.msg[data-user="U0BOT"]')]
	    .find((li) => li.textContent.includes('payments-api'));
	  return m ? m.dataset.ts : '';
	})()`
	threadReplyReleased = `[...document.querySelectorAll('#timeline li.msg[data-thread-ts]')]
	  .some((li) => li.dataset.threadTs !== li.dataset.ts && li.dataset.ephemeral === 'false' && li.textContent.includes('Released (2)'))`
	ephemeralTexts = `[...document.querySelectorAll('#timeline li.msg[data-ephemeral="true"]')].map((li) => li.textContent)`
	approveButton  = chromedp.Search(`(//*[@id="timeline"]//button[normalize-space(.)="Approve"])[1]`)
)

func TestPlaygroundInABrowser(t *testing.T) {
	url := startPlayground(t)
	ctx := browser(t, 2*time.Minute)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(url+"?as="+playground.Operator),
		chromedp.WaitVisible(chromedp.CSS(`body[data-as="`+playground.Operator+`"][data-connected="true"]`)),
		command("/release start payments-api"),
	))
	ts, err := poll[string](ctx, progressTS)
	require.NoError(t, err, "the operator's start is posted in the channel")
	_, err = poll[bool](ctx, `document.querySelector('#timeline li.msg[data-ts="`+ts+`"]')?.dataset.edits > 0`)
	require.NoError(t, err, "the progress message changes in place")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.WaitVisible(approveButton),
		actAs(playground.Approver1),
		chromedp.Click(approveButton),
	), "an approver approves the prompt")
	_, err = poll[bool](ctx, threadReplyReleased)
	require.NoError(t, err, "the thread of the progress message says Released (2)")

	require.NoError(t, chromedp.Do(ctx,
		actAs(playground.Visitor),
		command("/release start web-frontend"),
	))
	denial, err := poll[[]string](ctx, ephemeralTexts+`.length > 0 && `+ephemeralTexts)
	require.NoError(t, err, "someone with no role is refused")
	require.Len(t, denial, 1)
	assert.Contains(t, denial[0], "Only visible to you")

	require.NoError(t, chromedp.Do(ctx,
		actAs(playground.Operator),
		chromedp.WaitVisible(chromedp.CSS(`#timeline li.msg[data-ts="`+ts+`"]`)),
	))
	seen, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](ephemeralTexts))
	require.NoError(t, err)
	assert.NotContains(t, seen, denial[0], "the refusal is private")
	started, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('timeline').textContent.includes('web-frontend')`))
	require.NoError(t, err)
	assert.False(t, started, "nothing about web-frontend reached the channel")
}

// TestPlaygroundRendersMrkdwn checks the page's mrkdwn renderer on what
// releasebot writes: it is the page's own code, run in the browser.
func TestPlaygroundRendersMrkdwn(t *testing.T) {
	url := startPlayground(t)
	ctx := browser(t, time.Minute)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(url+"?as="+playground.Operator),
		chromedp.WaitVisible(chromedp.CSS(`body[data-as="`+playground.Operator+`"]`)),
	))

	tests := []struct {
		name, in string
		wantText string
		wantHTML string // a part of the rendered HTML; "" to skip
	}{
		{"bold", "*payments-api* started", "payments-api started", "<strong>payments-api</strong>"},
		{"italic", "_slow_ run", "slow run", "<em>slow</em>"},
		{"strike", "~old~", "old", "<del>old</del>"},
		{"snake case is not italic", "deploy_canary_task", "deploy_canary_task", ""},
		{"code", "task `approve-prod`", "task approve-prod", "<code>approve-prod</code>"},
		{"no markup in code", "`*x*`", "*x*", "<code>*x*</code>"},
		{"pre", "```line 1\nline 2```", "line 1\nline 2", "<pre>line 1\nline 2</pre>"},
		{"user", "by <@U0APPROVER1>", "by @Amir", `<span class="mention">@Amir</span>`},
		{"unknown user", "<@U0NOBODY>", "@u0nobody", ""},
		{"user group", "<!subteam^S0LEADS>", "@S0LEADS", ""},
		{"user group with handle", "<!subteam^S0LEADS|@leads>", "@leads", ""},
		{"here", "<!here> look", "@here look", ""},
		{"channel", "in <#C0REL>", "in #releases", ""},
		{"date with a bad time shows the fallback", "<!date^x^{date_num}|2026-11-29 10:00 UTC>", "2026-11-29 10:00 UTC", ""},
		{"link is text", "<https://console.example/x|Open in ServiceStage>", "Open in ServiceStage", `<span class="link" title="https://console.example/x">`},
		{"escaped text stays text", "&lt;b&gt; &amp; co", "<b> & co", "&lt;b&gt; &amp; co"},
		{"emoji", ":white_check_mark: Released (2)", "✅ Released (2)", `title=":white_check_mark:"`},
		{"unknown emoji", ":no_such_emoji:", ":no_such_emoji:", ""},
		{"new line", "a\nb", "ab", "a<br>b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := json.Marshal(tt.in)
			require.NoError(t, err)
			got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
			  const d = document.createElement('div');
			  d.append(mrkdwn(`+string(in)+`));
			  return [d.textContent, d.innerHTML];
			})()`))
			require.NoError(t, err)
			assert.Equal(t, tt.wantText, got[0], "text of %q", tt.in)
			assert.Contains(t, got[1], tt.wantHTML, "HTML of %q", tt.in)
		})
	}

	date, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
	  const d = document.createElement('div');
	  d.append(mrkdwn('<!date^1700000000^{date_num} {time}|fallback>'));
	  return d.textContent;
	})()`))
	require.NoError(t, err)
	assert.Regexp(t, `^2023-11-1[45] \d`, date, "a date is shown in the reader's time zone")
}

// TestPlaygroundOnAnEmptyEnvironment runs `releasebot playground` as a
// fresh clone would: no variable set but the address (8080 may be taken).
func TestPlaygroundOnAnEmptyEnvironment(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tmp := t.TempDir()
	cmd := exec.CommandContext(ctx, os.Args[0], "playground")
	cmd.Env = []string{"RELEASEBOT_TEST_RUN_MAIN=1", "GOCOVERDIR=" + t.TempDir(), "RELEASEBOT_HTTP_ADDR=127.0.0.1:0", "TMPDIR=" + tmp}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := newLogLines() // written by the command while the test reads it
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())

	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "stderr: %s", stderr.String())
	_, rest, found := strings.Cut(line, "open ")
	require.True(t, found, "got %q", line)
	url, _, _ := strings.Cut(rest, " ")
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+/$`, url)

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	for _, path := range []string{"", "app.js", "style.css", "api/users"} {
		resp, err := hc.Get(url + path)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, path)
		assert.NotEmpty(t, body, path)
		assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'self'", path)
	}

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "exit 0 after SIGTERM; stderr: %s", stderr.String())
	assert.NotContains(t, stderr.String(), "xoxb-", "no token in the log")
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "the temporary database is removed")
}

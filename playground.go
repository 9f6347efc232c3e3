//go:build !noplayground

package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/releasebot/releasebot/config"
	"github.com/releasebot/releasebot/internal/fakeslack"
	"github.com/releasebot/releasebot/playground"
)

// playgroundAddr is where the page is served unless RELEASEBOT_HTTP_ADDR
// says otherwise: loopback only, since the page acts as anyone.
const playgroundAddr = "127.0.0.1:8080"

// playgroundMain is `releasebot playground`; it returns the exit code.
func playgroundMain(stdout, stderr io.Writer) int {
	addr := os.Getenv("RELEASEBOT_HTTP_ADDR")
	if addr == "" {
		addr = playgroundAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "releasebot playground: %v\n(set RELEASEBOT_HTTP_ADDR to another address, such as 127.0.0.1:8081)\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runPlayground(ctx, ln, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "releasebot playground:", err)
		return 1
	}
	return 0
}

// runPlayground runs the production bot (run) against the Slack simulator
// and the sandbox ServiceStage, with an SQLite database in a temporary
// directory, and serves the page on ln until ctx is done. It reads no
// environment: everything it needs is made here. It prints the page's URL to
// out once the bot is connected; the bot logs to logs.
func runPlayground(ctx context.Context, ln net.Listener, out, logs io.Writer) (err error) {
	defer ln.Close()
	dir, err := os.MkdirTemp("", "releasebot-playground-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()

	// Fresh tokens each time: nothing else on this machine can pose as the bot.
	botToken, appToken := "xoxb-"+rand.Text(), "xapp-"+rand.Text()
	sim := fakeslack.New(fakeslack.Options{
		BotToken: botToken,
		AppToken: appToken,
		Scopes:   fakeslack.AllScopes(),
		Users:    playground.People(),
	})
	defer sim.Close()

	env := map[string]string{
		"SLACK_BOT_TOKEN":          botToken,
		"SLACK_APP_TOKEN":          appToken,
		"SLACK_API_URL":            sim.APIURL(),
		"RELEASEBOT_SANDBOX":       "true",
		"RELEASEBOT_OPERATORS":     playground.Operator,
		"RELEASEBOT_APPROVERS":     strings.Join([]string{playground.Approver1, playground.Approver2}, ","),
		"RELEASEBOT_POLL_INTERVAL": "2s",
		"RELEASEBOT_DATABASE_URL":  "sqlite:" + filepath.Join(dir, "releasebot.db"),
		// The page has the address people type; health and metrics take a
		// loopback port of their own, logged at start-up.
		"RELEASEBOT_HTTP_ADDR": "127.0.0.1:0",
		"LOG_FORMAT":           "console",
	}
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return fmt.Errorf("playground configuration: %w", err)
	}

	// Streams to the page end with this context, so that shutdown does not
	// wait for them.
	pageCtx, stopPage := context.WithCancel(context.WithoutCancel(ctx))
	srv := &http.Server{
		Handler:           playground.Handler(sim),
		ReadHeaderTimeout: 5 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return pageCtx },
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln) // ErrServerClosed after Shutdown
	}()
	defer func() {
		stopPage()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-served
	}()

	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	// wctx also ends when run returns early (say the database failed).
	wctx, stopWaiting := context.WithTimeout(ctx, 30*time.Second)
	defer stopWaiting()
	done := make(chan error, 1)
	go func() {
		done <- run(runCtx, cfg, newLogger(logs, cfg))
		stopWaiting()
	}()
	if err := sim.WaitConnected(wctx, 1); err != nil {
		stopRun()
		if runErr := <-done; runErr != nil || ctx.Err() != nil {
			return runErr
		}
		return fmt.Errorf("the bot did not connect to the simulator: %w", err)
	}
	fmt.Fprintf(out, "releasebot playground: open http://%s/ in a browser (Ctrl+C stops it)\n", ln.Addr())
	return <-done
}

package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/bot"
	"github.com/releasebot/releasebot/config"
	"github.com/releasebot/releasebot/handlers"
	"github.com/releasebot/releasebot/poller"
	"github.com/releasebot/releasebot/release"
	"github.com/releasebot/releasebot/sandbox"
	"github.com/releasebot/releasebot/store"
)

// run builds every dependency from cfg once and serves until ctx is done.
// Tests call it directly, as main does.
func run(ctx context.Context, cfg config.Config, log zerolog.Logger) error {
	m := newMetrics()
	releases, closeUpstream, err := newUpstream(ctx, cfg, log, m.instrument(newUpstreamTransport()))
	if err != nil {
		return err
	}
	defer closeUpstream()

	db, err := store.Open(ctx, cfg.DatabaseDriver, cfg.DatabaseDSN.Reveal())
	if err != nil {
		// The error may quote the DSN's driver, never its value.
		return fmt.Errorf("database: %w", err)
	}
	defer db.Close()

	slackBot := bot.New(bot.Config{
		BotToken:    cfg.SlackBotToken.Reveal(),
		AppToken:    cfg.SlackAppToken.Reveal(),
		APIURL:      cfg.SlackAPIURL,
		HTTPClient:  &http.Client{Timeout: 30 * time.Second, Transport: newSlackTransport()},
		OnAck:       func(d time.Duration) { m.ack.Observe(d.Seconds()) },
		OnReconnect: m.reconnect.Inc,
	}, log)
	router := newRouter(cfg, log, releases, slackBot, db, m)
	poll := poller.New(poller.Config{
		Log: log, Releases: releases, Store: db, Reporter: router.Reporter(), Announcer: router.Reporter(), Metrics: m,
		Interval: cfg.PollInterval, Owner: rand.Text(), ClaimHold: handlers.ClaimHold(cfg.CallTimeout),
		Schedule: release.Schedule{Every: cfg.ApprovalRemind, Reminders: cfg.ApprovalReminders},
	})

	stopHTTP, err := serveHTTP(ctx, cfg.HTTPAddr, m, func(ctx context.Context) error {
		if !slackBot.Connected() {
			return errors.New("the Slack socket is not connected")
		}
		if err := db.Ping(ctx); err != nil {
			return errors.New("the database does not answer")
		}
		return nil
	}, log)
	if err != nil {
		return err
	}
	defer stopHTTP()

	log.Info().Bool("sandbox", cfg.Sandbox).Msg("releasebot started")
	// The poller stops with the bot, also when the bot stops on its own
	// (Slack refused the app token).
	followCtx, stopFollowing := context.WithCancel(ctx)
	following := make(chan struct{})
	go func() {
		defer close(following)
		poll.Run(followCtx)
	}()
	err = slackBot.Run(ctx, router)
	stopFollowing()
	<-following
	log.Info().Msg("releasebot stopped")
	return err
}

// newRouter builds the handlers of every command, click and submission.
func newRouter(cfg config.Config, log zerolog.Logger, releases *api.Client, slackBot *bot.Bot, db *store.Store, m *metrics) *handlers.Router {
	return handlers.New(handlers.Deps{
		Log:               log,
		Releases:          releases,
		Slack:             slackBot,
		Groups:            slackBot,
		Prompts:           db,
		Confirmations:     db,
		Audit:             db,
		Expiring:          db,
		Home:              db,
		HomePublisher:     slackBot,
		Operators:         cfg.Operators,
		Approvers:         cfg.Approvers,
		EscalateTo:        cfg.ApprovalEscalateTo,
		Policy:            cfg.Policy,
		Channels:          cfg.Channels,
		Aliases:           cfg.Aliases,
		RequiredApprovals: cfg.RequiredApprovals,
		AllowSelfApproval: cfg.AllowSelfApproval,
		ApprovalTasks:     cfg.ApprovalTasks,
		CallTimeout:       cfg.CallTimeout,
		Deadline:          handlers.Deadline{After: cfg.ApprovalTimeout, Refuse: cfg.ApprovalTimeoutAction == config.TimeoutRefuse},
		ReminderDMs:       cfg.ApprovalDM,
		ConsoleURL:        cfg.ConsoleURL,
		ProjectID:         cfg.Upstream.ProjectID,
		Metrics:           m,
		Locks:             db,
		Exports:           db,
		Files:             slackBot,
		FreezeOverriders:  cfg.FreezeOverriders,
	})
}

// newUpstream returns the ServiceStage client: for the configured cloud, or
// for a simulator started on loopback when cfg.Sandbox is set. The returned
// func releases what was started; it must be called.
func newUpstream(ctx context.Context, cfg config.Config, log zerolog.Logger, transport http.RoundTripper) (*api.Client, func(), error) {
	httpClient := &http.Client{Transport: transport}
	if cfg.Sandbox {
		if len(cfg.IgnoredUpstream) > 0 {
			log.Warn().Strs("ignored", cfg.IgnoredUpstream).Msg("sandbox mode: upstream endpoint, project and credentials are ignored")
		}
		token := rand.Text()
		const project = "sandbox"
		l, err := sandbox.Listen(ctx, sandbox.Options{ProjectID: project, Token: token})
		if err != nil {
			return nil, nil, fmt.Errorf("start sandbox: %w", err)
		}
		c, err := api.NewClient(httpClient, l.URL, project, api.NewStaticToken(token))
		if err != nil {
			_ = l.Close()
			return nil, nil, fmt.Errorf("sandbox client: %w", err)
		}
		log.Info().Str("url", l.URL).Msg("sandbox ServiceStage listening")
		return c, func() { _ = l.Close() }, nil
	}

	up := cfg.Upstream
	var auth api.Authenticator
	switch up.Auth.Mode {
	case config.AuthToken:
		auth = api.NewStaticToken(up.Auth.Token.Reveal())
	case config.AuthAKSK:
		auth = api.NewAKSK(up.Auth.AK, up.Auth.SK.Reveal(), up.ProjectID)
	case config.AuthIAM:
		iam, err := api.NewIAMPassword(httpClient, api.IAMCredentials{
			Endpoint:  up.Auth.IAMEndpoint,
			Username:  up.Auth.IAMUsername,
			Password:  up.Auth.IAMPassword.Reveal(),
			Domain:    up.Auth.IAMDomain,
			ProjectID: up.ProjectID,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("IAM authentication: %w", err)
		}
		auth = iam
	default:
		return nil, nil, fmt.Errorf("no upstream authentication configured (mode %s)", up.Auth.Mode)
	}
	c, err := api.NewClient(httpClient, up.Endpoint, up.ProjectID, auth)
	if err != nil {
		return nil, nil, fmt.Errorf("ServiceStage client: %w", err)
	}
	endpoint := up.Endpoint
	if u, err := url.Parse(endpoint); err == nil {
		endpoint = u.Redacted()
	}
	log.Info().Str("endpoint", endpoint).Str("auth", up.Auth.Mode.String()).Msg("ServiceStage configured")
	return c, func() {}, nil
}

// newLogger writes JSON lines to w, or a human-readable console format.
func newLogger(w io.Writer, cfg config.Config) zerolog.Logger {
	if cfg.LogFormat == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: w != os.Stdout}
	}
	return zerolog.New(w).Level(cfg.LogLevel).With().Timestamp().Logger()
}

// A burst of commands holds one connection per call in flight; a call that
// finds none idle opens one, and one returned beyond the idle bound is
// closed. With 128 kept idle, 10,000 commands back to back opened 4,000 to
// 7,000 connections to each host (go run ./bench counts them).
const (
	// upstreamConns: ServiceStage calls may take seconds, so up to the
	// worker bound (bot.Config.Workers, 1,024) run at once, each on its
	// own connection; all of them stay idle for the next burst.
	upstreamConns = 1024
	// slackConns bounds the connections to Slack, idle or not. Slack answers
	// in milliseconds and rate-limits posting (about one message a second
	// per channel), so 256 carry any burst; a call beyond them waits for
	// one instead of opening a 257th. Unbounded, 1,000 operations in flight
	// held 15 MB more (SPEC §7's bar is 100 MB).
	slackConns = 256
)

// newUpstreamTransport is Go's default transport keeping upstreamConns idle.
func newUpstreamTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = upstreamConns, upstreamConns
	return t
}

// newSlackTransport is Go's default transport with at most slackConns
// connections per host, all of which may stay idle.
func newSlackTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost, t.MaxConnsPerHost = slackConns, slackConns, slackConns
	return t
}

// Package baseline holds the HTTP settings of the benchmark's minimal bot,
// which must be releasebot's own so that the baseline is tuned as the bot is.
//
// releasebot builds its transports in package main (run.go's
// newUpstreamTransport and newSlackTransport),
// which nothing can import; the root bench_test.go compares the two field by
// field and fails when they diverge.
package baseline

import (
	"net/http"
	"time"

	"github.com/releasebot/releasebot/bot"
)

// UpstreamTimeout bounds each upstream call, as api.Client's default does.
const UpstreamTimeout = 30 * time.Second

// NewUpstreamTransport returns a transport like releasebot's for
// ServiceStage: Go's default, keeping 1,024 idle connections (in all and
// per host) instead of two per host.
func NewUpstreamTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 1024, 1024
	return t
}

// NewSlackTransport returns a transport like releasebot's for Slack: Go's
// default, with at most 256 connections per host, all of which may stay
// idle.
func NewSlackTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost, t.MaxConnsPerHost = 256, 256, 256
	return t
}

// SlackClient is the HTTP client releasebot gives slack-go: a transport of
// its own and a 30 s bound per call.
func SlackClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: NewSlackTransport()}
}

// SlackRequester is what releasebot gives slack-go as its HTTP client:
// SlackClient, dropping Slack's echo of each posted message before slack-go
// decodes it (bot.Echoless).
func SlackRequester() bot.Echoless { return bot.NewEcholess(SlackClient()) }

// UpstreamClient is the HTTP client releasebot gives its ServiceStage
// client: a transport of its own and no client-wide timeout; the caller
// bounds each call with its context, as api.Client does (30 s per attempt).
func UpstreamClient() *http.Client {
	return &http.Client{Transport: NewUpstreamTransport()}
}

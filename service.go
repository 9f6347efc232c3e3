package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// metrics are releasebot's Prometheus collectors, in a registry of their
// own (run may be called several times in one process, by tests).
type metrics struct {
	registry  *prometheus.Registry
	commands  *prometheus.CounterVec
	upstream  *prometheus.HistogramVec
	ack       prometheus.Histogram
	reconnect prometheus.Counter
	followed  prometheus.Gauge
	decisions *prometheus.CounterVec

	// The children of commands and upstream, once made: every command
	// and upstream call would otherwise hash its labels and take the
	// vector's lock to find them.
	commandOf  cache[[2]string, prometheus.Counter]
	upstreamOf cache[upstreamLabels, prometheus.Observer]
}

type upstreamLabels struct {
	operation string
	status    int // 0: no answer
}

// cache keeps what a vector's WithLabelValues returned. The labels come
// from fixed sets (verbs, outcomes, operations, statuses), so it stays small.
type cache[K comparable, V any] struct{ m sync.Map }

func (c *cache[K, V]) get(k K, newV func(K) V) V {
	if v, ok := c.m.Load(k); ok {
		return v.(V)
	}
	v, _ := c.m.LoadOrStore(k, newV(k))
	return v.(V)
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "releasebot_commands_total", Help: "Commands, clicks and submissions by verb and outcome.",
		}, []string{"verb", "outcome"}),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "releasebot_upstream_request_duration_seconds", Help: "ServiceStage and IAM requests by operation and HTTP status.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"operation", "status"}),
		ack: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "releasebot_ack_latency_seconds", Help: "From an envelope's arrival on the read loop to its acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16),
		}),
		reconnect: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "releasebot_slack_reconnects_total", Help: "Socket Mode reconnections after the first connection.",
		}),
		followed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "releasebot_followed_executions", Help: "Executions being followed, as of the last poll by this replica.",
		}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "releasebot_decisions_total", Help: "Approval decisions sent upstream (agree, refuse) or closed without one.",
		}, []string{"decision"}),
	}
	m.registry.MustRegister(m.commands, m.upstream, m.ack, m.reconnect, m.followed, m.decisions,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) Command(verb, outcome string) {
	m.commandOf.get([2]string{verb, outcome}, func(k [2]string) prometheus.Counter {
		return m.commands.WithLabelValues(k[0], k[1])
	}).Inc()
}
func (m *metrics) Decision(d string) { m.decisions.WithLabelValues(d).Inc() }
func (m *metrics) Followed(n int)    { m.followed.Set(float64(n)) }

// instrument wraps the upstream transport to time every request by
// operation; the operation is derived from the path, never a raw ID.
func (m *metrics) instrument(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		start := time.Now()
		resp, err := next.RoundTrip(r)
		l := upstreamLabels{operation: operation(r)}
		if err == nil {
			l.status = resp.StatusCode
		}
		m.upstreamOf.get(l, func(l upstreamLabels) prometheus.Observer {
			status := "error"
			if l.status != 0 {
				status = strconv.Itoa(l.status)
			}
			return m.upstream.WithLabelValues(l.operation, status)
		}).Observe(time.Since(start).Seconds())
		return resp, err
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// actionOperations name the known actions' requests: built once, not
// "action:" + id per call.
var actionOperations = map[string]string{
	"start": "action:start", "stop": "action:stop", "continue": "action:continue",
	"retry": "action:retry", "rollback": "action:rollback", "approval": "action:approval",
}

// operation names an upstream request: list, get, records, action:<id>, iam_token.
func operation(r *http.Request) string {
	p := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case strings.HasSuffix(p, "/auth/tokens"):
		return "iam_token"
	case strings.HasSuffix(p, "/action"):
		if op, known := actionOperations[rawQueryValue(r.URL.RawQuery, "action_id")]; known {
			return op
		}
		return "action"
	case strings.HasSuffix(p, "/records"):
		return "records"
	case strings.HasSuffix(p, "/pipeline/pipelines"):
		return "list"
	case strings.Contains(p, "/pipeline/pipelines/"):
		return "get"
	}
	return "other"
}

// rawQueryValue returns key's first value in the query, unescaped as it
// is: url.Values, which unescapes them all, cost more than the rest of the
// upstream metric, for one value that is compared with plain words.
func rawQueryValue(query, key string) string {
	for query != "" {
		var pair string
		pair, query, _ = strings.Cut(query, "&")
		if k, v, _ := strings.Cut(pair, "="); k == key {
			return v
		}
	}
	return ""
}

// serveHTTP serves /healthz, /readyz and /metrics on addr until ctx is done.
// ready reports why the service is not ready, or nil.
func serveHTTP(ctx context.Context, addr string, m *metrics, ready func(context.Context) error, log zerolog.Logger) (func(), error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		rctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ready(rctx); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("health server stopped")
		}
	}()
	log.Info().Str("http_addr", ln.Addr().String()).Msg("serving /healthz, /readyz and /metrics")
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
	}, nil
}

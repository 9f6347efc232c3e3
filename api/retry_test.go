package api

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/release"
)

func TestOperateIsNeverRetried(t *testing.T) {
	tests := []struct {
		name        string
		respond     func(w http.ResponseWriter)
		wantUnknown bool // ServiceStage may have acted (a gateway error or no answer): the caller must not resend blindly
	}{
		{"500", func(w http.ResponseWriter) { writeJSON(w, 500, `{"error_code":"E","error_msg":"x"}`) }, true},
		{"502", func(w http.ResponseWriter) { writeJSON(w, 502, ``) }, true},
		{"503 with Retry-After", func(w http.ResponseWriter) { w.Header().Set("Retry-After", "1"); writeJSON(w, 503, ``) }, true},
		{"429", func(w http.ResponseWriter) { w.Header().Set("Retry-After", "1"); writeJSON(w, 429, ``) }, false},
		{"connection dropped", hangUp, true},
		{"garbage 200", func(w http.ResponseWriter) { writeJSON(w, 200, `{"id":`) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { tt.respond(w) })
			c, waits := f.client(t, nil)
			_, err := c.Operate(context.Background(), testTask, release.ActionStart, nil)
			require.Error(t, err)
			assert.Equal(t, tt.wantUnknown, errors.Is(err, ErrOutcomeUnknown), "%v", err)
			assert.Len(t, f.requests(), 1, "a start must never be sent twice")
			assert.Empty(t, *waits)
		})
	}
}

func TestRefusedConnectionIsAKnownOutcome(t *testing.T) {
	f := setup(t)
	c, _ := f.client(t, nil)
	f.server.Close()
	_, err := c.Operate(context.Background(), testTask, release.ActionStart, nil)
	require.Error(t, err)
	assert.False(t, errors.Is(err, ErrOutcomeUnknown), "nothing was sent: %v", err)
}

func TestReadsRetryWithBackoff(t *testing.T) {
	tests := []struct {
		name      string
		responses []func(w http.ResponseWriter)
		wantErr   bool
		wantReqs  int
		checkWait func(t *testing.T, waits []time.Duration)
	}{
		{"503 then ok", []func(http.ResponseWriter){status(503), status(503), ok}, false, 3, nil},
		{"connection error then ok", []func(http.ResponseWriter){hangUp, ok}, false, 2, nil},
		{"429 honours Retry-After", []func(http.ResponseWriter){retryAfter(429, "3"), ok}, false, 2,
			func(t *testing.T, waits []time.Duration) { assert.Equal(t, []time.Duration{3 * time.Second}, waits) }},
		{"Retry-After longer than allowed fails at once", []func(http.ResponseWriter){retryAfter(429, "3600"), ok}, true, 1, nil},
		{"gives up after the retries", []func(http.ResponseWriter){status(500), status(500), status(500), status(500), ok}, true, 4,
			func(t *testing.T, waits []time.Duration) {
				require.Len(t, waits, 3)
				for i, w := range waits {
					assert.Greater(t, w, time.Duration(0))
					assert.LessOrEqual(t, w, 5*time.Second, "wait %d", i)
				}
			}},
		{"404 is not retried", []func(http.ResponseWriter){status(404), ok}, true, 1, nil},
		{"400 is not retried", []func(http.ResponseWriter){status(400), ok}, true, 1, nil},
		{"garbage json is not retried", []func(http.ResponseWriter){func(w http.ResponseWriter) { writeJSON(w, 200, "{") }, ok}, true, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			var n atomic.Int32
			f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
				tt.responses[n.Add(1)-1](w)
			})
			c, waits := f.client(t, nil)
			_, err := c.ListReleaseTasks(context.Background())
			if tt.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			assert.Len(t, f.requests(), tt.wantReqs)
			if tt.checkWait != nil {
				tt.checkWait(t, *waits)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"2", 2 * time.Second}, {" 7 ", 7 * time.Second}, {"-1", 0}, {"soon", 0},
		{"99999999", 86400 * time.Second},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, parseRetryAfter(tt.in, now))
		})
	}
}

// Every attempt is bounded by the client's timeout, whether the caller set
// no deadline or a later one; a caller's earlier deadline bounds it instead,
// and then nothing is retried.
func TestEveryRequestHasATimeout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		caller  time.Duration // 0: no deadline
		timeout time.Duration
		lists   int // list requests: the first and its retries
	}{
		{"no caller deadline", 0, 20 * time.Millisecond, 3},
		{"a later caller deadline", 2 * time.Second, 20 * time.Millisecond, 3},
		{"an earlier caller deadline", 20 * time.Millisecond, time.Hour, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
			c, _ := f.client(t, nil, WithTimeout(tc.timeout), WithRetries(2, time.Millisecond, time.Second))
			ctx := func() context.Context {
				if tc.caller == 0 {
					return context.Background()
				}
				ctx, cancel := context.WithTimeout(context.Background(), tc.caller)
				t.Cleanup(cancel)
				return ctx
			}

			_, err := c.Operate(ctx(), testTask, release.ActionStart, nil)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.ErrorIs(t, err, ErrOutcomeUnknown)
			assert.Len(t, f.requests(), 1, "a timed-out start may have reached the server: not resent")

			_, err = c.ListReleaseTasks(ctx())
			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Len(t, f.requests(), 1+tc.lists, "reads are retried after the client's timeout, not the caller's")
		})
	}
}

func TestCallerContextWins(t *testing.T) {
	f := setup(t)
	arrived := make(chan struct{}, 1)
	f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	})
	c, _ := f.client(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()

	_, err := c.ListReleaseTasks(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.Len(t, f.requests(), 1, "no retry once the caller has gone")

	_, err = c.Operate(ctx, testTask, release.ActionStart, nil)
	require.ErrorIs(t, err, context.Canceled)
}

func TestRetryStopsWhenCallerGoesDuringBackoff(t *testing.T) {
	f := setup(t)
	f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 503, ``) })
	c, err := NewClient(f.server.Client(), f.server.URL, testProject, NewStaticToken(testToken),
		WithRetries(3, time.Hour, 2*time.Hour))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	c.sleep = func(ctx context.Context, d time.Duration) error {
		cancel()
		return sleepCtx(ctx, d)
	}
	_, err = c.ListReleaseTasks(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.Len(t, f.requests(), 1)
}

func TestSleepCtx(t *testing.T) {
	require.NoError(t, sleepCtx(context.Background(), time.Microsecond))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, sleepCtx(ctx, time.Hour), context.Canceled)
}

package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/release"
)

// The safety rules of SPEC §1: no redirect is followed, an action answered
// by a failing gateway has an unknown outcome, no IAM token is sent with
// under a minute to live, and none of it leaks a secret. The helpers here
// are this file's own, so that it stands apart from the other test files.

const (
	safeProject  = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	safeTask     = "caf409b1-10df-483a-b14d-7b05f7e12c88"
	safeToken    = "TOKEN-SECRET-safety-51c2"
	safeAK       = "AKSAFETY0123456789"
	safeSK       = "SK-SECRET-safety-0d9e8f"
	safePassword = "PW-SECRET-safety-77aa"
	safeIAMToken = "IAMTOKEN-SAFETY-" // the stub numbers its tokens from 1
)

var safeSecrets = []string{safeToken, safeSK, safePassword, safeIAMToken}

// seen is what a recorder got of one request.
type seen struct {
	method, path string
	header       http.Header
	body         string
}

// recorder is an httptest server that records every request it gets before
// answering it with respond.
type recorder struct {
	server *httptest.Server
	mu     sync.Mutex
	reqs   []seen
}

func newRecorder(t *testing.T, respond http.HandlerFunc) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, seen{r.Method, r.URL.Path, r.Header.Clone(), string(body)})
		rec.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		respond(w, r)
	}))
	t.Cleanup(rec.server.Close)
	return rec
}

func (rec *recorder) requests() []seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seen(nil), rec.reqs...)
}

func answerJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// answerServiceStage answers any ServiceStage request with a success.
func answerServiceStage(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		answerJSON(w, 200, `{"id":7,"pipeline_id":"`+safeTask+`","status":4}`)
		return
	}
	answerJSON(w, 200, `{"pipelines":[]}`)
}

// callerHTTPClient is an *http.Client as a caller would build it, with its
// own transport so that no idle connection outlives the test.
func callerHTTPClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// noWait makes c's retries immediate.
func noWait(c *Client) {
	c.sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
}

// assertNoSecret checks every way err may be printed.
func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", errors.Unwrap(err))} {
		for _, sec := range safeSecrets {
			assert.NotContains(t, s, sec)
		}
	}
}

// iamStub is an IAM token endpoint on a manual clock; its tokens are
// numbered and live lifetime.
type iamStub struct {
	mu       sync.Mutex
	now      time.Time
	lifetime time.Duration
	down     bool
	issued   int
}

func (s *iamStub) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

func (s *iamStub) set(now time.Time, down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now, s.down = now, down
}

func (s *iamStub) handle(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		answerJSON(w, 500, `{"error_code":"IAM.0001","error_msg":"IAM is down"}`)
		return
	}
	s.issued++
	w.Header().Set("X-Subject-Token", fmt.Sprintf("%s%d", safeIAMToken, s.issued))
	expires := s.now.Add(s.lifetime).UTC().Format("2006-01-02T15:04:05.000000Z")
	answerJSON(w, 201, `{"token":{"expires_at":"`+expires+`"}}`)
}

func newIAM(t *testing.T, hc *http.Client, endpoint string) *IAMPassword {
	t.Helper()
	a, err := NewIAMPassword(hc, IAMCredentials{
		Endpoint: endpoint, Username: "release-robot", Password: safePassword,
		Domain: "acme-account", ProjectID: safeProject,
	})
	require.NoError(t, err)
	return a
}

func TestRedirectsAreNeverFollowed(t *testing.T) {
	type env struct {
		origin, iam *recorder // the configured ServiceStage and IAM; iam nil when not used
		auth        Authenticator
	}
	// redirect answers code, sending the client on to elsewhere.
	redirect := func(code int, elsewhere *recorder) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", elsewhere.server.URL+r.URL.RequestURI())
			w.WriteHeader(code)
			_, _ = io.WriteString(w, `<a href="elsewhere">Moved</a>`)
		}
	}
	iamOK := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Subject-Token", safeIAMToken+"1")
		answerJSON(w, 201, `{"token":{"expires_at":"`+time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339)+`"}}`)
	}
	modes := []struct {
		name string
		// redirectsIAM: the IAM login is redirected, not ServiceStage.
		redirectsIAM bool
		build        func(t *testing.T, hc *http.Client, code int, elsewhere *recorder) env
	}{
		{"token", false, func(t *testing.T, _ *http.Client, code int, elsewhere *recorder) env {
			return env{origin: newRecorder(t, redirect(code, elsewhere)), auth: NewStaticToken(safeToken)}
		}},
		{"aksk", false, func(t *testing.T, _ *http.Client, code int, elsewhere *recorder) env {
			return env{origin: newRecorder(t, redirect(code, elsewhere)), auth: NewAKSK(safeAK, safeSK, safeProject)}
		}},
		{"iam token on ServiceStage", false, func(t *testing.T, hc *http.Client, code int, elsewhere *recorder) env {
			iam := newRecorder(t, iamOK)
			return env{origin: newRecorder(t, redirect(code, elsewhere)), iam: iam, auth: newIAM(t, hc, iam.server.URL)}
		}},
		{"iam login", true, func(t *testing.T, hc *http.Client, code int, elsewhere *recorder) env {
			iam := newRecorder(t, redirect(code, elsewhere))
			return env{origin: newRecorder(t, answerServiceStage), iam: iam, auth: newIAM(t, hc, iam.server.URL)}
		}},
	}
	ops := []struct {
		name string
		call func(ctx context.Context, c *Client) error
	}{
		{"start", func(ctx context.Context, c *Client) error {
			_, err := c.Operate(ctx, safeTask, release.ActionStart, nil)
			return err
		}},
		{"list", func(ctx context.Context, c *Client) error {
			_, err := c.ListReleaseTasks(ctx)
			return err
		}},
	}
	for _, code := range []int{301, 302, 303, 307, 308} {
		for _, m := range modes {
			for _, op := range ops {
				t.Run(fmt.Sprintf("%d/%s/%s", code, m.name, op.name), func(t *testing.T) {
					elsewhere := newRecorder(t, answerServiceStage)
					hc := callerHTTPClient(t)
					var callerCheck atomic.Int32
					// A caller's client that would follow: ours must not.
					hc.CheckRedirect = func(*http.Request, []*http.Request) error { callerCheck.Add(1); return nil }
					e := m.build(t, hc, code, elsewhere)
					c, err := NewClient(hc, e.origin.server.URL, safeProject, e.auth)
					require.NoError(t, err)
					noWait(c)

					err = op.call(context.Background(), c)

					assert.Empty(t, elsewhere.requests(), "nothing may reach the address a redirect names")
					var ae *Error
					require.ErrorAs(t, err, &ae)
					assert.Equal(t, code, ae.StatusCode)
					assert.Contains(t, err.Error(), "redirect not followed")
					assert.False(t, errors.Is(err, ErrOutcomeUnknown), "a redirect is a refusal, not a lost answer: %v", err)
					assertNoSecret(t, err)
					if m.redirectsIAM {
						assert.Equal(t, "get IAM token", ae.Op)
						assert.Len(t, e.iam.requests(), 1)
						assert.Empty(t, e.origin.requests(), "no token, no ServiceStage request")
					} else {
						assert.Len(t, e.origin.requests(), 1, "a redirect is not retried")
					}
					assert.Zero(t, callerCheck.Load(), "the caller's CheckRedirect is not consulted")
					require.NotNil(t, hc.CheckRedirect, "the caller's client is left as it was")
				})
			}
		}
	}
}

func TestCallerHTTPClientIsCopiedNotChanged(t *testing.T) {
	origin := newRecorder(t, answerServiceStage)
	hc := callerHTTPClient(t)
	hc.Timeout = 7 * time.Second
	var used atomic.Int32
	base := hc.Transport
	hc.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used.Add(1)
		return base.RoundTrip(r)
	})

	c, err := NewClient(hc, origin.server.URL, safeProject, NewStaticToken(safeToken))
	require.NoError(t, err)
	iam := newIAM(t, hc, "https://iam.example")

	assert.Nil(t, hc.CheckRedirect, "the caller's client is not mutated")
	for _, got := range []*http.Client{c.httpClient, iam.httpClient} {
		assert.NotSame(t, hc, got)
		assert.NotNil(t, got.CheckRedirect)
		assert.Equal(t, 7*time.Second, got.Timeout, "everything else is the caller's")
	}
	_, err = c.ListReleaseTasks(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, 1, used.Load(), "requests go through the caller's transport")

	assert.NotSame(t, http.DefaultClient, noRedirects(nil))
	assert.Nil(t, http.DefaultClient.CheckRedirect, "http.DefaultClient is not mutated")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestActionAnsweredByAFailingGatewayHasAnUnknownOutcome(t *testing.T) {
	tests := []struct {
		status      int
		wantUnknown bool // the action may have been carried out
		wantReads   int  // requests a read makes with two retries
	}{
		{400, false, 1},
		{403, false, 1},
		{404, false, 1},
		{408, true, 1},
		{409, false, 1},
		{429, false, 3},
		{500, true, 3},
		{501, false, 3},
		{502, true, 3},
		{503, true, 3},
		{504, true, 3},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			// The gateway echoes the token: the error must not.
			origin := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				answerJSON(w, tt.status, `{"error_code":"APIGW.0`+fmt.Sprint(tt.status)+`","error_msg":"upstream failed for `+r.Header.Get("X-Auth-Token")+`"}`)
			})
			c, err := NewClient(callerHTTPClient(t), origin.server.URL, safeProject, NewStaticToken(safeToken),
				WithRetries(2, time.Millisecond, time.Second))
			require.NoError(t, err)
			noWait(c)

			_, err = c.Operate(context.Background(), safeTask, release.ActionApproval,
				&OperateOptions{TaskName: "prod-gate", ApprovalType: release.Agree})
			require.Error(t, err)
			assert.Equal(t, tt.wantUnknown, errors.Is(err, ErrOutcomeUnknown), "%v", err)
			var ae *Error
			require.ErrorAs(t, err, &ae, "the status and the upstream's words stay available")
			assert.Equal(t, tt.status, ae.StatusCode)
			assert.Equal(t, "APIGW.0"+fmt.Sprint(tt.status), ae.Code)
			assert.Equal(t, "upstream failed for [redacted]", ae.Message)
			assert.Equal(t, "operate release task: approval", ae.Op)
			assert.Equal(t, 1, strings.Count(err.Error(), "operate release task"), "the operation is named once: %v", err)
			assert.Len(t, origin.requests(), 1, "an action is never resent")
			assertNoSecret(t, err)

			_, err = c.ListReleaseTasks(context.Background())
			require.Error(t, err)
			assert.False(t, errors.Is(err, ErrOutcomeUnknown), "a read changes nothing: %v", err)
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tt.status, ae.StatusCode)
			assert.Len(t, origin.requests(), 1+tt.wantReads, "reads retry on 429 and 5xx only")
		})
	}
}

func TestOutcomeUnknownErrorText(t *testing.T) {
	e := &Error{Op: "operate release task: start", StatusCode: 504, Message: "Gateway Timeout"}
	assert.Equal(t, "operate release task: start: ServiceStage may have received the request: HTTP 504: Gateway Timeout",
		(&outcomeUnknownError{e}).Error())
	e.Op = ""
	assert.Equal(t, "ServiceStage may have received the request: HTTP 504: Gateway Timeout",
		(&outcomeUnknownError{e}).Error())
}

// TestAnswerInHandWinsOverALeavingCaller: a caller that gives up just as the
// answer arrives must still learn what the answer said, or a carried-out
// start would be reported as failed and sent again.
func TestAnswerInHandWinsOverALeavingCaller(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		check  func(t *testing.T, e *Execution, err error)
	}{
		{"2xx is a success", 200, `{"id":7,"pipeline_id":"` + safeTask + `","status":4}`, func(t *testing.T, e *Execution, err error) {
			require.NoError(t, err)
			assert.NotNil(t, e)
		}},
		{"502 is unknown", 502, ``, func(t *testing.T, _ *Execution, err error) {
			require.ErrorIs(t, err, ErrOutcomeUnknown)
			var ae *Error
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, 502, ae.StatusCode)
		}},
		{"400 is a sure failure", 400, `{"error_code":"SVCSTG.400","error_msg":"bad"}`, func(t *testing.T, _ *Execution, err error) {
			require.Error(t, err)
			assert.False(t, errors.Is(err, ErrOutcomeUnknown), "%v", err)
			var ae *Error
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, 400, ae.StatusCode)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if r.Body != nil {
					_ = r.Body.Close()
				}
				cancel() // the caller leaves just as the answer comes in
				return &http.Response{
					StatusCode: tt.status, Header: http.Header{"Content-Type": {"application/json"}},
					Body: io.NopCloser(strings.NewReader(tt.body)), Request: r,
				}, nil
			})}
			c, err := NewClient(hc, "https://servicestage.example", safeProject, NewStaticToken(safeToken))
			require.NoError(t, err)
			e, err := c.Operate(ctx, safeTask, release.ActionStart, nil)
			require.Error(t, ctx.Err(), "the caller has left")
			tt.check(t, e, err)
		})
	}
}

func TestRenewTimeLeavesAtLeastAMinute(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		life, want time.Duration
	}{
		{24 * time.Hour, 24*time.Hour - 5*time.Minute},
		{time.Hour, 55 * time.Minute},
		{8 * time.Minute, 4 * time.Minute},
		{90 * time.Second, 30 * time.Second},
		{61 * time.Second, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.life.String(), func(t *testing.T) {
			assert.Equal(t, t0.Add(tt.want), renewTime(t0, t0.Add(tt.life)))
		})
	}
}

func TestIAMTokenIsNeverSentWithUnderAMinuteLeft(t *testing.T) {
	type step struct {
		at      time.Duration // clock, from the first login
		iamDown bool
		want    string // the token ServiceStage receives; "" when the request must fail
		wantErr string
	}
	const (
		t1 = safeIAMToken + "1"
		t2 = safeIAMToken + "2"
	)
	tests := []struct {
		name     string
		lifetime time.Duration
		steps    []step
	}{
		{"renewed five minutes before expiry", time.Hour, []step{
			{0, false, t1, ""},
			{54*time.Minute + 59*time.Second, false, t1, ""},
			{55 * time.Minute, false, t2, ""},
		}},
		{"a failed renewal falls back on a token with over a minute left", time.Hour, []step{
			{0, false, t1, ""},
			{56 * time.Minute, true, t1, ""},
			{58*time.Minute + 59*time.Second, true, t1, ""},
		}},
		{"a failed renewal and under a minute left: the request fails", time.Hour, []step{
			{0, false, t1, ""},
			{59*time.Minute + time.Second, true, "", "less than 1m0s left and renewing it failed"},
		}},
		{"a remembered failure does not stretch the token's last minute", time.Hour, []step{
			{0, false, t1, ""},
			{58*time.Minute + 50*time.Second, true, t1, ""},
			{59*time.Minute + 5*time.Second, true, "", "less than 1m0s left"}, // within loginBackoff: no new login
			{59*time.Minute + 31*time.Second, false, t2, ""},
		}},
		{"an expired token is not used while IAM is down", time.Hour, []step{
			{0, false, t1, ""},
			{2 * time.Hour, true, "", "less than 1m0s left"},
		}},
		{"a token issued with under a minute to live is not used", 50 * time.Second, []step{
			{0, false, "", "IAM issued a token with less than 1m0s left"},
		}},
		{"a short-lived token is renewed before its last minute", 90 * time.Second, []step{
			{0, false, t1, ""},
			{29 * time.Second, false, t1, ""},
			{30 * time.Second, false, t2, ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
			stub := &iamStub{now: t0, lifetime: tt.lifetime}
			iam := newRecorder(t, stub.handle)
			origin := newRecorder(t, answerServiceStage)
			hc := callerHTTPClient(t)
			auth := newIAM(t, hc, iam.server.URL)
			auth.now = stub.clock
			c, err := NewClient(hc, origin.server.URL, safeProject, auth)
			require.NoError(t, err)
			noWait(c)

			for i, s := range tt.steps {
				stub.set(t0.Add(s.at), s.iamDown)
				before := len(origin.requests())
				_, err := c.ListReleaseTasks(context.Background())
				reqs := origin.requests()
				if s.want == "" {
					require.Error(t, err, "step %d", i)
					assert.Contains(t, err.Error(), s.wantErr, "step %d", i)
					assert.Len(t, reqs, before, "step %d: nothing is sent without a usable token", i)
					assertNoSecret(t, err)
					continue
				}
				require.NoError(t, err, "step %d", i)
				require.Len(t, reqs, before+1, "step %d", i)
				assert.Equal(t, s.want, reqs[before].header.Get("X-Auth-Token"), "step %d", i)
			}
		})
	}
}

// TestIAMRememberedFailureSendsNoLogin: the refusal of a near-expiry token
// during loginBackoff comes from memory, not from another login.
func TestIAMRememberedFailureSendsNoLogin(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	stub := &iamStub{now: t0, lifetime: time.Hour}
	iam := newRecorder(t, stub.handle)
	auth := newIAM(t, callerHTTPClient(t), iam.server.URL)
	auth.now = stub.clock
	ctx := context.Background()

	tok, err := auth.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, safeIAMToken+"1", tok)

	stub.set(t0.Add(58*time.Minute+50*time.Second), true)
	tok, err = auth.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, safeIAMToken+"1", tok, "70 s left: still usable while IAM is down")
	require.Len(t, iam.requests(), 2)

	stub.set(t0.Add(59*time.Minute+5*time.Second), true)
	_, err = auth.Token(ctx)
	require.Error(t, err)
	var ae *Error
	require.ErrorAs(t, err, &ae, "the login's own failure is kept")
	assert.Equal(t, 500, ae.StatusCode)
	assertNoSecret(t, err)
	assert.Len(t, iam.requests(), 2, "no login during loginBackoff")
}

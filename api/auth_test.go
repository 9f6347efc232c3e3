package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testAK       = "AKEXAMPLE0123456789"
	testSK       = "SK-SECRET-9c1d2e3f4a5b6c7d8e9f"
	testPassword = "PW-SECRET-hunter2-4b1e"
)

// verifyAKSK checks a request's SDK-HMAC-SHA256 signature the way the API
// gateway does, written from the published algorithm rather than from the
// SDK, so a signer that drifts from it fails here.
func verifyAKSK(r *http.Request, body []byte, sk string) error {
	auth := r.Header.Get("Authorization")
	alg, rest, ok := strings.Cut(auth, " ")
	if !ok || alg != "SDK-HMAC-SHA256" {
		return fmt.Errorf("authorization %q: not SDK-HMAC-SHA256", auth)
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	signed := strings.Split(fields["SignedHeaders"], ";")

	var segs []string
	for _, seg := range strings.Split(r.URL.Path, "/") {
		segs = append(segs, rfc3986(seg))
	}
	canonicalURI := strings.Join(segs, "/")
	if !strings.HasSuffix(canonicalURI, "/") {
		canonicalURI += "/"
	}
	q := r.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var pairs []string
	for _, k := range keys {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			pairs = append(pairs, rfc3986(k)+"="+rfc3986(v))
		}
	}
	var headers []string
	for _, h := range signed {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		headers = append(headers, h+":"+strings.TrimSpace(v))
	}
	bodyHash := sha256.Sum256(body)
	canonical := strings.Join([]string{
		r.Method, canonicalURI, strings.Join(pairs, "&"),
		strings.Join(headers, "\n") + "\n", strings.Join(signed, ";"), hex.EncodeToString(bodyHash[:]),
	}, "\n")
	crHash := sha256.Sum256([]byte(canonical))
	toSign := "SDK-HMAC-SHA256\n" + r.Header.Get("X-Sdk-Date") + "\n" + hex.EncodeToString(crHash[:])
	mac := hmac.New(sha256.New, []byte(sk))
	mac.Write([]byte(toSign))
	if want := hex.EncodeToString(mac.Sum(nil)); fields["Signature"] != want {
		return fmt.Errorf("signature %s, want %s", fields["Signature"], want)
	}
	return nil
}

func rfc3986(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func TestAKSKSignsEveryRequest(t *testing.T) {
	f := setup(t)
	var verified atomic.Int32
	var mu sync.Mutex
	var failures []string
	f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := verifyAKSK(r, body, testSK); err != nil {
			mu.Lock()
			failures = append(failures, r.Method+" "+r.URL.Path+": "+err.Error())
			mu.Unlock()
			writeJSON(w, 401, `{"error_code":"APIGW.0301","error_msg":"verify aksk signature fail"}`)
			return
		}
		verified.Add(1)
		if r.Method == http.MethodPost {
			writeJSON(w, 200, `{"id":1,"pipeline_id":"p","status":4}`)
			return
		}
		writeJSON(w, 200, `{"id":"p","name":"n","pipelines":[],"records":[]}`)
	})
	signer := NewAKSK(testAK, testSK, testProject)
	signer.now = func() time.Time { return time.Date(2026, 11, 29, 10, 11, 12, 0, time.UTC) }
	c, _ := f.client(t, signer)
	ctx := context.Background()

	_, err := c.Operate(ctx, testTask, ActionStart, &OperateOptions{SelectedTasks: []SelectedTasks{{StageName: "s 1", Tasks: []string{"t~1", "ü"}}}})
	require.NoError(t, err)
	_, err = c.Operate(ctx, testTask, ActionApproval, &OperateOptions{TaskName: "gate", ApprovalType: ApprovalRefuse, Message: "no & never"})
	require.NoError(t, err)
	_, err = c.ListReleaseTasks(ctx)
	require.NoError(t, err)
	_, err = c.GetReleaseTask(ctx, testTask)
	require.NoError(t, err)
	_, err = c.ListRecords(ctx, testTask)
	require.NoError(t, err)

	assert.Empty(t, failures)
	assert.EqualValues(t, 5, verified.Load())
	for _, r := range f.requests() {
		assert.Equal(t, "20261129T101112Z", r.Header.Get("X-Sdk-Date"))
		assert.Equal(t, testProject, r.Header.Get("X-Project-Id"))
		auth := r.Header.Get("Authorization")
		assert.True(t, strings.HasPrefix(auth, "SDK-HMAC-SHA256 Access="+testAK+", SignedHeaders="), auth)
		assert.Contains(t, auth, "host;")
		assert.Contains(t, auth, "x-project-id;x-sdk-date")
		assert.Empty(t, r.Header.Get("X-Auth-Token"))
		for k, vs := range r.Header {
			assert.NotContains(t, strings.Join(vs, " "), testSK, "header %s carries the secret key", k)
		}
	}
}

func TestAKSKVerifierRejectsTampering(t *testing.T) {
	// The check above would be worthless if the verifier accepted anything.
	signer := NewAKSK(testAK, testSK, "")
	body := []byte(`{"task_name":"gate","approval_type":"agree"}`)
	req, err := http.NewRequest(http.MethodPost, "https://servicestage.example/v3/p/pipeline/pipelines/x/action?action_id=approval", nil)
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	require.NoError(t, signer.Authorize(context.Background(), req, body))
	req.Host = req.URL.Host
	require.NoError(t, verifyAKSK(req, body, testSK))

	require.Error(t, verifyAKSK(req, []byte(`{"task_name":"gate","approval_type":"refuse"}`), testSK), "other body")
	require.Error(t, verifyAKSK(req, body, "another-sk"), "other key")
	other := req.Clone(context.Background())
	other.URL.RawQuery = "action_id=start"
	require.Error(t, verifyAKSK(other, body, testSK), "other query")
	other = req.Clone(context.Background())
	other.URL.Path = "/v3/p/pipeline/pipelines/y/action"
	require.Error(t, verifyAKSK(other, body, testSK), "other path")
}

func TestAKSKRefusesMissingKeys(t *testing.T) {
	req, err := http.NewRequest(http.MethodGet, "https://servicestage.example/v3/p/pipeline/pipelines", nil)
	require.NoError(t, err)
	require.Error(t, NewAKSK("", testSK, "").Authorize(context.Background(), req, nil))
	require.Error(t, NewAKSK(testAK, "", "").Authorize(context.Background(), req, nil))
	require.Error(t, NewStaticToken("").Authorize(context.Background(), req, nil))
	assert.False(t, NewAKSK(testAK, testSK, "").Renew(req))
	assert.False(t, NewStaticToken("x").Renew(req))
}

// iamFake is a fake IAM token endpoint whose tokens are numbered.
type iamFake struct {
	logins   atomic.Int32
	lifetime time.Duration
	now      func() time.Time
	release  chan struct{} // when set, logins wait for it
	fail     func(w http.ResponseWriter) bool
	bodies   chan map[string]any
}

func (i *iamFake) handle(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		assert.NoError(t, json.NewDecoder(r.Body).Decode(&body))
		assert.Equal(t, "application/json;charset=utf8", r.Header.Get("Content-Type"))
		if i.bodies != nil {
			i.bodies <- body
		}
		if i.release != nil {
			<-i.release
		}
		if i.fail != nil && i.fail(w) {
			return
		}
		n := i.logins.Add(1)
		w.Header().Set("X-Subject-Token", fmt.Sprintf("IAMTOKEN-SECRET-%d", n))
		expires := i.now().Add(i.lifetime).UTC().Format("2006-01-02T15:04:05.000000Z")
		writeJSON(w, 201, `{"token":{"expires_at":"`+expires+`","issued_at":"x","methods":["password"]}}`)
	}
}

type clock struct {
	mu    sync.Mutex
	t     time.Time
	calls int
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *clock) callCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// iamSetup serves a fake IAM under /iam and ServiceStage under / on one
// server, with tokens that expire after lifetime on clk's time.
func iamSetup(t *testing.T, iam *iamFake) (*fake, *IAMPassword, *clock) {
	t.Helper()
	f := setup(t)
	clk := &clock{t: time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)}
	iam.now = clk.now
	if iam.lifetime == 0 {
		iam.lifetime = 24 * time.Hour
	}
	f.mux.HandleFunc("POST /iam/v3/auth/tokens", iam.handle(t))
	auth, err := NewIAMPassword(f.server.Client(), IAMCredentials{
		Endpoint: f.server.URL + "/iam", Username: "release-robot", Password: testPassword,
		Domain: "acme-account", ProjectID: testProject,
	})
	require.NoError(t, err)
	auth.now = clk.now
	return f, auth, clk
}

// tokensSeen lists the X-Auth-Token of every ServiceStage request.
func tokensSeen(f *fake) []string {
	var toks []string
	for _, r := range f.requests() {
		if !strings.HasPrefix(r.Path, "/iam/") {
			toks = append(toks, r.Header.Get("X-Auth-Token"))
		}
	}
	return toks
}

func TestIAMPasswordLogsInWithDocumentedBody(t *testing.T) {
	iam := &iamFake{bodies: make(chan map[string]any, 1)}
	f, auth, _ := iamSetup(t, iam)
	f.mux.HandleFunc("GET "+pipelinesPath, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `[]`) })
	c, _ := f.client(t, auth)

	_, err := c.ListReleaseTasks(context.Background())
	require.NoError(t, err)
	body := <-iam.bodies
	want := map[string]any{"auth": map[string]any{
		"identity": map[string]any{
			"methods": []any{"password"},
			"password": map[string]any{"user": map[string]any{
				"name": "release-robot", "password": testPassword, "domain": map[string]any{"name": "acme-account"},
			}},
		},
		"scope": map[string]any{"project": map[string]any{"id": testProject}},
	}}
	assert.Equal(t, want, body)
	assert.Equal(t, []string{"IAMTOKEN-SECRET-1"}, tokensSeen(f))
}

func TestIAMTokenIsCachedAndRenewedBeforeExpiry(t *testing.T) {
	iam := &iamFake{lifetime: time.Hour}
	f, auth, clk := iamSetup(t, iam)
	f.mux.HandleFunc("GET "+pipelinesPath, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `[]`) })
	c, _ := f.client(t, auth)
	list := func() {
		_, err := c.ListReleaseTasks(context.Background())
		require.NoError(t, err)
	}

	list()
	list()
	clk.advance(54 * time.Minute) // six minutes left: still good
	list()
	clk.advance(2 * time.Minute) // four minutes left: renew
	list()
	list()

	assert.EqualValues(t, 2, iam.logins.Load())
	assert.Equal(t, []string{"IAMTOKEN-SECRET-1", "IAMTOKEN-SECRET-1", "IAMTOKEN-SECRET-1", "IAMTOKEN-SECRET-2", "IAMTOKEN-SECRET-2"}, tokensSeen(f))
}

func TestIAMConcurrentCallersShareOneLogin(t *testing.T) {
	iam := &iamFake{release: make(chan struct{})}
	f, auth, clk := iamSetup(t, iam)
	f.mux.HandleFunc("GET "+pipelinesPath, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `[]`) })
	c, _ := f.client(t, auth)
	var once sync.Once
	release := func() { once.Do(func() { close(iam.release) }) }
	t.Cleanup(release) // so that a failure below does not hang the server's Close

	const callers = 50
	errs := make(chan error, callers)
	for range callers {
		go func() {
			_, err := c.ListReleaseTasks(context.Background())
			errs <- err
		}()
	}
	// Every caller reads the clock once on its way into Token, and the one
	// login once more: then all of them are waiting on that login.
	require.Eventually(t, func() bool { return clk.callCount() >= callers+1 }, 10*time.Second, time.Millisecond)
	release()
	for range callers {
		require.NoError(t, <-errs)
	}
	assert.EqualValues(t, 1, iam.logins.Load())
	assert.Len(t, tokensSeen(f), callers)
}

func TestIAMReauthenticatesOnceAfter401(t *testing.T) {
	tests := []struct {
		name        string
		rejectToken func(tok string) bool
		wantErr     bool
		wantTokens  []string
	}{
		{"stale token is replaced and the action resent once", func(tok string) bool { return tok == "IAMTOKEN-SECRET-1" }, false,
			[]string{"IAMTOKEN-SECRET-1", "IAMTOKEN-SECRET-2"}},
		{"a second 401 is final", func(string) bool { return true }, true,
			[]string{"IAMTOKEN-SECRET-1", "IAMTOKEN-SECRET-2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iam := &iamFake{}
			f, auth, _ := iamSetup(t, iam)
			f.mux.HandleFunc("POST "+pipelinesPath+"/"+testTask+"/action", func(w http.ResponseWriter, r *http.Request) {
				if tt.rejectToken(r.Header.Get("X-Auth-Token")) {
					writeJSON(w, 401, `{"error_code":"APIGW.0307","error_msg":"The token must be updated."}`)
					return
				}
				writeJSON(w, 200, `{"id":7,"pipeline_id":"`+testTask+`","status":4}`)
			})
			c, _ := f.client(t, auth)
			_, err := c.Operate(context.Background(), testTask, ActionStart, nil)
			if tt.wantErr {
				var e *Error
				require.ErrorAs(t, err, &e)
				assert.True(t, e.Unauthorized())
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.wantTokens, tokensSeen(f))
			assert.EqualValues(t, 2, iam.logins.Load())
		})
	}
}

func TestStaticToken401IsNotResent(t *testing.T) {
	f := setup(t)
	f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 401, `{"error_code":"APIGW.0301","error_msg":"bad token"}`)
	})
	c, _ := f.client(t, nil)
	_, err := c.Operate(context.Background(), testTask, ActionStart, nil)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.True(t, e.Unauthorized())
	assert.Len(t, f.requests(), 1)
}

func TestIAMLoginFailures(t *testing.T) {
	tests := []struct {
		name    string
		fail    func(w http.ResponseWriter) bool
		wantErr func(t *testing.T, err error)
	}{
		{"rejected password", func(w http.ResponseWriter) bool {
			writeJSON(w, 401, `{"error":{"code":401,"message":"The username or password is wrong.","title":"Unauthorized"}}`)
			return true
		}, func(t *testing.T, err error) {
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.True(t, e.Unauthorized())
			assert.Equal(t, "get IAM token", e.Op)
			assert.Contains(t, err.Error(), "The username or password is wrong.")
		}},
		{"no token header", func(w http.ResponseWriter) bool { writeJSON(w, 201, `{"token":{}}`); return true },
			func(t *testing.T, err error) { assert.ErrorContains(t, err, "no X-Subject-Token") }},
		{"connection dropped", func(w http.ResponseWriter) bool { hangUp(w); return true },
			func(t *testing.T, err error) { assert.ErrorContains(t, err, "get IAM token") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iam := &iamFake{fail: tt.fail}
			f, auth, _ := iamSetup(t, iam)
			c, waits := f.client(t, auth)
			_, err := c.ListReleaseTasks(context.Background())
			require.Error(t, err)
			tt.wantErr(t, err)
			assert.NotContains(t, err.Error(), testPassword)
			assert.Empty(t, tokensSeen(f), "nothing reaches ServiceStage without a token")
			assert.Empty(t, *waits, "a failed login is not retried by the read loop")
		})
	}
}

func TestIAMFailedLoginIsNotRetriedAtOnce(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	iam := &iamFake{fail: func(w http.ResponseWriter) bool {
		if fail.Load() {
			writeJSON(w, 401, `{"error":{"code":401,"message":"The username or password is wrong."}}`)
		}
		return fail.Load()
	}}
	f, auth, clk := iamSetup(t, iam)
	ctx := context.Background()
	logins := func() int {
		n := 0
		for _, r := range f.requests() {
			if strings.HasPrefix(r.Path, "/iam/") {
				n++
			}
		}
		return n
	}
	_, err := auth.Token(ctx)
	require.Error(t, err)
	_, err = auth.Token(ctx)
	require.Error(t, err)
	assert.Equal(t, 1, logins(), "a wrong password is not tried on every command")

	fail.Store(false)
	clk.advance(loginBackoff + time.Second)
	tok, err := auth.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, "IAMTOKEN-SECRET-1", tok)
	assert.Equal(t, 2, logins())
}

func TestIAMRejectedTokenStaysSecret(t *testing.T) {
	iam := &iamFake{}
	f, auth, _ := iamSetup(t, iam)
	var mu sync.Mutex
	var seen []string
	f.mux.HandleFunc("GET "+pipelinesPath, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("X-Auth-Token"))
		echo := strings.Join(seen, " and ")
		mu.Unlock()
		writeJSON(w, 401, `{"error_code":"APIGW.0307","error_msg":"tokens `+echo+` expired"}`)
	})
	c, _ := f.client(t, auth)
	_, err := c.ListReleaseTasks(context.Background())
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "IAMTOKEN-SECRET-1")
	assert.NotContains(t, err.Error(), "IAMTOKEN-SECRET-2")
}

func TestIAMTokenWithoutExpiryIsKeptTenMinutes(t *testing.T) {
	f, auth, clk := iamSetup(t, &iamFake{})
	var logins atomic.Int32
	f.mux.HandleFunc("POST /iam2/v3/auth/tokens", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Subject-Token", fmt.Sprintf("T%d", logins.Add(1)))
		writeJSON(w, 201, `{"token":{"expires_at":"whenever"}}`)
	})
	auth.tokensURL = f.server.URL + "/iam2/v3/auth/tokens"
	ctx := context.Background()
	tok, err := auth.Token(ctx)
	require.NoError(t, err)
	assert.Equal(t, "T1", tok)
	clk.advance(4 * time.Minute)
	tok, _ = auth.Token(ctx)
	assert.Equal(t, "T1", tok)
	clk.advance(2 * time.Minute) // past half of ten minutes
	tok, _ = auth.Token(ctx)
	assert.Equal(t, "T2", tok)
}

func TestIAMWaiterHonoursItsContext(t *testing.T) {
	iam := &iamFake{release: make(chan struct{})}
	_, auth, _ := iamSetup(t, iam)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := auth.Token(ctx)
	require.ErrorIs(t, err, context.Canceled)
	// The login goes on for others and is cached once it lands.
	close(iam.release)
	tok, err := auth.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "IAMTOKEN-SECRET-1", tok)
	assert.EqualValues(t, 1, iam.logins.Load())
}

func TestNewIAMPasswordRejectsBadEndpoint(t *testing.T) {
	for _, ep := range []string{"", "iam.example", "ftp://iam.example", "http://"} {
		_, err := NewIAMPassword(nil, IAMCredentials{Endpoint: ep})
		require.ErrorIs(t, err, ErrInvalidRequest, ep)
	}
	a, err := NewIAMPassword(nil, IAMCredentials{Endpoint: "https://iam.example/"})
	require.NoError(t, err)
	assert.Equal(t, "https://iam.example/v3/auth/tokens", a.tokensURL)
}

func TestRenewTime(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, t0.Add(24*time.Hour-5*time.Minute), renewTime(t0, t0.Add(24*time.Hour)))
	assert.Equal(t, t0.Add(4*time.Minute), renewTime(t0, t0.Add(8*time.Minute)))
}

// TestSecretsNeverAppearInErrors drives every error path with recognisable
// secrets and a hostile server that echoes everything it receives.
func TestSecretsNeverAppearInErrors(t *testing.T) {
	secrets := []string{testToken, testSK, testPassword, "IAMTOKEN-SECRET-"}
	echo := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			msg, _ := json.Marshal(fmt.Sprintf("%v %s %s", r.Header, r.URL, body))
			writeJSON(w, status, `{"error_code":"ECHO","error_msg":`+string(msg)+`}`)
		}
	}
	type env struct {
		f    *fake
		auth Authenticator
	}
	auths := map[string]func(t *testing.T, iam *iamFake) env{
		"static token": func(t *testing.T, _ *iamFake) env { return env{setup(t), NewStaticToken(testToken)} },
		"aksk": func(t *testing.T, _ *iamFake) env {
			return env{setup(t), NewAKSK(testAK, testSK, testProject)}
		},
		"iam": func(t *testing.T, iam *iamFake) env {
			f, a, _ := iamSetup(t, iam)
			return env{f, a}
		},
	}
	paths := []struct {
		name    string
		handler func(http.ResponseWriter, *http.Request)
		iamFail func(w http.ResponseWriter) bool
	}{
		{"echo 400", echo(400), nil},
		{"echo 401", echo(401), nil},
		{"echo 403", echo(403), nil},
		{"echo 500", echo(500), nil},
		{"echo 429", echo(429), nil},
		{"garbage 200", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, `{"id":"`+r.Header.Get("X-Auth-Token"))
		}, nil},
		{"hang up", func(w http.ResponseWriter, r *http.Request) { hangUp(w) }, nil},
		{"iam echoes the login body", echo(200), func(w http.ResponseWriter) bool {
			writeJSON(w, 400, `{"error":{"code":"IAM.0001","message":"bad body: password `+testPassword+`"}}`)
			return true
		}},
		{"iam 500 echo", echo(200), func(w http.ResponseWriter) bool {
			writeJSON(w, 500, `{"error_msg":"`+testPassword+`"}`)
			return true
		}},
	}
	for authName, mk := range auths {
		for _, p := range paths {
			if p.iamFail != nil && authName != "iam" {
				continue // only the IAM mode has a login to fail
			}
			t.Run(authName+"/"+p.name, func(t *testing.T) {
				iam := &iamFake{fail: p.iamFail}
				e := mk(t, iam)
				e.f.mux.HandleFunc("/v3/", p.handler)
				c, _ := e.f.client(t, e.auth, WithRetries(1, time.Millisecond, time.Second))
				ctx := context.Background()
				var errs []error
				_, err := c.Operate(ctx, testTask, ActionApproval, &OperateOptions{TaskName: "gate", ApprovalType: ApprovalAgree, Message: "ok"})
				errs = append(errs, err)
				_, err = c.ListReleaseTasks(ctx)
				errs = append(errs, err)
				_, err = c.GetReleaseTask(ctx, testTask)
				errs = append(errs, err)
				_, err = c.ListRecords(ctx, testTask)
				errs = append(errs, err)
				for _, err := range errs {
					require.Error(t, err)
					for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", errors.Unwrap(err))} {
						for _, sec := range secrets {
							if p.iamFail == nil && authName == "iam" && sec == "IAMTOKEN-SECRET-" {
								// The fake numbers its tokens; the full token is what must not leak.
								sec = "IAMTOKEN-SECRET-1"
							}
							assert.NotContains(t, s, sec)
						}
					}
				}
			})
		}
	}
}

func TestValidateIDQuotesLittle(t *testing.T) {
	err := ValidateID(strings.Repeat("x", 500) + "/")
	require.Error(t, err)
	assert.Less(t, len(err.Error()), 120)
}

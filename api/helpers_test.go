package api

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testProject = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	testTask    = "caf409b1-10df-483a-b14d-7b05f7e12c88"
	testToken   = "TOKEN-SECRET-static-7f3a"
)

// received is what the fake server saw of one request.
type received struct {
	Method, Path, RawPath, Query string
	Header                       http.Header
	Body                         string
}

// fake is a go-github style test server: a mux behind httptest.NewServer
// that records every request.
type fake struct {
	mux    *http.ServeMux
	server *httptest.Server
	mu     sync.Mutex
	reqs   []received
}

func setup(t *testing.T) *fake {
	t.Helper()
	f := &fake{mux: http.NewServeMux()}
	f.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.mu.Lock()
		f.reqs = append(f.reqs, received{r.Method, r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.Header.Clone(), string(body)})
		f.mu.Unlock()
		f.mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.server.Close)
	return f
}

func (f *fake) requests() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.reqs...)
}

// client returns a Client for the fake server whose retries do not wait but
// record how long they would have.
func (f *fake) client(t *testing.T, auth Authenticator, opts ...Option) (*Client, *[]time.Duration) {
	t.Helper()
	if auth == nil {
		auth = NewStaticToken(testToken)
	}
	c, err := NewClient(f.server.Client(), f.server.URL, testProject, auth, opts...)
	require.NoError(t, err)
	var mu sync.Mutex
	waits := &[]time.Duration{}
	c.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*waits = append(*waits, d)
		mu.Unlock()
		return ctx.Err()
	}
	return c, waits
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

const pipelinesPath = "/v3/" + testProject + "/pipeline/pipelines"

// hangUp closes the connection without an answer: the request may or may not
// have reached ServiceStage.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func status(code int) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) { writeJSON(w, code, `{"error_code":"E","error_msg":"m"}`) }
}

func retryAfter(code int, v string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) { w.Header().Set("Retry-After", v); writeJSON(w, code, ``) }
}

func ok(w http.ResponseWriter) { writeJSON(w, 200, `{"pipelines":[]}`) }

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

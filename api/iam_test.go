package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/release"
)

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
			_, err := c.Operate(context.Background(), testTask, release.ActionStart, nil)
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
	_, err := c.Operate(context.Background(), testTask, release.ActionStart, nil)
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

package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

	_, err := c.Operate(ctx, testTask, release.ActionStart, &OperateOptions{SelectedTasks: []SelectedTasks{{StageName: "s 1", Tasks: []string{"t~1", "ü"}}}})
	require.NoError(t, err)
	_, err = c.Operate(ctx, testTask, release.ActionApproval, &OperateOptions{TaskName: "gate", ApprovalType: release.Refuse, Message: "no & never"})
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
				_, err := c.Operate(ctx, testTask, release.ActionApproval, &OperateOptions{TaskName: "gate", ApprovalType: release.Agree, Message: "ok"})
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

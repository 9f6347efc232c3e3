package sandbox_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/releasebot/releasebot/sandbox"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	project = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
	token   = "MIIEhAYJKoZIhvcNAQcCoIIEdTCCBHECAQExDTALBglghkgBZQMEAgEw"
)

var epoch = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

// env is a simulator on a manual clock, called in-process.
type env struct {
	t     *testing.T
	srv   *sandbox.Server
	clock *sandbox.ManualClock
}

func newEnv(t *testing.T, tasks []sandbox.TaskSpec) *env {
	t.Helper()
	clock := sandbox.NewManualClock(epoch)
	srv, err := sandbox.New(sandbox.Options{ProjectID: project, Token: token, Clock: clock, Tasks: tasks, User: "alice"})
	require.NoError(t, err)
	return &env{t: t, srv: srv, clock: clock}
}

func pipelinesPath(rest string) string { return "/v3/" + project + "/pipeline/pipelines" + rest }

func actionPath(id, action string) string {
	return pipelinesPath("/" + id + "/action?action_id=" + action)
}

// do sends an authenticated request; prepare may change it first.
func (e *env) do(method, path, body string, prepare ...func(*http.Request)) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json;charset=utf8")
	req.Header.Set("X-Auth-Token", token)
	for _, p := range prepare {
		p(req)
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return rec
}

func (e *env) act(id, action, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do(http.MethodPost, actionPath(id, action), body)
}

// mustAct performs an action that must succeed and returns the response.
func (e *env) mustAct(id, action, body string) actionResponse {
	e.t.Helper()
	rec := e.act(id, action, body)
	require.Equal(e.t, http.StatusOK, rec.Code, "%s %s: body %s", action, id, rec.Body)
	var resp actionResponse
	require.NoError(e.t, json.Unmarshal(rec.Body.Bytes(), &resp))
	return resp
}

func (e *env) records(id string) recordsResponse {
	e.t.Helper()
	rec := e.do(http.MethodGet, pipelinesPath("/"+id+"/records"), "")
	require.Equal(e.t, http.StatusOK, rec.Code, "records: body %s", rec.Body)
	var out recordsResponse
	require.NoError(e.t, json.Unmarshal(rec.Body.Bytes(), &out))
	return out
}

type actionResponse struct {
	ID         int64  `json:"id"`
	PipelineID string `json:"pipeline_id"`
	Status     int    `json:"status"`
}

type recordsResponse struct {
	Count   int `json:"count"`
	Records []struct {
		ID        int64  `json:"id"`
		Status    int    `json:"status"`
		StartTime int64  `json:"start_time"`
		EndTime   int64  `json:"end_time"`
		Trigger   string `json:"trigger"`
		Stages    []struct {
			Name   string `json:"name"`
			Status int    `json:"status"`
			Tasks  []struct {
				Name   string `json:"name"`
				Status int    `json:"status"`
			} `json:"tasks"`
		} `json:"stages"`
	} `json:"records"`
}

type errorResponse struct {
	Code string `json:"error_code"`
	Msg  string `json:"error_msg"`
}

func approval(task, decision, message string) string {
	return fmt.Sprintf(`{"task_name":%q,"approval_type":%q,"message":%q}`, task, decision, message)
}

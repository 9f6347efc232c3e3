package sandbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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

// TestFlows drives each demo release task through its flows with the clock.
func TestFlows(t *testing.T) {
	type step struct {
		advance time.Duration // clock moves first
		action  string        // action_id, or "" to only look
		body    string
		want    int // status of the latest execution afterwards
	}
	tests := []struct {
		name     string
		pipeline string
		steps    []step
	}{
		{"web-frontend succeeds", sandbox.DemoWebFrontendID, []step{
			{action: "start", want: sandbox.StatusReleasing},
			{advance: 4 * time.Second, want: sandbox.StatusReleasing},
			{advance: 4*time.Second - time.Millisecond, want: sandbox.StatusReleasing},
			{advance: time.Millisecond, want: sandbox.StatusReleased},
		}},
		{"web-frontend rolls back after success", sandbox.DemoWebFrontendID, []step{
			{action: "start", want: sandbox.StatusReleasing},
			{advance: time.Minute, want: sandbox.StatusReleased},
			{action: "rollback", want: sandbox.StatusRollingBack},
			{advance: 3 * time.Second, want: sandbox.StatusRolledBack},
		}},
		{"stop while releasing", sandbox.DemoWebFrontendID, []step{
			{action: "start", want: sandbox.StatusReleasing},
			{advance: time.Second, action: "stop", want: sandbox.StatusStopping},
			{advance: time.Second, want: sandbox.StatusFailed},
			{advance: time.Minute, want: sandbox.StatusFailed},
		}},
		{"stopped execution retries from the stopped stage", sandbox.DemoWebFrontendID, []step{
			{action: "start", want: sandbox.StatusReleasing},
			{advance: 5 * time.Second, action: "stop", want: sandbox.StatusStopping},
			{advance: time.Second, action: "retry", want: sandbox.StatusRestarting},
			{advance: time.Second, want: sandbox.StatusReleasing},
			{advance: 4 * time.Second, want: sandbox.StatusReleased},
		}},
		{"payments-api waits for approval, agree releases", sandbox.DemoPaymentsAPIID, []step{
			{action: "start", want: sandbox.StatusReleasing},
			{advance: 4 * time.Second, want: sandbox.StatusAwaitingApproval},
			{advance: time.Hour, want: sandbox.StatusAwaitingApproval},
			{action: "approval", body: approval("approve-prod", "agree", "LGTM"), want: sandbox.StatusReleasing},
			{advance: 5 * time.Second, want: sandbox.StatusReleased},
		}},
		{"payments-api refuse fails the release", sandbox.DemoPaymentsAPIID, []step{
			{action: "start", want: sandbox.StatusReleasing},
			{advance: 4 * time.Second, action: "approval", body: approval("approve-prod", "refuse", "error rate too high"), want: sandbox.StatusFailed},
			{advance: time.Minute, want: sandbox.StatusFailed},
		}},
		{"refused approval asked again on retry", sandbox.DemoPaymentsAPIID, []step{
			{action: "start", want: sandbox.StatusReleasing},
			{advance: 4 * time.Second, action: "approval", body: approval("approve-prod", "refuse", "not yet"), want: sandbox.StatusFailed},
			{action: "retry", want: sandbox.StatusRestarting},
			{advance: time.Second, want: sandbox.StatusAwaitingApproval},
			{action: "approval", body: approval("approve-prod", "agree", ""), want: sandbox.StatusReleasing},
			{advance: 5 * time.Second, want: sandbox.StatusReleased},
		}},
		{"stop while awaiting approval", sandbox.DemoPaymentsAPIID, []step{
			{action: "start", want: sandbox.StatusReleasing},
			{advance: 4 * time.Second, action: "stop", want: sandbox.StatusStopping},
			{advance: time.Second, want: sandbox.StatusFailed},
		}},
		{"legacy-batch fails, retry succeeds", sandbox.DemoLegacyBatchID, []step{
			{action: "start", want: sandbox.StatusReleasing},
			{advance: 6*time.Second - time.Millisecond, want: sandbox.StatusReleasing},
			{advance: time.Millisecond, want: sandbox.StatusFailed},
			{advance: time.Minute, action: "retry", want: sandbox.StatusRestarting},
			{advance: time.Second, want: sandbox.StatusReleasing},
			{advance: 3 * time.Second, want: sandbox.StatusReleasing},
			{advance: 3 * time.Second, want: sandbox.StatusReleased},
		}},
		{"legacy-batch fails, rollback", sandbox.DemoLegacyBatchID, []step{
			{action: "start", want: sandbox.StatusReleasing},
			{advance: 6 * time.Second, want: sandbox.StatusFailed},
			{action: "rollback", want: sandbox.StatusRollingBack},
			{advance: 3*time.Second - time.Millisecond, want: sandbox.StatusRollingBack},
			{advance: time.Millisecond, want: sandbox.StatusRolledBack},
		}},
		{"data-pipeline pauses until continue", sandbox.DemoDataPipelineID, []step{
			{action: "start", want: sandbox.StatusReleasing},
			{advance: 3 * time.Second, want: sandbox.StatusPaused},
			{advance: time.Hour, want: sandbox.StatusPaused},
			{action: "continue", want: sandbox.StatusReleasing},
			{advance: 3 * time.Second, want: sandbox.StatusReleased},
		}},
		{"stop while paused", sandbox.DemoDataPipelineID, []step{
			{action: "start", want: sandbox.StatusReleasing},
			{advance: 3 * time.Second, action: "stop", want: sandbox.StatusStopping},
			{advance: time.Second, want: sandbox.StatusFailed},
		}},
		{"stop while restarting", sandbox.DemoLegacyBatchID, []step{
			{action: "start", want: sandbox.StatusReleasing},
			{advance: 6 * time.Second, action: "retry", want: sandbox.StatusRestarting},
			{action: "stop", want: sandbox.StatusStopping},
			{advance: time.Second, want: sandbox.StatusFailed},
		}},
		{"a start after a finished run is a new execution", sandbox.DemoWebFrontendID, []step{
			{action: "start", want: sandbox.StatusReleasing},
			{advance: 8 * time.Second, want: sandbox.StatusReleased},
			{action: "start", want: sandbox.StatusReleasing},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			var execID int64
			for i, s := range tt.steps {
				e.clock.Advance(s.advance)
				if s.action != "" {
					resp := e.mustAct(tt.pipeline, s.action, s.body)
					assert.Equal(t, tt.pipeline, resp.PipelineID, "step %d: pipeline_id", i)
					assert.Equal(t, s.want, resp.Status, "step %d (%s): status in the action response", i, s.action)
					execID = resp.ID
				}
				recs := e.records(tt.pipeline)
				require.NotEmpty(t, recs.Records, "step %d: records", i)
				got := recs.Records[0]
				assert.Equal(t, execID, got.ID, "step %d: newest execution", i)
				assert.Equal(t, s.want, got.Status, "step %d: execution status", i)
				switch got.Status {
				case sandbox.StatusReleased, sandbox.StatusFailed, sandbox.StatusRolledBack:
					assert.NotZero(t, got.EndTime, "step %d: end_time of a finished execution", i)
				default:
					assert.Zero(t, got.EndTime, "step %d: end_time of an unfinished execution", i)
				}
			}
		})
	}
}

func TestExecutionIDsCountUpAcrossReleaseTasks(t *testing.T) {
	e := newEnv(t, nil)
	first := e.mustAct(sandbox.DemoWebFrontendID, "start", "")
	second := e.mustAct(sandbox.DemoPaymentsAPIID, "start", "")
	e.clock.Advance(time.Minute)
	third := e.mustAct(sandbox.DemoWebFrontendID, "start", "")

	assert.Equal(t, int64(sandbox.FirstExecutionID), first.ID)
	assert.Equal(t, first.ID+1, second.ID)
	assert.Equal(t, first.ID+2, third.ID)
	recs := e.records(sandbox.DemoWebFrontendID)
	require.Equal(t, 2, recs.Count)
	assert.Equal(t, []int64{third.ID, first.ID}, []int64{recs.Records[0].ID, recs.Records[1].ID}, "newest first")
	assert.Equal(t, sandbox.StatusReleased, recs.Records[1].Status, "older execution finished")
}

func TestSelectedTasksSkipTheRest(t *testing.T) {
	e := newEnv(t, nil)
	resp := e.mustAct(sandbox.DemoPaymentsAPIID, "start",
		`{"selected_tasks":[{"stage_name":"canary","tasks":["deploy-canary"]},{"stage_name":"production","tasks":["deploy-production"]}]}`)
	assert.Equal(t, sandbox.StatusReleasing, resp.Status)

	e.clock.Advance(4 * time.Second)
	got := e.records(sandbox.DemoPaymentsAPIID).Records[0]
	assert.Equal(t, sandbox.StatusReleasing, got.Status, "the approval gate is skipped")
	var stages []string
	for _, st := range got.Stages {
		stages = append(stages, fmt.Sprintf("%s=%d", st.Name, st.Status))
	}
	assert.Equal(t, []string{"canary=2", "gate=9", "production=4"}, stages)

	e.clock.Advance(5 * time.Second)
	assert.Equal(t, sandbox.StatusReleased, e.records(sandbox.DemoPaymentsAPIID).Records[0].Status)
}

func TestStartOnApprovalTaskWaitsAtOnce(t *testing.T) {
	e := newEnv(t, []sandbox.TaskSpec{{
		ID: "11111111-2222-3333-4444-555555555555", Name: "gated", Creator: "bob",
		Stages: []sandbox.StageSpec{{Name: "gate", Tasks: []sandbox.StageTask{{Name: "ok", Kind: sandbox.KindApproval}}}},
	}})
	resp := e.mustAct("11111111-2222-3333-4444-555555555555", "start", "")
	assert.Equal(t, sandbox.StatusAwaitingApproval, resp.Status)
	resp = e.mustAct("11111111-2222-3333-4444-555555555555", "approval", approval("ok", "agree", ""))
	assert.Equal(t, sandbox.StatusReleased, resp.Status, "nothing left to run")
}

// TestWireShapes pins the exact JSON of every operation.
func TestWireShapes(t *testing.T) {
	e := newEnv(t, nil)
	ms := func(d time.Duration) int64 { return epoch.Add(d).UnixMilli() }
	day := 24 * time.Hour

	rec := e.do(http.MethodGet, pipelinesPath(""), "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/json;charset=utf8", rec.Header().Get("Content-Type"))
	assert.JSONEq(t, fmt.Sprintf(`{"pipelines":[
		{"id":%q,"name":"web-frontend","description":"Web storefront: build the image, then roll it out.","create_time":%d,"update_time":%d,"model_version":2,"config_mode":"ui","status":1,"creator":"release-admin","last_trigger_at":0,"enterprise_project_id":"0"},
		{"id":%q,"name":"payments-api","description":"Payments API: canary, manual approval, then production.","create_time":%d,"update_time":%d,"model_version":2,"config_mode":"ui","status":1,"creator":"release-admin","last_trigger_at":0,"enterprise_project_id":"0"},
		{"id":%q,"name":"legacy-batch","description":"Nightly batch jobs: the migration fails until retried.","create_time":%d,"update_time":%d,"model_version":2,"config_mode":"ui","status":1,"creator":"release-admin","last_trigger_at":0,"enterprise_project_id":"0"},
		{"id":%q,"name":"data-pipeline","description":"Data pipeline: pauses for a data check before publishing.","create_time":%d,"update_time":%d,"model_version":2,"config_mode":"ui","status":1,"creator":"release-admin","last_trigger_at":0,"enterprise_project_id":"0"}
	]}`,
		sandbox.DemoWebFrontendID, ms(-4*day), ms(-4*day),
		sandbox.DemoPaymentsAPIID, ms(-3*day), ms(-3*day),
		sandbox.DemoLegacyBatchID, ms(-2*day), ms(-2*day),
		sandbox.DemoDataPipelineID, ms(-day), ms(-day),
	), rec.Body.String())

	rec = e.do(http.MethodGet, pipelinesPath("/"+sandbox.DemoPaymentsAPIID), "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, fmt.Sprintf(`{
		"id":%q,"name":"payments-api","description":"Payments API: canary, manual approval, then production.",
		"model_version":2,"config_mode":"ui","fail_mode":"stop","enterprise_project_id":"0","creator":"release-admin",
		"create_time":%d,"update_time":%d,
		"pipeline_declaration":{"sources":[],"stages":[
			{"name":"canary","tasks":[{"name":"deploy-canary","type":"deploy"}]},
			{"name":"gate","tasks":[{"name":"approve-prod","type":"manual_approval"}]},
			{"name":"production","tasks":[{"name":"deploy-production","type":"deploy"}]}
		]}}`, sandbox.DemoPaymentsAPIID, ms(-3*day), ms(-3*day)), rec.Body.String())

	rec = e.act(sandbox.DemoPaymentsAPIID, "start", "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/json;charset=utf8", rec.Header().Get("Content-Type"))
	assert.JSONEq(t, fmt.Sprintf(`{"id":286541,"pipeline_id":%q,"status":4}`, sandbox.DemoPaymentsAPIID), rec.Body.String())

	e.clock.Advance(4 * time.Second)
	rec = e.do(http.MethodGet, pipelinesPath("/"+sandbox.DemoPaymentsAPIID+"/records"), "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, fmt.Sprintf(`{"count":1,"records":[{
		"id":286541,"pipeline_id":%q,"status":5,"trigger":"alice","start_time":%d,"end_time":0,
		"stages":[
			{"name":"canary","status":2,"tasks":[{"name":"deploy-canary","status":2}]},
			{"name":"gate","status":5,"tasks":[{"name":"approve-prod","status":5}]},
			{"name":"production","status":1,"tasks":[{"name":"deploy-production","status":1}]}
		]}]}`, sandbox.DemoPaymentsAPIID, ms(0)), rec.Body.String())

	rec = e.do(http.MethodGet, pipelinesPath(""), "")
	var list struct {
		Pipelines []struct {
			Status        int   `json:"status"`
			LastTriggerAt int64 `json:"last_trigger_at"`
		} `json:"pipelines"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &list))
	assert.Equal(t, sandbox.StatusAwaitingApproval, list.Pipelines[1].Status, "list shows the latest execution's status")
	assert.Equal(t, ms(0), list.Pipelines[1].LastTriggerAt)

	rec = e.do(http.MethodGet, pipelinesPath("/"+sandbox.DemoWebFrontendID+"/records"), "")
	assert.JSONEq(t, `{"count":0,"records":[]}`, rec.Body.String(), "never run")
}

func TestErrors(t *testing.T) {
	// Setups that bring release tasks into a given state first.
	startWeb := func(e *env) { e.mustAct(sandbox.DemoWebFrontendID, "start", "") }
	finishWeb := func(e *env) { startWeb(e); e.clock.Advance(time.Minute) }
	awaitPayments := func(e *env) {
		e.mustAct(sandbox.DemoPaymentsAPIID, "start", "")
		e.clock.Advance(4 * time.Second)
	}
	withToken := func(v string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("X-Auth-Token", v) }
	}
	web := sandbox.DemoWebFrontendID
	pay := sandbox.DemoPaymentsAPIID

	tests := []struct {
		name     string
		setup    func(*env)
		method   string
		path     string
		body     string
		prepare  func(*http.Request)
		wantCode int
		wantErr  string
	}{
		{name: "missing token", method: "GET", path: pipelinesPath(""), prepare: func(r *http.Request) { r.Header.Del("X-Auth-Token") },
			wantCode: 401, wantErr: sandbox.CodeUnauthorized},
		{name: "wrong token", method: "GET", path: pipelinesPath(""), prepare: withToken("not-the-token"),
			wantCode: 401, wantErr: sandbox.CodeUnauthorized},
		{name: "token prefix", method: "POST", path: actionPath(web, "start"), prepare: withToken(token[:10]),
			wantCode: 401, wantErr: sandbox.CodeUnauthorized},
		{name: "wrong project", method: "GET", path: "/v3/another-project/pipeline/pipelines",
			wantCode: 404, wantErr: sandbox.CodeNotFound},
		{name: "unknown path", method: "GET", path: "/v3/" + project + "/pipeline/other",
			wantCode: 404, wantErr: sandbox.CodeNoSuchAPI},
		{name: "other API version", method: "GET", path: "/v2/" + project + "/pipeline/pipelines",
			wantCode: 404, wantErr: sandbox.CodeNoSuchAPI},
		{name: "root", method: "GET", path: "/", wantCode: 404, wantErr: sandbox.CodeNoSuchAPI},
		{name: "unknown sub-resource", method: "GET", path: pipelinesPath("/" + web + "/logs"),
			wantCode: 404, wantErr: sandbox.CodeNoSuchAPI},
		{name: "path too long", method: "GET", path: pipelinesPath("/" + web + "/records/1"),
			wantCode: 404, wantErr: sandbox.CodeNoSuchAPI},
		{name: "empty segment", method: "GET", path: pipelinesPath("//records"),
			wantCode: 404, wantErr: sandbox.CodeNoSuchAPI},
		{name: "unknown pipeline details", method: "GET", path: pipelinesPath("/00000000-0000-0000-0000-000000000000"),
			wantCode: 404, wantErr: sandbox.CodeNotFound},
		{name: "unknown pipeline records", method: "GET", path: pipelinesPath("/nope/records"),
			wantCode: 404, wantErr: sandbox.CodeNotFound},
		{name: "unknown pipeline action", method: "POST", path: actionPath("nope", "start"),
			wantCode: 404, wantErr: sandbox.CodeNotFound},
		{name: "escaped slash stays in the ID", method: "GET", path: pipelinesPath("/" + web + "%2Frecords"),
			wantCode: 404, wantErr: sandbox.CodeNotFound},
		{name: "POST list", method: "POST", path: pipelinesPath(""), wantCode: 405, wantErr: sandbox.CodeMethodNotAllowed},
		{name: "DELETE details", method: "DELETE", path: pipelinesPath("/" + web), wantCode: 405, wantErr: sandbox.CodeMethodNotAllowed},
		{name: "GET action", method: "GET", path: actionPath(web, "start"), wantCode: 405, wantErr: sandbox.CodeMethodNotAllowed},
		{name: "unknown action", method: "POST", path: actionPath(web, "deploy"), wantCode: 400, wantErr: sandbox.CodeBadRequest},
		{name: "missing action_id", method: "POST", path: pipelinesPath("/" + web + "/action"), wantCode: 400, wantErr: sandbox.CodeBadRequest},
		{name: "malformed JSON", method: "POST", path: actionPath(web, "start"), body: `{"selected_tasks":`,
			wantCode: 400, wantErr: sandbox.CodeBadRequest},
		{name: "body of the wrong shape", method: "POST", path: actionPath(web, "start"), body: `{"selected_tasks":"all"}`,
			wantCode: 400, wantErr: sandbox.CodeBadRequest},
		{name: "body too large", method: "POST", path: actionPath(web, "start"),
			body: `{"message":"` + strings.Repeat("x", sandbox.MaxBodyBytes) + `"}`, wantCode: 413, wantErr: sandbox.CodeTooLarge},
		{name: "selected unknown stage", method: "POST", path: actionPath(web, "start"),
			body: `{"selected_tasks":[{"stage_name":"test","tasks":["deploy-web"]}]}`, wantCode: 400, wantErr: sandbox.CodeBadRequest},
		{name: "selected unknown task", method: "POST", path: actionPath(web, "start"),
			body: `{"selected_tasks":[{"stage_name":"deploy","tasks":["build-image"]}]}`, wantCode: 400, wantErr: sandbox.CodeBadRequest},
		{name: "selected stage without tasks", method: "POST", path: actionPath(web, "start"),
			body: `{"selected_tasks":[{"stage_name":"deploy","tasks":[]}]}`, wantCode: 400, wantErr: sandbox.CodeBadRequest},
		{name: "selected nothing", method: "POST", path: actionPath(web, "start"),
			body: `{"selected_tasks":[]}`, wantCode: 400, wantErr: sandbox.CodeBadRequest},
		{name: "start while running", setup: startWeb, method: "POST", path: actionPath(web, "start"),
			wantCode: 400, wantErr: sandbox.CodeInvalidStatus},
		{name: "start while rolling back", setup: func(e *env) { finishWeb(e); e.mustAct(web, "rollback", "") },
			method: "POST", path: actionPath(web, "start"), wantCode: 400, wantErr: sandbox.CodeInvalidStatus},
		{name: "stop never run", method: "POST", path: actionPath(web, "stop"), wantCode: 400, wantErr: sandbox.CodeInvalidStatus},
		{name: "stop finished", setup: finishWeb, method: "POST", path: actionPath(web, "stop"),
			wantCode: 400, wantErr: sandbox.CodeInvalidStatus},
		{name: "stop while stopping", setup: func(e *env) { startWeb(e); e.mustAct(web, "stop", "") },
			method: "POST", path: actionPath(web, "stop"), wantCode: 400, wantErr: sandbox.CodeInvalidStatus},
		{name: "continue while releasing", setup: startWeb, method: "POST", path: actionPath(web, "continue"),
			wantCode: 400, wantErr: sandbox.CodeInvalidStatus},
		{name: "retry released", setup: finishWeb, method: "POST", path: actionPath(web, "retry"),
			wantCode: 400, wantErr: sandbox.CodeInvalidStatus},
		{name: "rollback while releasing", setup: startWeb, method: "POST", path: actionPath(web, "rollback"),
			wantCode: 400, wantErr: sandbox.CodeInvalidStatus},
		{name: "rollback rolled back", setup: func(e *env) { finishWeb(e); e.mustAct(web, "rollback", ""); e.clock.Advance(time.Minute) },
			method: "POST", path: actionPath(web, "rollback"), wantCode: 400, wantErr: sandbox.CodeInvalidStatus},
		{name: "approval without task_name", setup: awaitPayments, method: "POST", path: actionPath(pay, "approval"),
			body: `{"approval_type":"agree"}`, wantCode: 400, wantErr: sandbox.CodeBadRequest},
		{name: "approval without approval_type", setup: awaitPayments, method: "POST", path: actionPath(pay, "approval"),
			body: `{"task_name":"approve-prod"}`, wantCode: 400, wantErr: sandbox.CodeBadRequest},
		{name: "approval with unknown approval_type", setup: awaitPayments, method: "POST", path: actionPath(pay, "approval"),
			body: approval("approve-prod", "maybe", ""), wantCode: 400, wantErr: sandbox.CodeBadRequest},
		{name: "approval without body", setup: awaitPayments, method: "POST", path: actionPath(pay, "approval"),
			wantCode: 400, wantErr: sandbox.CodeBadRequest},
		{name: "approval of another task", setup: awaitPayments, method: "POST", path: actionPath(pay, "approval"),
			body: approval("deploy-canary", "agree", ""), wantCode: 400, wantErr: sandbox.CodeInvalidStatus},
		{name: "approval while releasing", setup: func(e *env) { e.mustAct(pay, "start", "") }, method: "POST",
			path: actionPath(pay, "approval"), body: approval("approve-prod", "agree", ""), wantCode: 400, wantErr: sandbox.CodeInvalidStatus},
		{name: "approval never run", method: "POST", path: actionPath(pay, "approval"),
			body: approval("approve-prod", "agree", ""), wantCode: 400, wantErr: sandbox.CodeInvalidStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			if tt.setup != nil {
				tt.setup(e)
			}
			var prepare []func(*http.Request)
			if tt.prepare != nil {
				prepare = append(prepare, tt.prepare)
			}
			rec := e.do(tt.method, tt.path, tt.body, prepare...)
			require.Equal(t, tt.wantCode, rec.Code, "status; body %s", rec.Body)
			assert.Equal(t, "application/json;charset=utf8", rec.Header().Get("Content-Type"))
			var got errorResponse
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got), "error body %s", rec.Body)
			assert.Equal(t, tt.wantErr, got.Code, "error_code; error_msg %q", got.Msg)
			assert.NotEmpty(t, got.Msg, "error_msg")
			assert.NotContains(t, rec.Body.String(), token[:10], "the token is never echoed")
			if tt.wantCode == http.StatusMethodNotAllowed {
				assert.NotEmpty(t, rec.Header().Get("Allow"), "Allow header")
			}
		})
	}
}

func TestInvalidTransitionExplainsStatus(t *testing.T) {
	e := newEnv(t, nil)
	e.mustAct(sandbox.DemoDataPipelineID, "start", "")
	rec := e.act(sandbox.DemoDataPipelineID, "continue", "")
	require.Equal(t, http.StatusBadRequest, rec.Code)
	var got errorResponse
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	assert.Contains(t, got.Msg, "releasing (4)")
	assert.Contains(t, got.Msg, "286541")
}

func TestActionAcceptsAnyContentType(t *testing.T) {
	e := newEnv(t, nil)
	rec := e.do(http.MethodPost, actionPath(sandbox.DemoWebFrontendID, "start"), "",
		func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") })
	assert.Equal(t, http.StatusOK, rec.Code, "body %s", rec.Body)
}

func TestRequests(t *testing.T) {
	e := newEnv(t, nil)
	e.do(http.MethodGet, pipelinesPath(""), "")
	e.do(http.MethodGet, pipelinesPath(""), "")
	e.do(http.MethodGet, pipelinesPath("/"+sandbox.DemoWebFrontendID), "")
	e.do(http.MethodGet, pipelinesPath("/nope"), "")
	e.records(sandbox.DemoWebFrontendID)
	e.mustAct(sandbox.DemoWebFrontendID, "start", "")
	e.act(sandbox.DemoWebFrontendID, "start", "") // refused, still counted
	e.act(sandbox.DemoWebFrontendID, "stop", "")
	e.act(sandbox.DemoWebFrontendID, "jump", "")
	e.do(http.MethodGet, pipelinesPath(""), "", func(r *http.Request) { r.Header.Del("X-Auth-Token") })
	e.do(http.MethodGet, "/v3/"+project+"/elsewhere", "")
	e.do(http.MethodPut, pipelinesPath(""), "")

	assert.Equal(t, map[string]int{
		"list":         2,
		"get":          2,
		"records":      1,
		"action":       4,
		"action:start": 2,
		"action:stop":  1,
		"unauthorized": 1,
		"notfound":     1,
		"badmethod":    1,
	}, e.srv.Requests())
}

func TestExecutionSnapshots(t *testing.T) {
	e := newEnv(t, nil)
	_, ok := e.srv.LatestExecution(sandbox.DemoPaymentsAPIID)
	assert.False(t, ok, "never run")

	started := e.mustAct(sandbox.DemoPaymentsAPIID, "start", "")
	e.clock.Advance(4 * time.Second)
	v, ok := e.srv.Execution(sandbox.DemoPaymentsAPIID, started.ID)
	require.True(t, ok)
	assert.Equal(t, sandbox.StatusAwaitingApproval, v.Status)
	assert.Equal(t, sandbox.DemoApprovalTask, v.WaitingTask)
	assert.Equal(t, "alice", v.Trigger)
	assert.Equal(t, epoch, v.StartTime)
	assert.True(t, v.EndTime.IsZero())

	e.mustAct(sandbox.DemoPaymentsAPIID, "approval", approval(sandbox.DemoApprovalTask, "refuse", "p99 latency doubled"))
	v, ok = e.srv.LatestExecution(sandbox.DemoPaymentsAPIID)
	require.True(t, ok)
	assert.Equal(t, sandbox.StatusFailed, v.Status)
	assert.Empty(t, v.WaitingTask)
	assert.Equal(t, epoch.Add(4*time.Second), v.EndTime)
	assert.Equal(t, []sandbox.Approval{{Task: "approve-prod", Type: "refuse", Message: "p99 latency doubled", At: epoch.Add(4 * time.Second)}}, v.Approvals)
	assert.Equal(t, []sandbox.StageView{
		{Name: "canary", Status: sandbox.StatusReleased, Tasks: []sandbox.TaskView{{Name: "deploy-canary", Status: sandbox.StatusReleased}}},
		{Name: "gate", Status: sandbox.StatusFailed, Tasks: []sandbox.TaskView{{Name: "approve-prod", Status: sandbox.StatusFailed}}},
		{Name: "production", Status: sandbox.StatusInitialized, Tasks: []sandbox.TaskView{{Name: "deploy-production", Status: sandbox.StatusInitialized}}},
	}, v.Stages)

	_, ok = e.srv.Execution(sandbox.DemoPaymentsAPIID, started.ID+1)
	assert.False(t, ok, "unknown execution")
}

func TestNewValidates(t *testing.T) {
	task := func(mutate func(*sandbox.TaskSpec)) []sandbox.TaskSpec {
		spec := sandbox.TaskSpec{ID: "a", Name: "a", Stages: []sandbox.StageSpec{{Name: "s", Tasks: []sandbox.StageTask{{Name: "t", Kind: sandbox.KindDeploy}}}}}
		mutate(&spec)
		return []sandbox.TaskSpec{spec}
	}
	tests := []struct {
		name    string
		opts    sandbox.Options
		wantErr string
	}{
		{"missing project", sandbox.Options{Token: "t"}, "project ID is required"},
		{"missing token", sandbox.Options{ProjectID: "p"}, "token is required"},
		{"empty ID", sandbox.Options{ProjectID: "p", Token: "t", Tasks: task(func(s *sandbox.TaskSpec) { s.ID = "" })}, "empty ID"},
		{"empty name", sandbox.Options{ProjectID: "p", Token: "t", Tasks: task(func(s *sandbox.TaskSpec) { s.Name = "" })}, "empty name"},
		{"duplicate ID and name", sandbox.Options{ProjectID: "p", Token: "t", Tasks: append(task(func(*sandbox.TaskSpec) {}), task(func(*sandbox.TaskSpec) {})...)}, "duplicate ID"},
		{"no stages", sandbox.Options{ProjectID: "p", Token: "t", Tasks: task(func(s *sandbox.TaskSpec) { s.Stages = nil })}, "no stages"},
		{"stage without tasks", sandbox.Options{ProjectID: "p", Token: "t", Tasks: task(func(s *sandbox.TaskSpec) { s.Stages[0].Tasks = nil })}, "has no tasks"},
		{"duplicate stage", sandbox.Options{ProjectID: "p", Token: "t", Tasks: task(func(s *sandbox.TaskSpec) { s.Stages = append(s.Stages, s.Stages[0]) })}, "duplicate stage name"},
		{"duplicate task", sandbox.Options{ProjectID: "p", Token: "t", Tasks: task(func(s *sandbox.TaskSpec) { s.Stages[0].Tasks = append(s.Stages[0].Tasks, s.Stages[0].Tasks[0]) })}, "duplicate task name"},
		{"unknown kind", sandbox.Options{ProjectID: "p", Token: "t", Tasks: task(func(s *sandbox.TaskSpec) { s.Stages[0].Tasks[0].Kind = "build" })}, `unknown kind "build"`},
		{"negative duration", sandbox.Options{ProjectID: "p", Token: "t", Tasks: task(func(s *sandbox.TaskSpec) { s.Stages[0].Tasks[0].Duration = -time.Second })}, "negative duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sandbox.New(tt.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), token)
		})
	}

	srv, err := sandbox.New(sandbox.Options{ProjectID: "p", Token: "t", Tasks: []sandbox.TaskSpec{}})
	require.NoError(t, err, "no release tasks is valid")
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/v3/p/pipeline/pipelines", nil)
	req.Header.Set("X-Auth-Token", "t")
	srv.ServeHTTP(rec, req)
	assert.JSONEq(t, `{"pipelines":[]}`, rec.Body.String())
}

func TestDemoTasks(t *testing.T) {
	demos := sandbox.DemoTasks()
	var ids, names []string
	for _, spec := range demos {
		ids, names = append(ids, spec.ID), append(names, spec.Name)
		var total time.Duration
		for _, st := range spec.Stages {
			for _, task := range st.Tasks {
				total += task.Duration
			}
		}
		assert.Less(t, total, 30*time.Second, "%s runs well under a minute", spec.Name)
	}
	assert.Equal(t, []string{sandbox.DemoWebFrontendID, sandbox.DemoPaymentsAPIID, sandbox.DemoLegacyBatchID, sandbox.DemoDataPipelineID}, ids)
	assert.Equal(t, []string{"web-frontend", "payments-api", "legacy-batch", "data-pipeline"}, names)
	assert.Equal(t, sandbox.DemoApprovalTask, demos[1].Stages[1].Tasks[0].Name)

	demos[0].Name = "changed"
	assert.Equal(t, "web-frontend", sandbox.DemoTasks()[0].Name, "each call returns fresh specs")
}

func TestManualClock(t *testing.T) {
	c := sandbox.NewManualClock(epoch)
	assert.Equal(t, epoch, c.Now())
	c.Advance(90 * time.Second)
	assert.Equal(t, epoch.Add(90*time.Second), c.Now())
	c.Set(epoch.Add(-time.Hour))
	assert.Equal(t, epoch.Add(-time.Hour), c.Now())
}

func TestRealClockByDefault(t *testing.T) {
	before := time.Now()
	srv, err := sandbox.New(sandbox.Options{ProjectID: project, Token: token})
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, actionPath(sandbox.DemoWebFrontendID, "start"), nil)
	req.Header.Set("X-Auth-Token", token)
	srv.ServeHTTP(httptest.NewRecorder(), req)
	v, ok := srv.LatestExecution(sandbox.DemoWebFrontendID)
	require.True(t, ok)
	assert.False(t, v.StartTime.Before(before), "started at the real now")
	assert.Equal(t, "sandbox-user", v.Trigger, "default trigger")
}

// TestConcurrentUse is for the race detector: clients poll and act while the
// clock moves.
func TestConcurrentUse(t *testing.T) {
	e := newEnv(t, nil)
	var wg sync.WaitGroup
	for _, id := range []string{sandbox.DemoWebFrontendID, sandbox.DemoPaymentsAPIID, sandbox.DemoLegacyBatchID, sandbox.DemoDataPipelineID} {
		wg.Go(func() {
			for range 50 {
				for _, act := range []string{"start", "approval", "continue", "retry", "stop"} {
					req := httptest.NewRequest(http.MethodPost, actionPath(id, act), strings.NewReader(approval("approve-prod", "agree", "")))
					req.Header.Set("X-Auth-Token", token)
					e.srv.ServeHTTP(httptest.NewRecorder(), req)
				}
				req := httptest.NewRequest(http.MethodGet, pipelinesPath(""), nil)
				req.Header.Set("X-Auth-Token", token)
				e.srv.ServeHTTP(httptest.NewRecorder(), req)
				e.srv.LatestExecution(id)
			}
		})
	}
	wg.Go(func() {
		for range 200 {
			e.clock.Advance(500 * time.Millisecond)
			e.srv.Requests()
		}
	})
	wg.Wait()
	assert.Equal(t, 4*50*5, e.srv.Requests()["action"])
}

func TestListen(t *testing.T) {
	l, err := sandbox.Listen(t.Context(), sandbox.Options{ProjectID: project, Token: token})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(l.URL, "http://127.0.0.1:"), "URL %s", l.URL)

	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, l.URL+actionPath(sandbox.DemoWebFrontendID, "start"), strings.NewReader("{}"))
	require.NoError(t, err)
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("Content-Type", "application/json;charset=utf8")
	resp, err := client.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "body %s", body)
	assert.Equal(t, "application/json;charset=utf8", resp.Header.Get("Content-Type"))
	assert.Equal(t, 1, l.Server.Requests()["action"])

	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "Close twice")
	select {
	case <-l.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
	_, err = client.Get(l.URL + pipelinesPath(""))
	assert.Error(t, err, "nothing listens after Close")
}

func TestListenStopsWhenContextIsDone(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	l, err := sandbox.Listen(ctx, sandbox.Options{ProjectID: project, Token: token})
	require.NoError(t, err)
	cancel()
	select {
	case <-l.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("server still running after its context was canceled")
	}
	assert.NoError(t, l.Close())
}

func TestListenRejectsBadOptions(t *testing.T) {
	_, err := sandbox.Listen(t.Context(), sandbox.Options{ProjectID: project})
	assert.ErrorContains(t, err, "token is required")
}

func TestDetailsShowFailingTaskAsDeploy(t *testing.T) {
	e := newEnv(t, nil)
	rec := e.do(http.MethodGet, pipelinesPath("/"+sandbox.DemoLegacyBatchID), "")
	require.Equal(t, http.StatusOK, rec.Code)
	var got struct {
		Declaration struct {
			Stages []struct {
				Name  string `json:"name"`
				Tasks []struct {
					Name string `json:"name"`
					Type string `json:"type"`
				} `json:"tasks"`
			} `json:"stages"`
		} `json:"pipeline_declaration"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	require.Len(t, got.Declaration.Stages, 3)
	assert.Equal(t, "migrate", got.Declaration.Stages[1].Name)
	assert.Equal(t, "deploy", got.Declaration.Stages[1].Tasks[0].Type, "a failing task is an ordinary deploy task to clients")
}

package sandbox_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/sandbox"
)

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

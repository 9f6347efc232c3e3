package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/release"
)

func TestOperateSendsDocumentedRequest(t *testing.T) {
	tests := []struct {
		name     string
		action   release.Action
		opts     *OperateOptions
		wantBody string
	}{
		{"start all tasks", release.ActionStart, nil, `{}`},
		{"start selected tasks", release.ActionStart, &OperateOptions{SelectedTasks: []SelectedTasks{
			{StageName: "899tih", Tasks: []string{"ujgdh4"}}, {StageName: "uipfzw", Tasks: []string{"ax8hus", "b"}},
		}}, `{"selected_tasks":[{"stage_name":"899tih","tasks":["ujgdh4"]},{"stage_name":"uipfzw","tasks":["ax8hus","b"]}]}`},
		{"stop", release.ActionStop, nil, `{}`},
		{"continue", release.ActionContinue, &OperateOptions{}, `{}`},
		{"retry", release.ActionRetry, nil, `{}`},
		{"rollback", release.ActionRollback, nil, `{}`},
		{"approve with comment", release.ActionApproval, &OperateOptions{TaskName: "approve-prod", ApprovalType: release.Agree, Message: "LGTM <@U1> & co"},
			`{"task_name":"approve-prod","approval_type":"agree","message":"LGTM <@U1> & co"}`},
		{"refuse", release.ActionApproval, &OperateOptions{TaskName: "approve-prod", ApprovalType: release.Refuse, Message: "not today"},
			`{"task_name":"approve-prod","approval_type":"refuse","message":"not today"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			f.mux.HandleFunc("POST "+pipelinesPath+"/"+testTask+"/action", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 200, `{"id": 286541, "pipeline_id": "`+testTask+`", "status": 4}`)
			})
			c, _ := f.client(t, nil)

			got, err := c.Operate(context.Background(), testTask, tt.action, tt.opts)
			require.NoError(t, err)
			assert.Equal(t, &Execution{ID: "286541", PipelineID: testTask, Status: release.StatusReleasing}, got)

			reqs := f.requests()
			require.Len(t, reqs, 1)
			r := reqs[0]
			assert.Equal(t, http.MethodPost, r.Method)
			assert.Equal(t, pipelinesPath+"/"+testTask+"/action", r.Path)
			assert.Equal(t, "action_id="+string(tt.action), r.Query)
			assert.Equal(t, "application/json;charset=utf8", r.Header.Get("Content-Type"))
			assert.Equal(t, testToken, r.Header.Get("X-Auth-Token"))
			assert.JSONEq(t, tt.wantBody, r.Body)
		})
	}
}

func TestReadsSendDocumentedRequests(t *testing.T) {
	f := setup(t)
	f.mux.HandleFunc("GET "+pipelinesPath, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"pipelines":[{"id":"`+testTask+`","name":"payments-api","status":5,"creator":"alice","last_trigger_at":1711952860132}]}`)
	})
	f.mux.HandleFunc("GET "+pipelinesPath+"/"+testTask, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"id":"`+testTask+`","name":"payments-api","pipeline_declaration":{"stages":[{"name":"gate","tasks":[{"name":"approve-prod","type":"manual_approval"}]}]}}`)
	})
	f.mux.HandleFunc("GET "+pipelinesPath+"/"+testTask+"/records", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"count":1,"records":[{"id":286541,"pipeline_id":"`+testTask+`","status":5,"trigger":"alice"}]}`)
	})
	c, _ := f.client(t, nil)
	ctx := context.Background()

	tasks, err := c.ListReleaseTasks(ctx)
	require.NoError(t, err)
	require.Len(t, tasks, 1)
	assert.Equal(t, "payments-api", tasks[0].Name)
	assert.Equal(t, release.StatusAwaitingApproval, tasks[0].Status)
	assert.Equal(t, time.UnixMilli(1711952860132).UTC(), tasks[0].LastTriggerAt)

	detail, err := c.GetReleaseTask(ctx, testTask)
	require.NoError(t, err)
	assert.Equal(t, []string{"approve-prod"}, detail.ApprovalTasks())

	recs, err := c.ListRecords(ctx, testTask)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, "286541", recs[0].ID)

	reqs := f.requests()
	require.Len(t, reqs, 3)
	for _, r := range reqs {
		assert.Equal(t, http.MethodGet, r.Method)
		assert.Empty(t, r.Body)
		assert.Equal(t, testToken, r.Header.Get("X-Auth-Token"))
		assert.Equal(t, "application/json;charset=utf8", r.Header.Get("Content-Type"))
	}
	assert.Equal(t, []string{pipelinesPath, pipelinesPath + "/" + testTask, pipelinesPath + "/" + testTask + "/records"},
		[]string{reqs[0].Path, reqs[1].Path, reqs[2].Path})
}

func TestRequestsRefusedBeforeSending(t *testing.T) {
	agree := func(o *OperateOptions) *OperateOptions { return o }
	tests := []struct {
		name   string
		id     string
		action release.Action
		opts   *OperateOptions
	}{
		{"path traversal", "../../x", release.ActionStart, nil},
		{"query injection", "a?b", release.ActionStart, nil},
		{"encoded dots", "%2e%2e", release.ActionStart, nil},
		{"slash", "a/b", release.ActionStop, nil},
		{"fragment", "a#b", release.ActionStop, nil},
		{"space", "a b", release.ActionStop, nil},
		{"empty id", "", release.ActionStart, nil},
		{"leading dash", "-a", release.ActionStart, nil},
		{"too long", strings.Repeat("a", 129), release.ActionStart, nil},
		{"unicode", "réléase", release.ActionStart, nil},
		{"unknown action", testTask, release.Action("delete"), nil},
		{"action with query", testTask, release.Action("start&x=1"), nil},
		{"selected tasks on stop", testTask, release.ActionStop, &OperateOptions{SelectedTasks: []SelectedTasks{{StageName: "s", Tasks: []string{"t"}}}}},
		{"selected stage without tasks", testTask, release.ActionStart, &OperateOptions{SelectedTasks: []SelectedTasks{{StageName: "s"}}}},
		{"selected empty task", testTask, release.ActionStart, &OperateOptions{SelectedTasks: []SelectedTasks{{StageName: "s", Tasks: []string{""}}}}},
		{"approval without task name", testTask, release.ActionApproval, agree(&OperateOptions{ApprovalType: release.Agree})},
		{"approval without type", testTask, release.ActionApproval, &OperateOptions{TaskName: "gate"}},
		{"approval with unknown type", testTask, release.ActionApproval, &OperateOptions{TaskName: "gate", ApprovalType: "maybe"}},
		{"task name on start", testTask, release.ActionStart, &OperateOptions{TaskName: "gate"}},
		{"message on stop", testTask, release.ActionStop, &OperateOptions{Message: "hi"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			c, _ := f.client(t, nil)
			_, err := c.Operate(context.Background(), tt.id, tt.action, tt.opts)
			require.ErrorIs(t, err, ErrInvalidRequest)
			if tt.action.Valid() && tt.opts == nil {
				_, err = c.GetReleaseTask(context.Background(), tt.id)
				require.ErrorIs(t, err, ErrInvalidRequest)
				_, err = c.ListRecords(context.Background(), tt.id)
				require.ErrorIs(t, err, ErrInvalidRequest)
			}
			assert.Empty(t, f.requests(), "nothing may reach the server")
		})
	}
}

func TestNewClientRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name, endpoint, project string
		auth                    Authenticator
	}{
		{"relative endpoint", "servicestage.example", testProject, NewStaticToken("t")},
		{"ftp endpoint", "ftp://servicestage.example", testProject, NewStaticToken("t")},
		{"endpoint with query", "https://servicestage.example?x=1", testProject, NewStaticToken("t")},
		{"bad project", "https://servicestage.example", "../p", NewStaticToken("t")},
		{"no auth", "https://servicestage.example", testProject, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewClient(nil, tt.endpoint, tt.project, tt.auth)
			require.ErrorIs(t, err, ErrInvalidRequest)
		})
	}
}

// An endpoint's empty port ("host:") means the scheme's: requests go to
// the host alone, as http.NewRequest would send them.
func TestEndpointEmptyPortIsDropped(t *testing.T) {
	var hosts []string
	hc := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		hosts = append(hosts, r.Host+" "+r.URL.Host)
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(`{"pipelines":[]}`)), Request: r}, nil
	})}
	c, err := NewClient(hc, "https://servicestage.example.com:/", testProject, NewStaticToken(testToken))
	require.NoError(t, err)
	_, err = c.ListReleaseTasks(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"servicestage.example.com servicestage.example.com"}, hosts)
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestEndpointPathPrefixIsKept(t *testing.T) {
	for _, tc := range []struct {
		name, prefix, path, rawPath string
	}{
		{"plain", "/prefix", "/prefix", ""},
		{"escaped", "/a%2Fb", "/a/b", "/a%2Fb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost {
					writeJSON(w, 200, `{"id":"e1","pipeline_id":"`+testTask+`","status":4}`)
					return
				}
				writeJSON(w, 200, `[]`)
			})
			c, err := NewClient(f.server.Client(), f.server.URL+tc.prefix+"/", testProject, NewStaticToken(testToken))
			require.NoError(t, err)
			tasks, err := c.ListReleaseTasks(context.Background())
			require.NoError(t, err)
			assert.Empty(t, tasks)
			_, err = c.Operate(context.Background(), testTask, release.ActionStart, nil)
			require.NoError(t, err)
			_, err = c.Operate(context.Background(), testTask, release.ActionStop, nil)
			require.NoError(t, err)

			reqs := f.requests()
			require.Len(t, reqs, 3)
			rawPath := func(p string) string {
				if tc.rawPath == "" {
					return ""
				}
				return tc.rawPath + p
			}
			assert.Equal(t, tc.path+pipelinesPath, reqs[0].Path)
			assert.Equal(t, rawPath(pipelinesPath), reqs[0].RawPath)
			for _, r := range reqs[1:] {
				assert.Equal(t, tc.path+pipelinesPath+"/"+testTask+"/action", r.Path)
				assert.Equal(t, rawPath(pipelinesPath+"/"+testTask+"/action"), r.RawPath)
			}
			assert.Equal(t, "action_id=start", reqs[1].Query)
			assert.Equal(t, "action_id=stop", reqs[2].Query, "each URL is built afresh")
		})
	}
}

func TestErrorBodiesBecomeTypedErrors(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		header   map[string]string
		want     Error
		contains string
	}{
		{"flat 400", 400, `{"error_code":"SVCSTG.00100400","error_msg":"Invalid action_id."}`, nil,
			Error{StatusCode: 400, Code: "SVCSTG.00100400", Message: "Invalid action_id."}, "HTTP 400 SVCSTG.00100400: Invalid action_id."},
		{"nested 401 numeric code", 401, `{"error":{"code":401,"message":"The request you have made requires authentication.","title":"Unauthorized"}}`, nil,
			Error{StatusCode: 401, Code: "401", Message: "The request you have made requires authentication."}, "HTTP 401 401"},
		{"nested string code", 403, `{"error":{"code":"IAM.0002","message":"Forbidden"}}`, nil,
			Error{StatusCode: 403, Code: "IAM.0002", Message: "Forbidden"}, "IAM.0002"},
		{"nested title only", 403, `{"error":{"title":"Forbidden"}}`, nil,
			Error{StatusCode: 403, Message: "Forbidden"}, "Forbidden"},
		{"apigw with request id", 404, `{"error_msg":"The API does not exist or has not been published in the environment","error_code":"APIGW.0101","request_id":"abc123"}`, nil,
			Error{StatusCode: 404, Code: "APIGW.0101", Message: "The API does not exist or has not been published in the environment", RequestID: "abc123"}, "APIGW.0101"},
		{"request id header", 500, `{"error_code":"SVCSTG.500","error_msg":"boom"}`, map[string]string{"X-Request-Id": "req-9"},
			Error{StatusCode: 500, Code: "SVCSTG.500", Message: "boom", RequestID: "req-9"}, "boom"},
		{"html page", 502, "<html>\n<body>\tBad   Gateway</body></html>", nil,
			Error{StatusCode: 502, Message: "<html> <body> Bad Gateway</body></html>"}, "HTTP 502"},
		{"empty body", 503, ``, nil, Error{StatusCode: 503, Message: "Service Unavailable"}, "Service Unavailable"},
		{"json without fields", 409, `{"foo":1}`, nil, Error{StatusCode: 409, Message: "Conflict"}, "Conflict"},
		{"huge message is cut", 400, `{"error_code":"X","error_msg":"` + strings.Repeat("a", 5000) + `"}`, nil,
			Error{StatusCode: 400, Code: "X", Message: strings.Repeat("a", 500) + "…"}, "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				writeJSON(w, tt.status, tt.body)
			})
			c, _ := f.client(t, nil, WithRetries(0, time.Millisecond, time.Second))
			_, err := c.Operate(context.Background(), testTask, release.ActionStop, nil)
			var got *Error
			require.ErrorAs(t, err, &got)
			tt.want.Op = "operate release task: stop"
			assert.Equal(t, tt.want, *got)
			assert.Contains(t, err.Error(), tt.contains)
			assert.Equal(t, tt.status == 401, got.Unauthorized())
			assert.Equal(t, tt.status == 404, got.NotFound())
		})
	}
}

// A success body over the limit is refused, whether its length is given
// or not, and one cut short of its length is an error too.
func TestOversizedSuccessBodyIsRefused(t *testing.T) {
	big := `{"pipelines":[` + strings.Repeat(" ", maxResponseBody) + `]}`
	for _, tt := range []struct {
		name, length, body, want string
	}{
		{"chunked", "", big, "larger than"},
		{"length given", strconv.Itoa(len(big)), big, "larger than"},
		{"cut short of its length", "500", `{"pipelines":[]}`, "unexpected EOF"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t)
			f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
				if tt.length != "" {
					w.Header().Set("Content-Length", tt.length)
				}
				w.WriteHeader(200)
				_, _ = io.WriteString(w, tt.body)
			})
			c, _ := f.client(t, nil, WithRetries(0, time.Millisecond, time.Second))
			_, err := c.ListReleaseTasks(context.Background())
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		status                release.Status
		word, label           string
		finished, waitsPerson bool
	}{
		{1, "Initialized", "Initialized (1)", false, false},
		{2, "Released", "Released (2)", true, false},
		{3, "Release failed", "Release failed (3)", true, false},
		{4, "Releasing", "Releasing (4)", false, false},
		{5, "Awaiting approval", "Awaiting approval (5)", false, true},
		{7, "Paused", "Paused (7)", false, true},
		{9, "Skipped", "Skipped (9)", false, false},
		{10, "Rolling back", "Rolling back (10)", false, false},
		{11, "Rolled back", "Rolled back (11)", true, false},
		{12, "Rollback failed", "Rollback failed (12)", true, false},
		{13, "Stopping", "Stopping (13)", false, false},
		{14, "Restarting", "Restarting (14)", false, false},
		{6, "status 6", "status 6", false, false},
		{0, "status 0", "status 0", false, false},
		{-3, "status -3", "status -3", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			assert.Equal(t, tt.word, tt.status.String())
			assert.Equal(t, tt.label, tt.status.Label())
			assert.Equal(t, tt.finished, tt.status.Finished())
			assert.Equal(t, tt.waitsPerson, tt.status.AwaitingPerson())
			assert.Equal(t, tt.word[0] != 's', tt.status.Known())
		})
	}
}

func TestDecodeEveryDocumentedShape(t *testing.T) {
	t.Run("execution id as number or string", func(t *testing.T) {
		for _, body := range []string{
			`{"id": 286541, "pipeline_id": "p", "status": 4}`,
			`{"id": "286541", "pipeline_id": "p", "status": "4"}`,
		} {
			e, err := decodeExecution([]byte(body))
			require.NoError(t, err, body)
			assert.Equal(t, &Execution{ID: "286541", PipelineID: "p", Status: release.StatusReleasing}, e)
		}
		_, err := decodeExecution([]byte(`{"pipeline_id":"p"}`))
		require.ErrorContains(t, err, "no execution id")
		_, err = decodeExecution([]byte(`{"id": {"x":1}}`))
		require.Error(t, err)
		_, err = decodeExecution([]byte(`{"id": 1, "status": "four"}`))
		require.Error(t, err)
	})
	t.Run("list as object or bare array", func(t *testing.T) {
		item := `{"id":"a1","name":"web","description":"d","create_time":1711952860132,"update_time":"1711952860133","status":2,"creator":"bob","last_trigger_at":0}`
		for _, body := range []string{`{"pipelines":[` + item + `]}`, ` [` + item + `]`} {
			tasks, err := decodeReleaseTasks([]byte(body))
			require.NoError(t, err, body)
			require.Len(t, tasks, 1)
			assert.Equal(t, ReleaseTask{
				ID: "a1", Name: "web", Description: "d", Status: release.StatusReleased, Creator: "bob",
				CreateTime: time.UnixMilli(1711952860132).UTC(), UpdateTime: time.UnixMilli(1711952860133).UTC(),
			}, tasks[0])
		}
		tasks, err := decodeReleaseTasks([]byte(`{"pipelines":null}`))
		require.NoError(t, err)
		assert.Empty(t, tasks)
		_, err = decodeReleaseTasks([]byte(`null`))
		require.Error(t, err)
		_, err = decodeReleaseTasks([]byte(`{"pipelines":{}}`))
		require.Error(t, err)
	})
	t.Run("records as object or bare array", func(t *testing.T) {
		item := `{"id":286541,"pipeline_id":"a1","status":3,"trigger":12,"start_time":"2026-11-29T09:00:00Z","end_time":"2026-11-29 09:05:00",
			"stages":[{"name":"build","status":2,"tasks":[{"name":"compile","status":2}]},{"name":"deploy","status":3}]}`
		for _, body := range []string{`{"count":1,"records":[` + item + `]}`, `[` + item + `]`} {
			recs, err := decodeRecords([]byte(body))
			require.NoError(t, err)
			require.Len(t, recs, 1)
			assert.Equal(t, Record{
				ID: "286541", PipelineID: "a1", Status: release.StatusFailed, Trigger: "12",
				StartTime: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC),
				EndTime:   time.Date(2026, 11, 29, 9, 5, 0, 0, time.UTC),
				Stages: []StageRun{
					{Name: "build", Status: release.StatusReleased, Tasks: []TaskRun{{Name: "compile", Status: release.StatusReleased}}},
					{Name: "deploy", Status: release.StatusFailed},
				},
			}, recs[0])
		}
	})
	t.Run("details stages under pipeline_declaration or top level", func(t *testing.T) {
		for _, body := range []string{
			`{"id":"a1","name":"pay","pipeline_declaration":{"stages":[{"name":"gate","tasks":[{"name":"ok-prod","type":"manual_approval"},{"name":"deploy","type":"deploy"}]}]}}`,
			`{"id":"a1","name":"pay","stages":[{"name":"gate","tasks":[{"name":"ok-prod","task_type":"Approval"},{"name":"deploy"}]}]}`,
		} {
			d, err := decodeReleaseTaskDetail([]byte(body))
			require.NoError(t, err)
			assert.Equal(t, "pay", d.Name)
			require.Len(t, d.Stages, 1)
			assert.Equal(t, []string{"ok-prod"}, d.ApprovalTasks())
		}
		_, err := decodeReleaseTaskDetail([]byte(`{}`))
		require.Error(t, err)
	})
	t.Run("times", func(t *testing.T) {
		tests := map[string]time.Time{
			`1711952860132`:          time.UnixMilli(1711952860132).UTC(),
			`1711952860`:             time.Unix(1711952860, 0).UTC(),
			`"1711952860132"`:        time.UnixMilli(1711952860132).UTC(),
			`"2024-04-01T06:27:40Z"`: time.Date(2024, 4, 1, 6, 27, 40, 0, time.UTC),
			`"2024-04-01 06:27:40"`:  time.Date(2024, 4, 1, 6, 27, 40, 0, time.UTC),
			`null`:                   {}, `0`: {}, `""`: {}, `"yesterday"`: {}, `-5`: {}, `99999999999999999`: {},
		}
		for in, want := range tests {
			var ft flexTime
			require.NoError(t, json.Unmarshal([]byte(in), &ft), in)
			assert.Equal(t, want, time.Time(ft), in)
		}
	})
}

func TestErrorsAsThroughRedaction(t *testing.T) {
	f := setup(t)
	f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 404, `{"error_code":"SVCSTG.404","error_msg":"nope"}`)
	})
	c, _ := f.client(t, nil)
	_, err := c.GetReleaseTask(context.Background(), testTask)
	var e *Error
	require.True(t, errors.As(err, &e))
	assert.True(t, e.NotFound())
	assert.Equal(t, "get release task: HTTP 404 SVCSTG.404: nope", err.Error())
}

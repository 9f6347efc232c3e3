package sandbox_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/sandbox"
)

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

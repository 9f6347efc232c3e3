package sandbox_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/sandbox"
)

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

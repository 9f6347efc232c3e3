package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/release"
	"github.com/releasebot/releasebot/sandbox"
)

const sandboxProject = "sandboxproject01"

// mustSandbox serves the simulator on loopback with a manual clock and
// returns a client for it.
func mustSandbox(t *testing.T, token string) (*api.Client, *sandbox.Listener, *sandbox.ManualClock) {
	t.Helper()
	clk := sandbox.NewManualClock(time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC))
	l, err := sandbox.Listen(context.Background(), sandbox.Options{ProjectID: sandboxProject, Token: "sandbox-token", Clock: clk})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	c, err := api.NewClient(&http.Client{}, l.URL, sandboxProject, api.NewStaticToken(token),
		api.WithRetries(1, time.Millisecond, time.Second))
	require.NoError(t, err)
	return c, l, clk
}

func TestSandboxApprovalFlow(t *testing.T) {
	c, l, clk := mustSandbox(t, "sandbox-token")
	ctx := context.Background()

	tasks, err := c.ListReleaseTasks(ctx)
	require.NoError(t, err)
	names := map[string]string{}
	for _, tk := range tasks {
		names[tk.Name] = tk.ID
		assert.Equal(t, release.StatusInitialized, tk.Status, tk.Name)
	}
	require.Equal(t, sandbox.DemoPaymentsAPIID, names["payments-api"])

	detail, err := c.GetReleaseTask(ctx, sandbox.DemoPaymentsAPIID)
	require.NoError(t, err)
	assert.Equal(t, []string{sandbox.DemoApprovalTask}, detail.ApprovalTasks())

	exec, err := c.Operate(ctx, sandbox.DemoPaymentsAPIID, release.ActionStart, nil)
	require.NoError(t, err)
	assert.Equal(t, release.StatusReleasing, exec.Status)
	assert.Equal(t, sandbox.DemoPaymentsAPIID, exec.PipelineID)

	clk.Advance(time.Minute)
	recs, err := c.ListRecords(ctx, sandbox.DemoPaymentsAPIID)
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	assert.Equal(t, exec.ID, recs[0].ID)
	assert.Equal(t, release.StatusAwaitingApproval, recs[0].Status)
	assert.NotEmpty(t, recs[0].Stages)

	// Refused by the client: nothing reaches the simulator.
	before := l.Server.Requests()["action"]
	_, err = c.Operate(ctx, sandbox.DemoPaymentsAPIID, release.ActionApproval, &api.OperateOptions{ApprovalType: release.Agree})
	require.ErrorIs(t, err, api.ErrInvalidRequest)
	assert.Equal(t, before, l.Server.Requests()["action"])

	// Refused by the simulator, as the real API would: a typed error.
	_, err = c.Operate(ctx, sandbox.DemoPaymentsAPIID, release.ActionApproval, &api.OperateOptions{TaskName: "no-such-gate", ApprovalType: release.Agree})
	var apiErr *api.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusBadRequest, apiErr.StatusCode)
	assert.NotEmpty(t, apiErr.Code)

	exec, err = c.Operate(ctx, sandbox.DemoPaymentsAPIID, release.ActionApproval,
		&api.OperateOptions{TaskName: sandbox.DemoApprovalTask, ApprovalType: release.Agree, Message: "ship it"})
	require.NoError(t, err)
	assert.Equal(t, recs[0].ID, exec.ID)

	clk.Advance(time.Minute)
	recs, err = c.ListRecords(ctx, sandbox.DemoPaymentsAPIID)
	require.NoError(t, err)
	assert.Equal(t, release.StatusReleased, recs[0].Status)
	assert.True(t, recs[0].Status.Finished())
	assert.False(t, recs[0].EndTime.IsZero())
}

func TestSandboxFailRetryRollback(t *testing.T) {
	c, _, clk := mustSandbox(t, "sandbox-token")
	ctx := context.Background()
	latest := func() api.Record {
		recs, err := c.ListRecords(ctx, sandbox.DemoLegacyBatchID)
		require.NoError(t, err)
		require.NotEmpty(t, recs)
		return recs[0]
	}

	_, err := c.Operate(ctx, sandbox.DemoLegacyBatchID, release.ActionStart, nil)
	require.NoError(t, err)
	clk.Advance(time.Minute)
	assert.Equal(t, release.StatusFailed, latest().Status)

	_, err = c.Operate(ctx, sandbox.DemoLegacyBatchID, release.ActionRetry, nil)
	require.NoError(t, err)
	clk.Advance(time.Minute)
	assert.Equal(t, release.StatusReleased, latest().Status)

	exec, err := c.Operate(ctx, sandbox.DemoLegacyBatchID, release.ActionRollback, nil)
	require.NoError(t, err)
	assert.Equal(t, release.StatusRollingBack, exec.Status)
	clk.Advance(time.Minute)
	assert.Equal(t, release.StatusRolledBack, latest().Status)
}

func TestSandboxPauseContinueAndStop(t *testing.T) {
	c, _, clk := mustSandbox(t, "sandbox-token")
	ctx := context.Background()

	_, err := c.Operate(ctx, sandbox.DemoDataPipelineID, release.ActionStart, nil)
	require.NoError(t, err)
	clk.Advance(time.Minute)
	tasks, err := c.ListReleaseTasks(ctx)
	require.NoError(t, err)
	for _, tk := range tasks {
		if tk.ID == sandbox.DemoDataPipelineID {
			assert.Equal(t, release.StatusPaused, tk.Status)
			assert.False(t, tk.LastTriggerAt.IsZero())
		}
	}
	exec, err := c.Operate(ctx, sandbox.DemoDataPipelineID, release.ActionContinue, nil)
	require.NoError(t, err)
	assert.Equal(t, release.StatusReleasing, exec.Status)

	exec, err = c.Operate(ctx, sandbox.DemoDataPipelineID, release.ActionStop, nil)
	require.NoError(t, err)
	assert.Equal(t, release.StatusStopping, exec.Status)

	// A second start while one runs is refused upstream, once, and not retried.
	_, err = c.Operate(ctx, sandbox.DemoWebFrontendID, release.ActionStart, nil)
	require.NoError(t, err)
	_, err = c.Operate(ctx, sandbox.DemoWebFrontendID, release.ActionStart, nil)
	var apiErr *api.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusBadRequest, apiErr.StatusCode)
}

func TestSandboxRejections(t *testing.T) {
	tests := []struct {
		name       string
		token      string
		call       func(c *api.Client) error
		wantStatus int
	}{
		{"wrong token", "not-the-token", func(c *api.Client) error { _, err := c.ListReleaseTasks(context.Background()); return err }, http.StatusUnauthorized},
		{"unknown release task", "sandbox-token", func(c *api.Client) error {
			_, err := c.GetReleaseTask(context.Background(), "00000000-0000-0000-0000-000000000000")
			return err
		}, http.StatusNotFound},
		{"unknown release task action", "sandbox-token", func(c *api.Client) error {
			_, err := c.Operate(context.Background(), "00000000-0000-0000-0000-000000000000", release.ActionStart, nil)
			return err
		}, http.StatusNotFound},
		{"continue when nothing is paused", "sandbox-token", func(c *api.Client) error {
			_, err := c.Operate(context.Background(), sandbox.DemoWebFrontendID, release.ActionContinue, nil)
			return err
		}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, _ := mustSandbox(t, tt.token)
			err := tt.call(c)
			var apiErr *api.Error
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.wantStatus, apiErr.StatusCode)
			assert.NotEmpty(t, apiErr.Message)
			assert.NotContains(t, err.Error(), "sandbox-token")
		})
	}
}

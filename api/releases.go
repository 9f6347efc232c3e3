package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/releasebot/releasebot/release"
)

// SelectedTasks names tasks of one stage to run on start.
type SelectedTasks struct {
	StageName string   `json:"stage_name"`
	Tasks     []string `json:"tasks"`
}

// OperateOptions is the body of an operation. SelectedTasks is for start
// only (nil runs every task); TaskName and ApprovalType are required for
// approval, Message is its optional comment. A field set for an action that
// does not take it is refused rather than sent.
type OperateOptions struct {
	SelectedTasks []SelectedTasks  `json:"selected_tasks,omitempty"`
	TaskName      string           `json:"task_name,omitempty"`
	ApprovalType  release.Decision `json:"approval_type,omitempty"`
	Message       string           `json:"message,omitempty"`
}

func (o *OperateOptions) validate(action release.Action) error {
	if !action.Valid() {
		return fmt.Errorf("%w: unknown action %.20q", ErrInvalidRequest, string(action))
	}
	if action != release.ActionStart && len(o.SelectedTasks) > 0 {
		return fmt.Errorf("%w: selected tasks are for start only", ErrInvalidRequest)
	}
	for _, st := range o.SelectedTasks {
		if st.StageName == "" || len(st.Tasks) == 0 {
			return fmt.Errorf("%w: a selected stage needs a name and at least one task", ErrInvalidRequest)
		}
		for _, t := range st.Tasks {
			if t == "" {
				return fmt.Errorf("%w: empty task name in stage %.40q", ErrInvalidRequest, st.StageName)
			}
		}
	}
	if action != release.ActionApproval {
		if o.TaskName != "" || o.ApprovalType != "" || o.Message != "" {
			return fmt.Errorf("%w: task name, approval type and message are for approval only", ErrInvalidRequest)
		}
		return nil
	}
	if o.TaskName == "" {
		return fmt.Errorf("%w: approval needs a task name", ErrInvalidRequest)
	}
	if !o.ApprovalType.Upstream() {
		return fmt.Errorf("%w: approval type must be %q or %q", ErrInvalidRequest, release.Agree, release.Refuse)
	}
	return nil
}

// Operate performs action on release task pipelineID (ServiceStage "Operating
// a Release Task Based on the Release Task ID") and returns the execution it
// started or acted on. opts may be nil. The request is never retried, except
// once after a 401 with fresh credentials: a repeated start would start a
// second release. Errors from the server are *Error; after an answer of 408,
// 500, 502, 503 or 504, or none, they also wrap ErrOutcomeUnknown. Requests
// refused before sending wrap ErrInvalidRequest.
func (c *Client) Operate(ctx context.Context, pipelineID string, action release.Action, opts *OperateOptions) (*Execution, error) {
	op := "operate release task: " + string(action)
	if !action.Valid() {
		op = "operate release task"
	}
	if opts == nil {
		opts = &OperateOptions{}
	}
	if err := opts.validate(action); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	u, err := c.pipelineURL(pipelineID, "action")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	u.RawQuery = "action_id=" + string(action)
	body, err := json.Marshal(opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	data, err := c.do(ctx, call{op: op, method: http.MethodPost, url: u, body: body})
	if err != nil {
		return nil, err
	}
	e, err := decodeExecution(data)
	if err != nil {
		// ServiceStage said yes; only its answer is unreadable.
		return nil, fmt.Errorf("%s: %w: decode response: %w", op, ErrOutcomeUnknown, err)
	}
	return e, nil
}

// ListReleaseTasks lists the project's release tasks (ServiceStage "Obtaining
// the Release Task List"). Reads are retried with backoff on 429, 5xx and
// connection errors.
func (c *Client) ListReleaseTasks(ctx context.Context) ([]ReleaseTask, error) {
	const op = "list release tasks"
	data, err := c.do(ctx, call{op: op, method: http.MethodGet, url: c.pipelinesURL(), idempotent: true})
	if err != nil {
		return nil, err
	}
	tasks, err := decodeReleaseTasks(data)
	if err != nil {
		return nil, fmt.Errorf("%s: decode response: %w", op, err)
	}
	return tasks, nil
}

// GetReleaseTask returns a release task with its stages (ServiceStage
// "Viewing Release Task Details Based on the Release Task ID").
func (c *Client) GetReleaseTask(ctx context.Context, pipelineID string) (*ReleaseTaskDetail, error) {
	const op = "get release task"
	u, err := c.pipelineURL(pipelineID, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	data, err := c.do(ctx, call{op: op, method: http.MethodGet, url: u, idempotent: true})
	if err != nil {
		return nil, err
	}
	d, err := decodeReleaseTaskDetail(data)
	if err != nil {
		return nil, fmt.Errorf("%s: decode response: %w", op, err)
	}
	return d, nil
}

// ListRecords returns the executions of a release task, as ServiceStage
// orders them (ServiceStage "Viewing the Release Task Execution Record Based
// on the Release Task ID").
func (c *Client) ListRecords(ctx context.Context, pipelineID string) ([]Record, error) {
	const op = "list execution records"
	u, err := c.pipelineURL(pipelineID, "records")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	data, err := c.do(ctx, call{op: op, method: http.MethodGet, url: u, idempotent: true})
	if err != nil {
		return nil, err
	}
	recs, err := decodeRecords(data)
	if err != nil {
		return nil, fmt.Errorf("%s: decode response: %w", op, err)
	}
	return recs, nil
}

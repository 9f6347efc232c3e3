package sandbox

import (
	"fmt"
	"time"
)

// Status codes of release tasks, executions, stages and tasks, as ServiceStage
// reports them.
const (
	StatusInitialized      = 1
	StatusReleased         = 2
	StatusFailed           = 3
	StatusReleasing        = 4
	StatusAwaitingApproval = 5
	StatusPaused           = 7
	StatusSkipped          = 9
	StatusRollingBack      = 10
	StatusRolledBack       = 11
	StatusRollbackFailed   = 12
	StatusStopping         = 13
	StatusRestarting       = 14
)

// How long the transitional statuses last. Short, so a demo run in Slack
// moves along, but long enough for a poller to see them.
const (
	stopDuration     = time.Second
	restartDuration  = time.Second
	rollbackDuration = 3 * time.Second
)

var statusNames = map[int]string{
	StatusInitialized:      "initialized",
	StatusReleased:         "released",
	StatusFailed:           "release failed",
	StatusReleasing:        "releasing",
	StatusAwaitingApproval: "awaiting approval",
	StatusPaused:           "paused",
	StatusSkipped:          "skipped",
	StatusRollingBack:      "rolling back",
	StatusRolledBack:       "rolled back",
	StatusRollbackFailed:   "rollback failed",
	StatusStopping:         "stopping",
	StatusRestarting:       "restarting",
}

func statusText(code int) string {
	if name, ok := statusNames[code]; ok {
		return fmt.Sprintf("%s (%d)", name, code)
	}
	return fmt.Sprintf("status %d", code)
}

func finished(status int) bool {
	switch status {
	case StatusReleased, StatusFailed, StatusRolledBack, StatusRollbackFailed:
		return true
	}
	return false
}

type taskRun struct {
	name     string
	kind     TaskKind
	duration time.Duration
	status   int
	failed   bool // a KindFail task has had its one failure in this execution
}

type stageRun struct {
	name  string
	tasks []*taskRun
}

// execution is one run of a release task. Its state is advanced lazily, to
// the caller's "now", instead of by timers: a ManualClock then drives it
// deterministically and nothing runs in the background.
type execution struct {
	id         int64
	pipelineID string
	trigger    string
	status     int
	start, end time.Time
	stages     []stageRun
	// si, ti point at the current task: the one running, waiting, stopping
	// or restarting, or the one that failed.
	si, ti int
	// since is when the current task or transitional status began.
	since     time.Time
	approvals []Approval
}

// Approval is a decision recorded by the approval action.
type Approval struct {
	Task    string
	Type    string // "agree" or "refuse"
	Message string
	At      time.Time
}

// newExecution plans a run of spec; tasks not in selected (when selected is
// not nil) are skipped. It reports false when nothing would run.
func newExecution(id int64, spec TaskSpec, trigger string, selected map[string]map[string]bool, now time.Time) (*execution, bool) {
	e := &execution{id: id, pipelineID: spec.ID, trigger: trigger, start: now, si: -1}
	for si, st := range spec.Stages {
		run := stageRun{name: st.Name}
		for ti, t := range st.Tasks {
			tr := &taskRun{name: t.Name, kind: t.Kind, duration: t.Duration, status: StatusInitialized}
			if selected != nil && !selected[st.Name][t.Name] {
				tr.status = StatusSkipped
			} else if e.si < 0 {
				e.si, e.ti = si, ti
			}
			run.tasks = append(run.tasks, tr)
		}
		e.stages = append(e.stages, run)
	}
	if e.si < 0 {
		return nil, false
	}
	e.status, e.since = StatusReleasing, now
	return e, true
}

func (e *execution) current() *taskRun { return e.stages[e.si].tasks[e.ti] }

// advance brings the execution up to now, stepping through every task that
// would have started or ended by then.
func (e *execution) advance(now time.Time) {
	for {
		switch e.status {
		case StatusReleasing:
			t := e.current()
			switch t.kind {
			case KindApproval:
				t.status, e.status = StatusAwaitingApproval, StatusAwaitingApproval
				return
			case KindPause:
				t.status, e.status = StatusPaused, StatusPaused
				return
			}
			t.status = StatusReleasing
			done := e.since.Add(t.duration)
			if now.Before(done) {
				return
			}
			if t.kind == KindFail && !t.failed {
				t.failed, t.status = true, StatusFailed
				e.finish(StatusFailed, done)
				return
			}
			t.status = StatusReleased
			e.next(done)
		case StatusStopping:
			done := e.since.Add(stopDuration)
			if now.Before(done) {
				return
			}
			e.current().status = StatusFailed
			e.finish(StatusFailed, done)
		case StatusRestarting:
			done := e.since.Add(restartDuration)
			if now.Before(done) {
				return
			}
			e.status, e.since = StatusReleasing, done
		case StatusRollingBack:
			done := e.since.Add(rollbackDuration)
			if now.Before(done) {
				return
			}
			e.finish(StatusRolledBack, done)
		default:
			return
		}
	}
}

func (e *execution) finish(status int, at time.Time) {
	e.status, e.end, e.since = status, at, at
}

// next moves to the first task after the current one that is not skipped,
// starting it at at, or finishes the execution when there is none.
func (e *execution) next(at time.Time) {
	si, ti := e.si, e.ti+1
	for ; si < len(e.stages); si, ti = si+1, 0 {
		for ; ti < len(e.stages[si].tasks); ti++ {
			if e.stages[si].tasks[ti].status != StatusSkipped {
				e.si, e.ti, e.since, e.status = si, ti, at, StatusReleasing
				return
			}
		}
	}
	e.finish(StatusReleased, at)
}

// actionError is a refused action: it becomes a 400 with its code and message.
type actionError struct{ code, msg string }

// refuse refuses a request that is invalid whatever the execution's status.
func refuse(format string, args ...any) *actionError {
	return &actionError{code: CodeBadRequest, msg: fmt.Sprintf(format, args...)}
}

// refuseStatus refuses an action the execution's status does not allow.
func refuseStatus(format string, args ...any) *actionError {
	return &actionError{code: CodeInvalidStatus, msg: fmt.Sprintf(format, args...)}
}

func (e *execution) refuseIn(action string) *actionError {
	return refuseStatus("cannot %s: execution %d of release task %s is %s", action, e.id, e.pipelineID, statusText(e.status))
}

func (e *execution) stop(now time.Time) *actionError {
	switch e.status {
	case StatusReleasing, StatusAwaitingApproval, StatusPaused, StatusRestarting:
	default:
		return e.refuseIn("stop")
	}
	e.current().status = StatusStopping
	e.status, e.since = StatusStopping, now
	return nil
}

func (e *execution) resume(now time.Time) *actionError {
	if e.status != StatusPaused {
		return e.refuseIn("continue (only a paused execution can continue)")
	}
	e.current().status = StatusReleased
	e.next(now)
	return nil
}

// retry re-runs the execution from the stage that failed; earlier stages keep
// their results.
func (e *execution) retry(now time.Time) *actionError {
	if e.status != StatusFailed {
		return e.refuseIn("retry (only a failed execution can be retried)")
	}
	first := -1
	for ti, t := range e.stages[e.si].tasks {
		if t.status == StatusSkipped {
			continue
		}
		if first < 0 {
			first = ti
		}
		t.status = StatusInitialized
	}
	e.ti = first
	e.current().status = StatusRestarting
	e.status, e.since, e.end = StatusRestarting, now, time.Time{}
	return nil
}

func (e *execution) rollback(now time.Time) *actionError {
	if e.status != StatusReleased && e.status != StatusFailed {
		return e.refuseIn("roll back (only a released or failed execution can be rolled back)")
	}
	e.status, e.since, e.end = StatusRollingBack, now, time.Time{}
	return nil
}

func (e *execution) approve(task, decision, message string, now time.Time) *actionError {
	if e.status != StatusAwaitingApproval {
		return e.refuseIn("approve or refuse (the execution is not awaiting approval)")
	}
	t := e.current()
	if task != t.name {
		return refuseStatus("cannot approve or refuse task %q: execution %d is awaiting approval of task %q", task, e.id, t.name)
	}
	e.approvals = append(e.approvals, Approval{Task: task, Type: decision, Message: message, At: now})
	if decision == approvalRefuse {
		t.status = StatusFailed
		e.finish(StatusFailed, now)
		return nil
	}
	t.status = StatusReleased
	e.next(now)
	return nil
}

// stageStatus sums up a stage from its tasks: the task that is active or
// failed speaks for the stage; otherwise it is done, skipped or not started.
func stageStatus(tasks []*taskRun) int {
	allSkipped, allDone := true, true
	for _, t := range tasks {
		switch t.status {
		case StatusFailed, StatusReleasing, StatusAwaitingApproval, StatusPaused, StatusStopping, StatusRestarting:
			return t.status
		case StatusSkipped:
		case StatusReleased:
			allSkipped = false
		default:
			allSkipped, allDone = false, false
		}
	}
	switch {
	case allSkipped:
		return StatusSkipped
	case allDone:
		return StatusReleased
	}
	return StatusInitialized
}

// ExecutionView is a snapshot of an execution, for tests and diagnostics.
type ExecutionView struct {
	ID         int64
	PipelineID string
	Status     int
	Trigger    string
	StartTime  time.Time
	EndTime    time.Time // zero while the execution is not finished
	// WaitingTask names the approval or pause task the execution waits on at
	// status 5 or 7; it is empty otherwise.
	WaitingTask string
	Stages      []StageView
	Approvals   []Approval
}

// StageView is a stage of an ExecutionView.
type StageView struct {
	Name   string
	Status int
	Tasks  []TaskView
}

// TaskView is a task of a StageView.
type TaskView struct {
	Name   string
	Status int
}

func (e *execution) view() ExecutionView {
	v := ExecutionView{
		ID: e.id, PipelineID: e.pipelineID, Status: e.status, Trigger: e.trigger,
		StartTime: e.start, EndTime: e.end,
		Approvals: append([]Approval(nil), e.approvals...),
	}
	if e.status == StatusAwaitingApproval || e.status == StatusPaused {
		v.WaitingTask = e.current().name
	}
	for _, st := range e.stages {
		sv := StageView{Name: st.name, Status: stageStatus(st.tasks)}
		for _, t := range st.tasks {
			sv.Tasks = append(sv.Tasks, TaskView{Name: t.name, Status: t.status})
		}
		v.Stages = append(v.Stages, sv)
	}
	return v
}

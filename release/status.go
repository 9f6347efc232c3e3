// Package release holds releasebot's domain: statuses and actions of ServiceStage release tasks, approval prompts
// with their votes and states, followed executions, confirmations and the audit log, and the pure rules over them.
package release

import "strconv"

// Status is the state of a release task or of one of its executions, as
// ServiceStage reports it. Codes the documentation does not list are kept as
// they are and shown as "status N".
type Status int

// The status codes of the ServiceStage documentation.
const (
	StatusInitialized      Status = 1
	StatusReleased         Status = 2
	StatusFailed           Status = 3
	StatusReleasing        Status = 4
	StatusAwaitingApproval Status = 5
	StatusPaused           Status = 7
	StatusSkipped          Status = 9
	StatusRollingBack      Status = 10
	StatusRolledBack       Status = 11
	StatusRollbackFailed   Status = 12
	StatusStopping         Status = 13
	StatusRestarting       Status = 14
)

var statusWords = map[Status]string{
	StatusInitialized:      "Initialized",
	StatusReleased:         "Released",
	StatusFailed:           "Release failed",
	StatusReleasing:        "Releasing",
	StatusAwaitingApproval: "Awaiting approval",
	StatusPaused:           "Paused",
	StatusSkipped:          "Skipped",
	StatusRollingBack:      "Rolling back",
	StatusRolledBack:       "Rolled back",
	StatusRollbackFailed:   "Rollback failed",
	StatusStopping:         "Stopping",
	StatusRestarting:       "Restarting",
}

// Known reports whether the code is one the documentation lists.
func (s Status) Known() bool {
	_, ok := statusWords[s]
	return ok
}

// String returns the status in words ("Releasing"), or "status N" for a code
// the documentation does not list.
func (s Status) String() string {
	if w, ok := statusWords[s]; ok {
		return w
	}
	return "status " + strconv.Itoa(int(s))
}

// Label returns the status in words with its code, "Releasing (4)", or
// "status N" for an unknown code.
func (s Status) Label() string {
	if w, ok := statusWords[s]; ok {
		return w + " (" + strconv.Itoa(int(s)) + ")"
	}
	return s.String()
}

// Finished reports whether an execution in this status will not change again
// by itself: released, release failed, rolled back or rollback failed.
func (s Status) Finished() bool {
	switch s {
	case StatusReleased, StatusFailed, StatusRolledBack, StatusRollbackFailed:
		return true
	}
	return false
}

// AwaitingPerson reports whether the execution waits for someone: an approval
// decision (5) or a continue (7).
func (s Status) AwaitingPerson() bool {
	return s == StatusAwaitingApproval || s == StatusPaused
}

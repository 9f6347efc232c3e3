package release

import (
	"cmp"
	"errors"
	"slices"
	"time"
)

// Followed is an execution releasebot follows to its end, and the channel
// message that shows its progress.
type Followed struct {
	PipelineID  string
	ExecutionID string
	TaskName    string
	Channel     string
	TS          string // the progress message; replies go in its thread
	StartedBy   string // who made the execution run, through releasebot
	Action      Action // what they did: start, continue, retry, rollback or approval
	Status      Status
	CreatedAt   time.Time
	UpdatedAt   time.Time
	FinishedAt  time.Time // zero while followed
	Prompted    bool      // an approval prompt was posted for its wait at 5
	Hinted      bool      // a continue hint was posted for its pause at 7
	// TriggerAt is the release task's last trigger time when first polled:
	// a later one means another execution started, so the list's status
	// no longer speaks for this one.
	TriggerAt time.Time
}

// FollowBound is how long an execution is followed at most.
const FollowBound = 24 * time.Hour

// Confirmation is a pending stop or rollback that an operator must
// confirm, or a Continue button offered while an execution is paused.
type Confirmation struct {
	ID          string
	Action      Action
	PipelineID  string
	TaskName    string
	RequestedBy string
	Channel     string
	TS          string
	CreatedAt   time.Time

	UsedBy    string // empty while unused; Withdrawn when releasebot withdrew it
	UsedAt    time.Time
	Confirmed bool
}

// Withdrawn is the UsedBy of a confirmation that releasebot withdrew: the
// run moved on.
const Withdrawn = "releasebot"

// ConfirmTTL is how long a confirmation can be used.
const ConfirmTTL = 15 * time.Minute

// AuditEntry is one line of the audit log: a command, click or submission,
// or something releasebot did on its own.
type AuditEntry struct {
	At         time.Time
	User       string
	Channel    string
	Verb       string
	TaskName   string
	PipelineID string
	Sent       string // the upstream request; empty when nothing was sent
	Execution  string
	Outcome    string
}

// ErrMessageGone is wrapped by errors that say a message releasebot keeps
// up to date, or its channel, is gone: there is nothing left to edit.
var ErrMessageGone = errors.New("the channel or message is gone")

// OldestFirst sorts fs by when their follow began (then release task and
// execution), as executions are polled, and keeps the first of repeated
// executions: a caller that merges reads puts the one it trusts first.
func OldestFirst(fs []Followed) []Followed {
	slices.SortStableFunc(fs, func(a, b Followed) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.PipelineID, b.PipelineID), cmp.Compare(a.ExecutionID, b.ExecutionID))
	})
	return slices.CompactFunc(fs, func(a, b Followed) bool {
		return a.PipelineID == b.PipelineID && a.ExecutionID == b.ExecutionID
	})
}

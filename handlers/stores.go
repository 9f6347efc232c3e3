package handlers

import (
	"context"
	"crypto/rand"
	"time"

	"github.com/releasebot/releasebot/release"
)

// PromptStore keeps approval prompts and their votes, shared by every
// replica. *store.Store implements it.
type PromptStore interface {
	// OpenPrompt returns the undecided prompt of p's execution at p's
	// approval task, or stores p (created) and closes the older
	// executions' open prompts at that gate (superseded).
	OpenPrompt(ctx context.Context, p *release.Prompt) (got release.Prompt, created bool, superseded []release.Prompt, err error)
	GetPrompt(ctx context.Context, id string) (release.Prompt, error)
	// OpenPromptOf returns the newest undecided prompt about an execution.
	OpenPromptOf(ctx context.Context, pipelineID, executionID string) (release.Prompt, error)
	SetPromptMessage(ctx context.Context, id, channel, ts, threadTS string) error
	DropPrompt(ctx context.Context, id string) error
	// Vote applies release.Prompt's voting rules in one transaction and
	// reports whether this vote claimed the decision.
	Vote(ctx context.Context, id, user string, vote release.Decision, comment string, allowSelf bool, now time.Time) (release.Prompt, bool, error)
	// UpdatePrompt stores p if the prompt is still as was (compare-and-set).
	UpdatePrompt(ctx context.Context, was, p *release.Prompt) (bool, error)
	Actors(ctx context.Context, pipelineID, executionID string) ([]string, error)
}

// ConfirmationStore keeps the confirmations of stop and rollback, and the
// Continue buttons of paused runs.
type ConfirmationStore interface {
	PutConfirmation(ctx context.Context, c *release.Confirmation) error
	GetConfirmation(ctx context.Context, id string) (release.Confirmation, error)
	SetConfirmationMessage(ctx context.Context, id, ts string) error
	TakeConfirmation(ctx context.Context, id, user string, confirmed bool, now time.Time, ttl time.Duration) (release.Confirmation, error)
}

// AuditStore keeps the audit log and the executions followed.
type AuditStore interface {
	// Record appends e to the audit log and, in the same transaction,
	// starts following f (if not nil) and records e.User as an actor of
	// e.Execution (if actor).
	Record(ctx context.Context, e release.AuditEntry, f *release.Followed, actor bool) error
	LastAudit(ctx context.Context, n int, pipelineID string) ([]release.AuditEntry, error)
	IsFollowed(ctx context.Context, pipelineID, executionID string) (bool, error)
}

// ExpiringStore withdraws the Continue buttons of runs that moved on.
type ExpiringStore interface {
	ExpireConfirmations(ctx context.Context, pipelineID string, action release.Action, now time.Time) ([]release.Confirmation, error)
}

func newID() string { return rand.Text() }

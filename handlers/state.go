package handlers

import (
	"context"
	"crypto/rand"
	"errors"
	"time"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/store"
)

// The handlers' state lives in the store; these names keep the code short.
type (
	prompt       = store.Prompt
	confirmation = store.Confirmation
	// AuditEntry is one line of the audit log.
	AuditEntry = store.AuditEntry
)

// Store keeps prompts, votes, confirmations and the audit log, shared by
// every replica. *store.Store implements it.
type Store interface {
	PutConfirmation(ctx context.Context, c *store.Confirmation) error
	SetConfirmationMessage(ctx context.Context, id, ts string) error
	TakeConfirmation(ctx context.Context, id, user string, confirmed bool, now time.Time, ttl time.Duration) (store.Confirmation, error)

	OpenPrompt(ctx context.Context, p *store.Prompt) (store.Prompt, bool, error)
	GetPrompt(ctx context.Context, id string) (store.Prompt, error)
	SetPromptMessage(ctx context.Context, id, channel, ts string) error
	DropPrompt(ctx context.Context, id string) error
	Vote(ctx context.Context, id, user string, decision api.ApprovalType, comment string, allowSelf bool, now time.Time) (store.Prompt, bool, error)
	Decided(ctx context.Context, id string, decision api.ApprovalType, by string, at time.Time, e *api.Execution) (store.Prompt, error)
	Failed(ctx context.Context, id, reason string) (store.Prompt, error)
	Uncertain(ctx context.Context, id, reason string) (store.Prompt, error)

	StartedBy(ctx context.Context, pipelineID string) (string, error)

	// Record appends e to the audit log and, in the same transaction, starts
	// following f (if not nil) and remembers that e.User started
	// e.PipelineID (if startedBy).
	Record(ctx context.Context, e store.AuditEntry, f *store.Followed, startedBy bool) error
	LastAudit(ctx context.Context, n int, pipelineID string) ([]store.AuditEntry, error)

	IsFollowed(ctx context.Context, pipelineID, executionID string) (bool, error)
	Active(ctx context.Context) ([]store.Followed, error)
	UpdateFollowed(ctx context.Context, was api.Status, f store.Followed) (bool, error)
	ExpireConfirmations(ctx context.Context, pipelineID string, action api.Action, now time.Time) ([]store.Confirmation, error)
	AcquireLease(ctx context.Context, name, owner string, now, until time.Time) (bool, error)
	ReleaseLease(ctx context.Context, name, owner string) error
	OpenPromptsFor(ctx context.Context, pipelineID string) ([]store.Prompt, error)
	ClosePrompt(ctx context.Context, id, why string, at time.Time, status api.Status) (store.Prompt, bool, error)
}

func newID() string { return rand.Text() }

// confirmTTL is how long a confirmation can be used.
const confirmTTL = 15 * time.Minute

// promptError turns a store error about a prompt into what the clicker is
// told; nothing was sent upstream in any of these cases.
func promptError(err error, user string) error {
	var ve *store.VoteError
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFoundf("This approval prompt is unknown to releasebot; nothing was sent.")
	case !errors.As(err, &ve):
		return err
	}
	p := ve.Prompt
	switch ve.Kind {
	case store.VoteDecided:
		if p.Decision == store.DecisionClosed {
			return conflictf("This approval is closed: %s, without a decision from Slack. Nothing was sent.", p.LastError)
		}
		return conflictf("Already %s by %s at %s; nothing more was sent.", decidedWord(p.Decision), mention(p.DecidedBy), stamp(p.DecidedAt))
	case store.VoteUncertain:
		return conflictf("The decision %s sent may have reached ServiceStage; nothing more was sent. Check `/release status` and decide in the ServiceStage console if it is still waiting.", mention(p.Uncertain))
	case store.VoteDeciding:
		return conflictf("%s is deciding this right now; nothing more was sent.", mention(p.Deciding))
	default:
		role := "asked for this approval"
		if p.StartedByAny(user) {
			role = "started this release"
		}
		return deniedf("You %s, so someone else must approve it (RELEASEBOT_ALLOW_SELF_APPROVAL is off).", role)
	}
}

// confirmationError turns a store error about a confirmation into what the
// clicker is told.
func confirmationError(err error) error {
	var ce *store.ConfirmationError
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFoundf("This confirmation is unknown to releasebot; nothing was sent. Run the command again.")
	case !errors.As(err, &ce):
		return err
	case ce.Confirmation.UsedBy == store.Expired:
		return conflictf("This is no longer needed: the run moved on. Nothing was sent.")
	case ce.Expired:
		return conflictf("This confirmation expired; nothing was sent. Run the command again.")
	}
	what := "cancelled"
	if ce.Confirmation.Confirmed {
		what = "confirmed"
	}
	return conflictf("Already %s by %s at %s; nothing more was sent.", what, mention(ce.Confirmation.UsedBy), stamp(ce.Confirmation.UsedAt))
}

func decidedWord(d api.ApprovalType) string {
	if d == api.ApprovalRefuse {
		return "refused"
	}
	return "approved"
}

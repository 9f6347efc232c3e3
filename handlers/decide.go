package handlers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/release"
)

// recordBound is how long a store write or Slack update that records an
// upstream call's result may take once the request's context is gone
// (shutdown, a lost client): the result is not lost to a cancellation.
const recordBound = 5 * time.Second

// afterCall returns a context for recording what an upstream call did: it
// survives ctx's cancellation, for at most recordBound.
func afterCall(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), recordBound)
}

// send updates the prompt after a vote and, when the vote decided it and
// this caller holds the claim, sends the decision upstream exactly once.
func (ap *approvals) send(ctx context.Context, p release.Prompt, claimed bool, vote release.Decision, out *outcome) error {
	if !claimed {
		out.entry.Outcome = "vote recorded"
		return ap.slack.Update(ctx, p.Channel, p.TS, ap.render(&p))
	}
	// Everything the claim covers ends by one deadline, counted from when
	// the claim was taken: past it (plus a margin) the poller may give the
	// claim back, and no call of this one may still be running then.
	callCtx, cancel := context.WithDeadline(ctx, p.DecidingSince.Add(ap.callTimeout))
	defer cancel()
	if err := ap.stillWaiting(callCtx, p); err != nil {
		return err
	}
	opts := &api.OperateOptions{TaskName: p.ApprovalTask, ApprovalType: vote, Message: p.Message(vote)}
	out.entry.Sent = sentText(release.ActionApproval, opts)
	e, err := ap.releases.Operate(callCtx, p.PipelineID, release.ActionApproval, opts)
	cancel()
	rctx, rcancel := afterCall(ctx)
	defer rcancel()
	if err != nil {
		return ap.notDecided(rctx, p, err)
	}
	ap.decided(rctx, p, vote, e, out)
	return nil
}

// stillWaiting checks, before the claimed decision is sent, that the
// prompt's execution still waits at its approval task: an approval is sent
// to the release task, and must not decide a newer run. When it does not
// wait, the prompt is closed and nothing is sent.
func (ap *approvals) stillWaiting(ctx context.Context, p release.Prompt) error {
	recs, err := ap.releases.ListRecords(ctx, p.PipelineID)
	if err != nil {
		rctx, cancel := afterCall(ctx)
		defer cancel()
		text, _ := describe(err)
		ap.settle(rctx, p, func(q *release.Prompt) { q.Release(text + " Nothing was sent.") })
		return fmt.Errorf("check the execution before deciding: %w", err)
	}
	seen := api.SeenIn(recs, p.ExecutionID)
	if seen.Waiting(p.ApprovalTask) {
		return nil
	}
	why := "the execution is no longer listed by ServiceStage"
	if seen.Found {
		why = "the execution is now " + seen.Status.Label()
	}
	ap.settle(ctx, p, func(q *release.Prompt) { q.Close(release.Closed, why, ap.now(), seen.Status) })
	return conflictf("Execution %s of *%s* no longer waits at %s: %s. Nothing was sent.", code(p.ExecutionID), p.TaskName, code(p.ApprovalTask), safe(escape(why)))
}

// notDecided records a decision that was not taken: after a sure failure
// the claim is released (the buttons come back, with the error); after an
// unknown outcome it is kept, so nothing is resent until ServiceStage's own
// state settles it.
func (ap *approvals) notDecided(ctx context.Context, p release.Prompt, err error) error {
	text, _ := describe(err)
	if errors.Is(err, api.ErrOutcomeUnknown) {
		ap.settle(ctx, p, func(q *release.Prompt) { q.MarkUncertain(text) })
	} else {
		ap.settle(ctx, p, func(q *release.Prompt) { q.Release(text) })
	}
	return err
}

// settle applies change to the claimed prompt p, stores it and shows it. A
// failed update of the message would only hide the error that matters.
func (ap *approvals) settle(ctx context.Context, p release.Prompt, change func(*release.Prompt)) {
	was := p
	change(&p)
	if won, err := ap.prompts.UpdatePrompt(ctx, &was, &p); err != nil || !won {
		return
	}
	_ = ap.slack.Update(ctx, p.Channel, p.TS, ap.render(&p))
}

// decided records the decision ServiceStage took and shows it. From here
// on, a failed Slack call is logged in the outcome, never reported as a
// failed decision: the decision is made.
func (ap *approvals) decided(ctx context.Context, p release.Prompt, vote release.Decision, e *api.Execution, out *outcome) {
	was := p
	p.Decide(vote, ap.now(), e.Status)
	ap.metrics.Decision(string(vote))
	out.entry.Outcome = vote.Word() + ": " + e.Status.Label()
	if won, err := ap.prompts.UpdatePrompt(ctx, &was, &p); err != nil || !won {
		out.entry.Outcome += " (the prompt was not recorded as decided: it was changed meanwhile or the database failed)"
		if got, gerr := ap.prompts.GetPrompt(ctx, p.ID); gerr == nil && got.TS != "" {
			p = got
		}
	}
	if err := ap.slack.Update(ctx, p.Channel, p.TS, ap.render(&p)); err != nil {
		out.entry.Outcome += " (the prompt was not updated: " + err.Error() + ")"
	}
	// Follow the execution on: through its own message when it is already
	// followed, else through a new one.
	if followed, err := ap.audit.IsFollowed(ctx, p.PipelineID, p.ExecutionID); err != nil || followed {
		return
	}
	task := api.ReleaseTask{ID: p.PipelineID, Name: p.TaskName}
	if e.ID == "" {
		e.ID = p.ExecutionID
	}
	ts, err := ap.slack.Post(ctx, p.Channel, renderOutcome(p.DecidedBy, release.ActionApproval, task, e))
	if err != nil {
		out.entry.Outcome += " (not followed: " + err.Error() + ")"
		return
	}
	ap.follow(task, e, release.ActionApproval, p.Channel, ts, p.DecidedBy, out)
}

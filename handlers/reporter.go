package handlers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/release"
)

// Reporter shows in Slack what the poller finds: progress, final replies,
// automatic approval prompts, Continue buttons, reconciled prompts. It
// implements poller.Reporter.
type Reporter struct {
	log           zerolog.Logger
	releases      Releases
	slack         Slack
	ap            *approvals
	confirmations ConfirmationStore
	expiring      ExpiringStore
	approvalTasks map[string]string // release task name or ID → approval task
	now           func() time.Time
	dm            bool // reminders also go by direct message
}

// Reporter returns the poller's view of the router.
func (rt *Router) Reporter() *Reporter { return rt.reporter }

// gone marks Slack's answers that say a message or its channel is gone.
func gone(err error) error {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		switch se.Err {
		case "channel_not_found", "is_archived", "not_in_channel", "message_not_found", "cant_update_message":
			return fmt.Errorf("%w: %w", release.ErrMessageGone, err)
		}
	}
	return err
}

// Progress edits a followed execution's channel message.
func (r *Reporter) Progress(ctx context.Context, f release.Followed, rec *api.Record) error {
	return gone(r.slack.Update(ctx, f.Channel, f.TS, renderProgress(f, rec, r.now(), r.ap.console(f.PipelineID, f.ExecutionID))))
}

// Finished replies in the execution's thread when it ends.
func (r *Reporter) Finished(ctx context.Context, f release.Followed, rec *api.Record) error {
	_, err := r.slack.Post(ctx, f.Channel, withThread(renderFinished(f, rec, r.now()), f.TS))
	return gone(err)
}

// FollowEnded says in the thread that releasebot stopped following.
func (r *Reporter) FollowEnded(ctx context.Context, f release.Followed) error {
	_, err := r.slack.Post(ctx, f.Channel, withThread(renderFollowBound(f), f.TS))
	return gone(err)
}

// AskApproval posts an approval prompt in the execution's thread when the
// approval task is known: from the record, RELEASEBOT_APPROVAL_TASKS, or
// the release task's details. It closes older executions' prompts at the
// same gate as superseded.
func (r *Reporter) AskApproval(ctx context.Context, f release.Followed, rec *api.Record) error {
	gate, err := r.gateOf(ctx, f, rec)
	if err != nil || gate == "" {
		return err
	}
	task := api.ReleaseTask{ID: f.PipelineID, Name: f.TaskName}
	np, err := r.ap.newPrompt(ctx, task, gate, f.ExecutionID, f.Channel)
	if err != nil {
		return err
	}
	if f.Action.Runs() || f.Action == "" {
		np.AddActors(f.StartedBy) // whoever made it run, also before it was recorded
	}
	p, created, superseded, err := r.ap.prompts.OpenPrompt(ctx, np)
	if err != nil || !created {
		return err // an open prompt already asks this question
	}
	r.ap.showAll(ctx, superseded)
	if err := r.ap.postPrompt(ctx, &p, f.TS); err != nil {
		_ = r.ap.prompts.DropPrompt(ctx, p.ID)
		return gone(err)
	}
	return nil
}

func (r *Reporter) gateOf(ctx context.Context, f release.Followed, rec *api.Record) (string, error) {
	if name := rec.WaitingGate(); name != "" {
		return name, nil
	}
	if name := r.approvalTasks[f.TaskName]; name != "" {
		return name, nil
	}
	if name := r.approvalTasks[f.PipelineID]; name != "" {
		return name, nil
	}
	d, err := r.releases.GetReleaseTask(ctx, f.PipelineID)
	if err != nil {
		return "", err
	}
	// Only an unambiguous gate: with several, a prompt could approve the
	// wrong one.
	if names := d.ApprovalTasks(); len(names) == 1 {
		return names[0], nil
	}
	r.log.Info().Str("release_task_id", f.PipelineID).Msg("awaiting approval, but the approval task is unknown: set RELEASEBOT_APPROVAL_TASKS")
	return "", nil
}

// HintContinue posts, in the thread, a Continue button for operators.
func (r *Reporter) HintContinue(ctx context.Context, f release.Followed) error {
	conf := &release.Confirmation{
		ID: newID(), Action: release.ActionContinue, PipelineID: f.PipelineID, TaskName: f.TaskName,
		Channel: f.Channel, CreatedAt: r.now(),
	}
	if err := r.confirmations.PutConfirmation(ctx, conf); err != nil {
		return err
	}
	ts, err := r.slack.Post(ctx, f.Channel, withThread(renderContinueHint(conf), f.TS))
	if err != nil {
		return gone(err)
	}
	return r.confirmations.SetConfirmationMessage(ctx, conf.ID, ts)
}

// WithdrawHints retires the Continue buttons of a run that is no longer
// paused, so that an old button cannot continue a later pause.
func (r *Reporter) WithdrawHints(ctx context.Context, f release.Followed) error {
	hints, err := r.expiring.ExpireConfirmations(ctx, f.PipelineID, release.ActionContinue, r.now())
	if err != nil {
		return err
	}
	for _, h := range hints {
		text := safe(fmt.Sprintf("*%s* is no longer paused: it is now %s.", escape(h.TaskName), f.Status.Label()))
		if err := r.slack.Update(ctx, h.Channel, h.TS, ephemeral(text)); err != nil {
			r.log.Warn().Err(err).Msg("cannot update a withdrawn continue hint")
		}
	}
	return nil
}

// PromptChanged shows a prompt the poller reconciled: closed, settled, or
// open again after a decision that was not applied.
func (r *Reporter) PromptChanged(ctx context.Context, p release.Prompt, how release.Reconciliation) error {
	switch how {
	case release.CloseLeft:
		r.ap.metrics.Decision(string(release.Closed))
	case release.SettleLeft:
		r.ap.metrics.Decision(string(p.Decision))
	}
	r.ap.record(ctx, release.AuditEntry{
		At: r.now(), User: "releasebot", Channel: p.Channel, Verb: "reconcile", TaskName: p.TaskName,
		PipelineID: p.PipelineID, Execution: p.ExecutionID, Outcome: "prompt " + p.State().String() + ": " + tame(p.LastError),
	})
	return gone(r.slack.Update(ctx, p.Channel, p.TS, r.ap.render(&p)))
}

// LockExpired announces that l ended at its time, in the channel where it
// was taken, and audits it.
func (r *Reporter) LockExpired(ctx context.Context, l release.Lock) error {
	r.ap.record(ctx, release.AuditEntry{At: r.now(), User: l.Holder, Channel: l.Channel, Verb: "lock expired",
		TaskName: lockTaskName(l.Target, l.TaskName), PipelineID: pipelineOf(l.Target), Outcome: "ended at " + l.Until.UTC().Format(time.RFC3339)})
	_, err := r.slack.Post(ctx, l.Channel, renderLockExpired(l))
	return gone(err)
}

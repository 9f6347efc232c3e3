package handlers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/store"
)

// followBound is how long an execution is followed at most.
const followBound = 24 * time.Hour

// follower polls ServiceStage for the executions releasebot follows: one
// list of release tasks per interval, whatever their number, and records
// only for release tasks whose status moved.
type follower struct {
	log           zerolog.Logger
	releases      Releases
	slack         Slack
	store         Store
	ap            *approvals
	approvalTasks map[string]string // release task name or ID → approval task
	interval      time.Duration
	owner         string
	now           func() time.Time
	metrics       Metrics
}

// Follow polls every interval until ctx is done. Upstream errors back off
// (up to about five minutes) and are logged, never posted.
func (rt *Router) Follow(ctx context.Context) {
	f := rt.follower
	t := time.NewTicker(f.interval)
	defer t.Stop()
	failures, skip := 0, 0
	for {
		select {
		case <-ctx.Done():
			relCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			_ = f.store.ReleaseLease(relCtx, "poller", f.owner)
			cancel()
			return
		case <-t.C:
		}
		if skip > 0 {
			skip--
			continue
		}
		// A poll in progress at shutdown finishes (bounded), so that what it
		// recorded and what it posted stay in step.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*f.interval+30*time.Second)
		err := rt.Poll(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			failures++
			skip = min(1<<min(failures, 8), int(5*time.Minute/f.interval)+1) - 1
			f.log.Warn().Err(err).Int("failures", failures).Int("skipped_polls", skip).Msg("polling followed executions failed")
			continue
		}
		if failures > 0 {
			f.log.Info().Int("failures", failures).Msg("polling followed executions works again")
		}
		failures = 0
	}
}

// Poll checks every followed execution once, if this replica holds the
// poller's lease.
func (rt *Router) Poll(ctx context.Context) error {
	f := rt.follower
	now := f.now()
	mine, err := f.store.AcquireLease(ctx, "poller", f.owner, now, now.Add(3*f.interval))
	if err != nil || !mine {
		return err
	}
	active, err := f.store.Active(ctx)
	if err != nil {
		return err
	}
	f.metrics.Followed(len(active))
	if len(active) == 0 {
		return nil
	}
	tasks, err := f.releases.ListReleaseTasks(ctx)
	if err != nil {
		return err
	}
	byID := make(map[string]api.ReleaseTask, len(tasks))
	for _, t := range tasks {
		byID[t.ID] = t
	}
	records := map[string][]api.Record{}
	for _, fe := range active {
		err := f.check(ctx, fe, byID, records, now)
		var ae *api.Error
		switch {
		case err == nil:
		case errors.As(err, &ae) || errors.Is(err, api.ErrInvalidRequest):
			return err // ServiceStage is in trouble: back off
		case slackGone(err):
			// Its channel or message is gone: nothing left to edit.
			f.log.Warn().Err(err).Str("release_task_id", fe.PipelineID).Str("execution_id", fe.ExecutionID).
				Msg("stopped following: the channel or message is gone")
			fe.FinishedAt = now
			if _, uerr := f.store.UpdateFollowed(ctx, fe.Status, fe); uerr != nil {
				return uerr
			}
		default:
			// One execution's trouble must not stop the others.
			f.log.Warn().Err(err).Str("release_task_id", fe.PipelineID).Str("execution_id", fe.ExecutionID).Msg("following failed")
		}
	}
	return nil
}

// slackGone reports whether Slack says the channel or message is gone.
func slackGone(err error) bool {
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) {
		return false
	}
	switch se.Err {
	case "channel_not_found", "is_archived", "not_in_channel", "message_not_found", "cant_update_message":
		return true
	}
	return false
}

// check brings one followed execution up to date. What changed is recorded
// first, by a compare-and-set, and only the poller that wins posts: a lost
// post is preferred to a doubled one.
func (f *follower) check(ctx context.Context, fe store.Followed, tasks map[string]api.ReleaseTask, records map[string][]api.Record, now time.Time) error {
	was := fe.Status
	if now.Sub(fe.CreatedAt) > followBound {
		fe.FinishedAt, fe.UpdatedAt = now, now
		if won, err := f.store.UpdateFollowed(ctx, was, fe); err != nil || !won {
			return err
		}
		_, err := f.slack.Post(ctx, fe.Channel, withThread(renderFollowBound(fe), fe.TS))
		return err
	}
	task, ok := tasks[fe.PipelineID]
	if !ok {
		return nil
	}
	if fe.TriggerAt.IsZero() && !task.LastTriggerAt.IsZero() {
		// First sight: remember which run the list's status describes.
		fe.TriggerAt = task.LastTriggerAt
		if _, err := f.store.UpdateFollowed(ctx, was, fe); err != nil {
			return err
		}
	}
	otherRun := !fe.TriggerAt.IsZero() && !task.LastTriggerAt.Equal(fe.TriggerAt)
	if task.Status == fe.Status && !otherRun {
		return nil // nothing moved: no records read
	}
	recs, ok := records[fe.PipelineID]
	if !ok {
		var err error
		if recs, err = f.releases.ListRecords(ctx, fe.PipelineID); err != nil {
			return err
		}
		records[fe.PipelineID] = recs
	}
	var rec *api.Record
	for i := range recs {
		if recs[i].ID == fe.ExecutionID {
			rec = &recs[i]
			break
		}
	}
	if rec == nil || rec.Status == fe.Status {
		return nil
	}
	fe.Status, fe.UpdatedAt = rec.Status, now
	leftApproval, leftPause := was == api.StatusAwaitingApproval, was == api.StatusPaused
	if leftApproval {
		fe.Prompted = false
	}
	if leftPause {
		fe.Hinted = false
	}
	ask := fe.Status == api.StatusAwaitingApproval && !fe.Prompted
	hint := fe.Status == api.StatusPaused && !fe.Hinted
	fe.Prompted = fe.Prompted || ask
	fe.Hinted = fe.Hinted || hint
	if fe.Status.Finished() {
		fe.FinishedAt = now
	}
	if won, err := f.store.UpdateFollowed(ctx, was, fe); err != nil || !won {
		return err
	}

	if err := f.slack.Update(ctx, fe.Channel, fe.TS, renderProgress(fe, rec, now)); err != nil {
		return err
	}
	if leftApproval {
		f.closePrompts(ctx, fe, now)
	}
	if leftPause {
		f.withdrawHints(ctx, fe, now)
	}
	switch {
	case ask:
		return f.askApproval(ctx, fe, rec)
	case hint:
		return f.hintContinue(ctx, fe)
	case fe.Status.Finished():
		_, err := f.slack.Post(ctx, fe.Channel, withThread(renderFinished(fe, rec, now), fe.TS))
		return err
	}
	return nil
}

// askApproval posts an approval prompt in the execution's thread when the
// approval task is known: from RELEASEBOT_APPROVAL_TASKS, or from the
// release task's details.
func (f *follower) askApproval(ctx context.Context, fe store.Followed, rec *api.Record) error {
	name := waitingTask(rec) // the gate that waits, when the record says
	if name == "" {
		name = f.approvalTasks[fe.TaskName]
	}
	if name == "" {
		name = f.approvalTasks[fe.PipelineID]
	}
	if name == "" {
		d, err := f.releases.GetReleaseTask(ctx, fe.PipelineID)
		if err != nil {
			return err
		}
		// Only an unambiguous gate: with several, a prompt could approve
		// the wrong one.
		if names := d.ApprovalTasks(); len(names) == 1 {
			name = names[0]
		}
	}
	if name == "" {
		f.log.Info().Str("release_task_id", fe.PipelineID).Msg("awaiting approval, but the approval task is unknown: set RELEASEBOT_APPROVAL_TASKS")
		return nil
	}
	np, err := f.ap.newPrompt(ctx, api.ReleaseTask{ID: fe.PipelineID, Name: fe.TaskName}, name, fe.Channel)
	if err != nil {
		return err
	}
	// Whoever started it through releasebot, first run or retry, may not approve it.
	if fe.StartedBy != "" && !np.StartedByAny(fe.StartedBy) {
		np.StartedBy = strings.TrimPrefix(np.StartedBy+","+fe.StartedBy, ",")
	}
	p, created, err := f.store.OpenPrompt(ctx, np)
	if err != nil || !created {
		return err // an open prompt already asks this question
	}
	ts, err := f.slack.Post(ctx, p.Channel, withThread(renderPrompt(&p), fe.TS))
	if err != nil {
		_ = f.store.DropPrompt(ctx, p.ID)
		return err
	}
	return f.store.SetPromptMessage(ctx, p.ID, p.Channel, ts)
}

// hintContinue posts, in the thread, a Continue button for operators.
func (f *follower) hintContinue(ctx context.Context, fe store.Followed) error {
	conf := &confirmation{
		ID: newID(), Action: api.ActionContinue, PipelineID: fe.PipelineID, TaskName: fe.TaskName,
		Channel: fe.Channel, CreatedAt: f.now(),
	}
	if err := f.store.PutConfirmation(ctx, conf); err != nil {
		return err
	}
	ts, err := f.slack.Post(ctx, fe.Channel, withThread(renderContinueHint(conf), fe.TS))
	if err != nil {
		return err
	}
	return f.store.SetConfirmationMessage(ctx, conf.ID, ts)
}

// closePrompts closes the prompts of an execution that stopped waiting for
// approval without a decision made in Slack.
func (f *follower) closePrompts(ctx context.Context, fe store.Followed, now time.Time) {
	prompts, err := f.store.OpenPromptsFor(ctx, fe.PipelineID)
	if err != nil {
		f.log.Warn().Err(err).Msg("cannot read open prompts")
		return
	}
	for _, p := range prompts {
		why := fmt.Sprintf("the execution is now %s", fe.Status.Label())
		closed, ok, err := f.store.ClosePrompt(ctx, p.ID, why, now, fe.Status)
		if err != nil || !ok {
			continue
		}
		f.metrics.Decision(string(store.DecisionClosed))
		if err := f.slack.Update(ctx, closed.Channel, closed.TS, renderPrompt(&closed)); err != nil {
			f.log.Warn().Err(err).Str("prompt", p.ID).Msg("cannot update a closed prompt")
		}
	}
}

// waitingTask names the task of rec that awaits approval, if any.
func waitingTask(rec *api.Record) string {
	if rec == nil {
		return ""
	}
	for _, st := range rec.Stages {
		for _, t := range st.Tasks {
			if t.Status == api.StatusAwaitingApproval {
				return t.Name
			}
		}
	}
	return ""
}

// withdrawHints retires the Continue buttons of a run that is no longer
// paused, so that an old button cannot continue a later pause.
func (f *follower) withdrawHints(ctx context.Context, fe store.Followed, now time.Time) {
	hints, err := f.store.ExpireConfirmations(ctx, fe.PipelineID, api.ActionContinue, now)
	if err != nil {
		f.log.Warn().Err(err).Msg("cannot withdraw continue hints")
		return
	}
	for _, h := range hints {
		text := safe(fmt.Sprintf("*%s* is no longer paused: it is now %s.", escape(h.TaskName), fe.Status.Label()))
		if err := f.slack.Update(ctx, h.Channel, h.TS, ephemeral(text)); err != nil {
			f.log.Warn().Err(err).Msg("cannot update a withdrawn continue hint")
		}
	}
}

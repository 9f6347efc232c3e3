package poller

import (
	"context"
	"errors"
	"time"

	"github.com/rs/zerolog"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/release"
)

// round is one poll: the list it read, and the records it read for the
// release tasks that moved, each at most once.
type round struct {
	p       *Poller
	now     time.Time
	tasks   map[string]api.ReleaseTask
	records map[string][]api.Record
	failed  map[string]bool // release tasks whose records could not be read
	// again are the release tasks whose followed executions this round
	// could not bring up to date: the next one reads them as if they moved.
	again map[string]bool
}

func (p *Poller) newRound(_ context.Context, tasks []api.ReleaseTask, now time.Time) *round {
	r := &round{p: p, now: now, tasks: make(map[string]api.ReleaseTask, len(tasks)),
		records: map[string][]api.Record{}, failed: map[string]bool{}, again: map[string]bool{}}
	for _, t := range tasks {
		r.tasks[t.ID] = t
	}
	return r
}

// moved reports whether a release task's list entry changed since the last
// poll (or was not seen since this replica took the lease, or is missing
// from the list).
func (r *round) moved(pipelineID string) bool {
	t, ok := r.tasks[pipelineID]
	was, seen := r.p.seen[pipelineID]
	return !ok || !seen || t.Status != was.Status || !t.LastTriggerAt.Equal(was.LastTriggerAt) || !t.UpdateTime.Equal(was.UpdateTime)
}

// remember keeps this round's list for the next one, except for release
// tasks whose records could not be read or whose followed executions are to
// be looked at again: they, and those that left the list, count as moved
// next time.
func (r *round) remember() {
	for id := range r.p.seen {
		if _, ok := r.tasks[id]; !ok {
			delete(r.p.seen, id)
		}
	}
	for id, t := range r.tasks {
		if r.failed[id] || r.again[id] {
			delete(r.p.seen, id)
			continue
		}
		r.p.seen[id] = t
	}
}

// recordsOf reads a release task's executions once per round. A release
// task whose reads fail delays only its own follows and prompts.
func (r *round) recordsOf(ctx context.Context, pipelineID string) ([]api.Record, bool) {
	if recs, ok := r.records[pipelineID]; ok {
		return recs, true
	}
	if r.failed[pipelineID] {
		return nil, false
	}
	recs, err := r.p.cfg.Releases.ListRecords(ctx, pipelineID)
	if err != nil {
		r.failed[pipelineID] = true
		r.p.cfg.Log.Warn().Err(err).Str("release_task_id", pipelineID).Msg("cannot read executions; trying again next poll")
		return nil, false
	}
	r.records[pipelineID] = recs
	return recs, true
}

func findRecord(recs []api.Record, executionID string) *api.Record {
	for i := range recs {
		if recs[i].ID == executionID {
			return &recs[i]
		}
	}
	return nil
}

// reconcile checks one undecided prompt against ServiceStage. A plain open
// prompt of a release task that did not move costs nothing; a prompt with a
// claim is checked only once its outcome is unknown or its claim expired.
func (r *round) reconcile(ctx context.Context, pr release.Prompt) {
	claimPending := pr.Deciding != "" && !pr.Uncertain && !pr.ClaimExpired(r.now, r.p.cfg.ClaimHold)
	if claimPending || (pr.Deciding == "" && !r.moved(pr.PipelineID)) {
		r.nudge(ctx, pr)
		return
	}
	recs, ok := r.recordsOf(ctx, pr.PipelineID)
	if !ok {
		return
	}
	was := pr
	how := pr.Reconcile(api.SeenIn(recs, pr.ExecutionID), r.now, r.p.cfg.ClaimHold)
	if how == release.Keep {
		r.nudge(ctx, pr)
		return
	}
	log := r.p.cfg.Log.With().Str("prompt", pr.ID).Str("release_task_id", pr.PipelineID).Str("execution_id", pr.ExecutionID).Logger()
	won, err := r.p.cfg.Store.UpdatePrompt(ctx, &was, &pr)
	if err != nil {
		// Not recorded: check this release task's prompts again next poll.
		r.failed[pr.PipelineID] = true
		logIf(log, err, "cannot record a reconciled prompt")
		return
	}
	if !won {
		return
	}
	logIf(log, r.p.cfg.Announcer.PromptChanged(ctx, pr, how), "cannot show a reconciled prompt")
}

// nudge sends what a still-open prompt's clock asks for: a reminder or an
// escalation, recorded first so that it goes out once, or the deadline.
// None costs an upstream request.
func (r *round) nudge(ctx context.Context, pr release.Prompt) {
	n, count := pr.Due(r.now, r.p.cfg.Schedule)
	if n == release.NoNudge {
		return
	}
	log := r.p.cfg.Log.With().Str("prompt", pr.ID).Str("release_task_id", pr.PipelineID).Logger()
	if n != release.Expire {
		won, err := r.p.cfg.Store.NudgePrompt(ctx, &pr, count, n == release.Escalate)
		if err != nil || !won {
			logIf(log, err, "cannot record a reminder")
			return
		}
		pr.Reminders, pr.Escalated = count, n == release.Escalate
	}
	logIf(log, r.p.cfg.Announcer.Nudge(ctx, pr, n), "cannot remind, escalate or close a prompt")
}

func logIf(log zerolog.Logger, err error, msg string) {
	if err != nil {
		log.Warn().Err(err).Msg(msg)
	}
}

// follow brings one followed execution up to date. What changed is
// recorded first, by a compare-and-set, and only the poller that wins
// posts: a lost post is preferred to a doubled one.
func (r *round) follow(ctx context.Context, f release.Followed) {
	log := r.p.cfg.Log.With().Str("release_task_id", f.PipelineID).Str("execution_id", f.ExecutionID).Logger()
	err := r.followSteps(ctx, f)
	switch {
	case err == nil:
	case errors.Is(err, release.ErrMessageGone):
		log.Warn().Err(err).Msg("stopped following: the channel or message is gone")
		was := f.Status
		f.FinishedAt = r.now
		if _, uerr := r.p.cfg.Store.UpdateFollowed(ctx, was, f); uerr != nil {
			r.again[f.PipelineID] = true
			log.Warn().Err(uerr).Msg("cannot stop following")
		}
	default:
		// One execution's trouble must not stop the others; the next poll
		// reads it again.
		r.again[f.PipelineID] = true
		log.Warn().Err(err).Msg("following failed")
	}
}

func (r *round) followSteps(ctx context.Context, f release.Followed) error {
	if r.now.Sub(f.CreatedAt) > release.FollowBound {
		return r.endFollowing(ctx, f)
	}
	task, ok := r.tasks[f.PipelineID]
	if !ok {
		return nil
	}
	f, err := r.firstSight(ctx, f, task)
	if err != nil {
		return err
	}
	otherRun := !f.TriggerAt.IsZero() && !task.LastTriggerAt.Equal(f.TriggerAt)
	// An automatic prompt that could not be posted is tried again.
	unprompted := f.Status == release.StatusAwaitingApproval && !f.Prompted
	if task.Status == f.Status && !otherRun && !unprompted {
		return nil // nothing moved: no records read
	}
	recs, ok := r.recordsOf(ctx, f.PipelineID)
	if !ok {
		return nil
	}
	rec := findRecord(recs, f.ExecutionID)
	switch {
	case rec == nil && otherRun:
		return r.lostSight(ctx, f)
	case rec != nil && rec.Status == f.Status && unprompted:
		err = r.askAgain(ctx, f, rec)
	case rec == nil || rec.Status == f.Status:
		// The list moved, the records not yet: until they agree, the
		// execution is read every poll, although its list entry may not
		// change again.
		r.again[f.PipelineID] = true
		return nil
	default:
		err = r.advance(ctx, f, rec)
	}
	// The list cannot show this execution's next change: it describes
	// another run, or already something else.
	if !rec.Status.Finished() && (otherRun || rec.Status != task.Status) {
		r.again[f.PipelineID] = true
	}
	return err
}

// askAgain posts the automatic prompt of an execution that waits at 5
// when an earlier attempt failed.
func (r *round) askAgain(ctx context.Context, f release.Followed, rec *api.Record) error {
	f.Prompted = true
	if won, err := r.p.cfg.Store.UpdateFollowed(ctx, f.Status, f); err != nil || !won {
		return err
	}
	return r.ask(ctx, f, rec)
}

// ask posts the automatic prompt; when that fails, the execution is marked
// unprompted again, so the next poll tries again.
func (r *round) ask(ctx context.Context, f release.Followed, rec *api.Record) error {
	err := r.p.cfg.Reporter.AskApproval(ctx, f, rec)
	if err != nil {
		f.Prompted = false
		_, uerr := r.p.cfg.Store.UpdateFollowed(ctx, f.Status, f)
		logIf(r.p.cfg.Log, uerr, "cannot mark an automatic prompt to try again")
	}
	return err
}

// endFollowing stops following an execution after FollowBound.
func (r *round) endFollowing(ctx context.Context, f release.Followed) error {
	was := f.Status
	f.FinishedAt, f.UpdatedAt = r.now, r.now
	if won, err := r.p.cfg.Store.UpdateFollowed(ctx, was, f); err != nil || !won {
		return err
	}
	return r.p.cfg.Reporter.FollowEnded(ctx, f)
}

// lostSight stops following an execution that a newer run pushed out of
// its release task's records: nothing more can be known of it.
func (r *round) lostSight(ctx context.Context, f release.Followed) error {
	was := f.Status
	f.FinishedAt, f.UpdatedAt = r.now, r.now
	_, err := r.p.cfg.Store.UpdateFollowed(ctx, was, f)
	return err
}

// firstSight remembers which run the list's status describes when an
// execution is first polled.
func (r *round) firstSight(ctx context.Context, f release.Followed, task api.ReleaseTask) (release.Followed, error) {
	if !f.TriggerAt.IsZero() || task.LastTriggerAt.IsZero() {
		return f, nil
	}
	f.TriggerAt = task.LastTriggerAt
	_, err := r.p.cfg.Store.UpdateFollowed(ctx, f.Status, f)
	return f, err
}

// advance records an execution's new status, then shows it: the progress
// message, and what the new status asks for (a prompt, a Continue button,
// the final reply).
func (r *round) advance(ctx context.Context, f release.Followed, rec *api.Record) error {
	was := f.Status
	f.Status, f.UpdatedAt = rec.Status, r.now
	leftApproval, leftPause := was == release.StatusAwaitingApproval, was == release.StatusPaused
	f.Prompted = f.Prompted && !leftApproval
	f.Hinted = f.Hinted && !leftPause
	ask := f.Status == release.StatusAwaitingApproval && !f.Prompted
	hint := f.Status == release.StatusPaused && !f.Hinted
	f.Prompted, f.Hinted = f.Prompted || ask, f.Hinted || hint
	if f.Status.Finished() {
		f.FinishedAt = r.now
	}
	if won, err := r.p.cfg.Store.UpdateFollowed(ctx, was, f); err != nil || !won {
		return err
	}
	rep := r.p.cfg.Reporter
	if err := rep.Progress(ctx, f, rec); err != nil {
		return err
	}
	if leftPause {
		logIf(r.p.cfg.Log, rep.WithdrawHints(ctx, f), "cannot withdraw continue hints")
	}
	switch {
	case ask:
		return r.ask(ctx, f, rec)
	case hint:
		return rep.HintContinue(ctx, f)
	case f.Status.Finished():
		return rep.Finished(ctx, f, rec)
	}
	return nil
}

// Package poller follows executions and reconciles approval prompts with ServiceStage: one list of release tasks per
// interval, whatever their number, plus the records of the release tasks that moved.
package poller

import (
	"context"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/release"
)

// Releases is the part of the ServiceStage client the poller reads.
type Releases interface {
	ListReleaseTasks(ctx context.Context) ([]api.ReleaseTask, error)
	ListRecords(ctx context.Context, pipelineID string) ([]api.Record, error)
}

// Store is the state the poller reads and changes, shared by replicas.
type Store interface {
	AcquireLease(ctx context.Context, name, owner string, now, until time.Time) (bool, error)
	ReleaseLease(ctx context.Context, name, owner string) error
	// CountActive returns how many executions are followed.
	CountActive(ctx context.Context) (int, error)
	// Active lists every execution followed, oldest first.
	Active(ctx context.Context) ([]release.Followed, error)
	// ActiveSince lists, oldest first, the executions followed whose follow
	// began at or after since or at or before bound, and those waiting at
	// approval unprompted.
	ActiveSince(ctx context.Context, since, bound time.Time) ([]release.Followed, error)
	// ActiveOf lists, oldest first, the executions followed of the release
	// tasks pipelineIDs whose follow began before before.
	ActiveOf(ctx context.Context, pipelineIDs []string, before time.Time) ([]release.Followed, error)
	// UpdateFollowed stores f if its status is still was (compare-and-set).
	UpdateFollowed(ctx context.Context, was release.Status, f release.Followed) (bool, error)
	UndecidedPrompts(ctx context.Context) ([]release.Prompt, error)
	// UpdatePrompt stores p if the prompt is still as was (compare-and-set).
	UpdatePrompt(ctx context.Context, was, p *release.Prompt) (bool, error)
	// NudgePrompt records reminders and escalation (compare-and-set).
	NudgePrompt(ctx context.Context, was *release.Prompt, reminders int, escalated bool) (bool, error)
	// ExpireLocks claims, once across replicas, the locks whose time is up
	// and whose end was not announced yet.
	ExpireLocks(ctx context.Context, now time.Time) ([]release.Lock, error)
}

// Reporter shows in Slack what the poller found. Each method is called once
// per change, by the replica that recorded it.
type Reporter interface {
	Progress(ctx context.Context, f release.Followed, rec *api.Record) error
	Finished(ctx context.Context, f release.Followed, rec *api.Record) error
	FollowEnded(ctx context.Context, f release.Followed) error
	// AskApproval posts the automatic prompt of an execution waiting at 5.
	AskApproval(ctx context.Context, f release.Followed, rec *api.Record) error
	HintContinue(ctx context.Context, f release.Followed) error
	WithdrawHints(ctx context.Context, f release.Followed) error
}

// Announcer shows in Slack what the poller decided about prompts and
// locks, once per change, and audits it.
type Announcer interface {
	// PromptChanged shows a prompt the poller reconciled, and audits it.
	PromptChanged(ctx context.Context, p release.Prompt, how release.Reconciliation) error
	// Nudge reminds, escalates or closes at its deadline an open prompt,
	// once (the poller recorded a reminder or escalation first), and
	// audits it.
	Nudge(ctx context.Context, p release.Prompt, n release.Nudge) error
	// LockExpired announces a lock that ended at its time, and audits it.
	LockExpired(ctx context.Context, l release.Lock) error
}

// Metrics counts what the poller sees.
type Metrics interface {
	Followed(n int)
}

// Config is what New needs. Log, Releases, Store, Reporter and Announcer
// are required.
type Config struct {
	Log       zerolog.Logger
	Releases  Releases
	Store     Store
	Reporter  Reporter
	Announcer Announcer
	Metrics   Metrics          // nil means none
	Interval  time.Duration    // how often to poll (default 10 s)
	Owner     string           // names this replica in the lease
	Now       func() time.Time // nil means time.Now
	// ClaimHold is how long a claimed decision may still be running
	// upstream (its call's timeout plus a margin).
	ClaimHold time.Duration
	// Schedule is how open prompts remind and escalate.
	Schedule release.Schedule
}

// Poller polls ServiceStage for followed executions and open prompts.
type Poller struct {
	cfg Config
	// seen is the list entry of each release task at the last poll: one
	// whose entry did not change did not move, and neither its followed
	// executions nor its records are read.
	seen map[string]api.ReleaseTask
	// polled is when this replica's last poll began, zero before its first
	// since it took the lease.
	polled time.Time
	// leased is when the lease this replica last took runs out.
	leased time.Time
	// fullAt is when this replica last read every followed execution.
	fullAt time.Time
}

type noMetrics struct{}

func (noMetrics) Followed(int) {}

// New returns a Poller; it does nothing until Run or Poll.
func New(cfg Config) *Poller {
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	if cfg.ClaimHold <= 0 {
		cfg.ClaimHold = 40 * time.Second
	}
	return &Poller{cfg: cfg, seen: map[string]api.ReleaseTask{}}
}

// leaseName is the lease that lets one replica at a time poll.
const leaseName = "poller"

// shutdownBound is how long a poll in progress at shutdown may go on.
const shutdownBound = 5 * time.Second

// recordLag bounds how much earlier than its commit a follow's created_at
// may be (the time between the handler's clock read and the group commit,
// and the clocks of replicas apart): a follow that began that long before
// the last poll may have been recorded after that poll read the database.
const recordLag = 30 * time.Second

// fullReadEvery bounds how long a followed execution can go unread should
// the reasoning that lets a poll skip it fail (a follow recorded later than
// recordLag allows, a replica's clock far off): this often, a poll reads
// every followed execution, as the first after taking the lease does.
const fullReadEvery = 5 * time.Minute

// Run polls every interval until ctx is done; no poll starts after that,
// and one in progress is given a few seconds to finish what it recorded.
// Upstream errors back off (up to about five minutes) and are logged,
// never posted.
func (p *Poller) Run(ctx context.Context) {
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	failures, skip := 0, 0
	for {
		select {
		case <-ctx.Done():
			relCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			_ = p.cfg.Store.ReleaseLease(relCtx, leaseName, p.cfg.Owner)
			cancel()
			return
		case <-t.C:
		}
		if ctx.Err() != nil || skip > 0 {
			skip = max(skip-1, 0)
			continue
		}
		err := p.pollBounded(ctx)
		if err != nil && ctx.Err() == nil {
			failures++
			skip = min(1<<min(failures, 8), int(5*time.Minute/p.cfg.Interval)+1) - 1
			p.cfg.Log.Warn().Err(err).Int("failures", failures).Int("skipped_polls", skip).Msg("polling failed")
			continue
		}
		if failures > 0 {
			p.cfg.Log.Info().Int("failures", failures).Msg("polling works again")
		}
		failures = 0
	}
}

// pollBounded runs one poll that outlives ctx's cancellation by at most
// shutdownBound, so that what it recorded and what it posted stay in step.
func (p *Poller) pollBounded(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*p.cfg.Interval+30*time.Second)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(shutdownBound, cancel)
		context.AfterFunc(pctx, func() { t.Stop() })
	})
	defer stop()
	return p.Poll(pctx)
}

// Poll checks the followed executions that can need work, and every
// undecided prompt, once, if this replica holds the poller's lease. An
// execution that an earlier poll saw, of a release task whose list entry
// did not change since, is not even read from the database unless its
// follow ends or its automatic prompt is to be posted again; the first poll
// after taking the lease, and one every fullReadEvery, reads them all.
func (p *Poller) Poll(ctx context.Context) error {
	now := p.cfg.Now()
	if mine, err := p.lease(ctx, now); err != nil || !mine {
		return err
	}
	p.expireLocks(ctx, now)
	n, err := p.cfg.Store.CountActive(ctx)
	if err != nil {
		return err
	}
	prompts, err := p.cfg.Store.UndecidedPrompts(ctx)
	if err != nil {
		return err
	}
	p.cfg.Metrics.Followed(n)
	if n == 0 && len(prompts) == 0 {
		// A follow recorded from now on began after now, less its lag.
		p.polled = now
		return nil
	}
	readAll := p.polled.IsZero() || now.Sub(p.fullAt) >= fullReadEvery
	since := p.polled
	if now.Before(since) { // the clock stepped back
		since = now
	}
	since = since.Add(-p.cfg.Interval - recordLag)
	// The executions that may be new to this replica are read before the
	// list, so that the list their first sight reads is newer than they are.
	var active []release.Followed
	if readAll {
		active, err = p.cfg.Store.Active(ctx)
	} else {
		active, err = p.cfg.Store.ActiveSince(ctx, since, now.Add(-release.FollowBound))
	}
	if err != nil {
		return err
	}
	tasks, err := p.cfg.Releases.ListReleaseTasks(ctx)
	if err != nil {
		return err
	}
	r := p.newRound(ctx, tasks, now)
	if !readAll {
		if active, err = p.withMoved(ctx, r, active, since); err != nil {
			return err
		}
	}
	for _, f := range active {
		r.follow(ctx, f)
	}
	for _, pr := range prompts {
		r.reconcile(ctx, pr)
	}
	r.remember()
	p.polled = now
	if readAll {
		p.fullAt = now
	}
	return nil
}

// lease takes or renews the poller's lease. What this replica saw goes
// stale when another replica polls, or may have polled, since it last did:
// when the lease is another's, or when this replica's own ran out before it
// took it again.
func (p *Poller) lease(ctx context.Context, now time.Time) (bool, error) {
	mine, err := p.cfg.Store.AcquireLease(ctx, leaseName, p.cfg.Owner, now, now.Add(3*p.cfg.Interval))
	if err != nil || !mine || !now.Before(p.leased) {
		clear(p.seen)
		p.polled = time.Time{}
	}
	if err != nil || !mine {
		p.leased = time.Time{}
		return false, err
	}
	p.leased = now.Add(3 * p.cfg.Interval)
	return true, nil
}

// withMoved adds to active the executions followed of the release tasks
// that moved, older than since: those the previous polls saw, and whose
// list entry changed since. Without a change in the list entry, an
// execution that a poll saw needs nothing.
func (p *Poller) withMoved(ctx context.Context, r *round, active []release.Followed, since time.Time) ([]release.Followed, error) {
	var moved []string
	for id := range r.tasks {
		if r.moved(id) {
			moved = append(moved, id)
		}
	}
	if len(moved) == 0 {
		return active, nil
	}
	more, err := p.cfg.Store.ActiveOf(ctx, moved, since)
	if err != nil {
		return nil, err
	}
	// An execution in both (past FollowBound, or unprompted) is taken as
	// read last.
	return release.OldestFirst(slices.Concat(more, active)), nil
}

// expireLocks announces the locks whose time is up: a database read per
// poll, no upstream call. A lock whose announcement fails is not announced
// again (it was claimed); the failure is logged.
func (p *Poller) expireLocks(ctx context.Context, now time.Time) {
	locks, err := p.cfg.Store.ExpireLocks(ctx, now)
	if err != nil {
		p.cfg.Log.Warn().Err(err).Msg("expiring locks failed")
	}
	for _, l := range locks {
		if err := p.cfg.Announcer.LockExpired(ctx, l); err != nil {
			p.cfg.Log.Warn().Err(err).Str("lock_id", l.ID).Str("release_task_id", l.Target).Msg("lock expiry not announced")
		}
	}
}

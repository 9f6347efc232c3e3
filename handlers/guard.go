package handlers

import (
	"context"
	"errors"
	"time"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/bot"
	"github.com/releasebot/releasebot/policy"
	"github.com/releasebot/releasebot/release"
	"github.com/releasebot/releasebot/store"
)

// LockStore keeps locks and the confirmations of guarded actions (breaking
// a lock, acting during a freeze), shared by every replica. *store.Store
// implements it.
type LockStore interface {
	// TakeLock stores l unless someone else holds a conflicting lock
	// (*store.LockHeldError); the holder's second lock on a target
	// replaces the first.
	TakeLock(ctx context.Context, l release.Lock) (release.Lock, error)
	HeldLocks(ctx context.Context, now time.Time) ([]release.Lock, error)
	// EndLock ends lock id if it still holds, and says whether it did.
	EndLock(ctx context.Context, id, by string, now time.Time) (release.Lock, bool, error)
	PutGuarded(ctx context.Context, kind string, c *release.Confirmation, detail string) error
	SetGuardedMessage(ctx context.Context, id, ts string) error
	TakeGuarded(ctx context.Context, id, kind, user string, confirmed bool, now time.Time, ttl time.Duration) (release.Confirmation, string, error)
}

// Kinds of guarded confirmations, and their buttons.
const (
	guardBreak    = "break"
	guardOverride = "override"

	actionBreakConfirm    = "break_confirm"
	actionBreakCancel     = "break_cancel"
	actionOverrideConfirm = "override_confirm"
	actionOverrideCancel  = "override_cancel"
)

// guardrails are locks, freeze windows and the audit export (SPEC §9).
type guardrails struct {
	ops        *operations
	locks      LockStore // nil: locks are off, and so are the lock verbs
	exports    AuditExporter
	files      Files
	policy     *policy.Policy
	overriders Role
	aliases    map[string]string
}

var errNoLocks = errors.New("locks are not available: no lock store")

// lock handles `lock <task>|all [for <duration>] <reason...>`.
func (g *guardrails) lock(ctx context.Context, c bot.Command, r Request, out *outcome) error {
	if g.locks == nil {
		return errNoLocks
	}
	target, name, err := g.target(ctx, c.UserID, r, out)
	if err != nil {
		return err
	}
	d, err := release.LockFor(r.For)
	if err != nil {
		return usagef("%s.", capitalize(err.Error()))
	}
	now := g.ops.now()
	l := release.Lock{ID: newID(), Target: target, TaskName: name, Holder: c.UserID, Reason: r.Text,
		Channel: c.ChannelID, CreatedAt: now, Until: now.Add(d)}
	got, err := g.locks.TakeLock(ctx, l)
	var held *store.LockHeldError
	if errors.As(err, &held) {
		out.entry.Outcome = "refused: locked by " + held.Lock.Holder
		return lockedError(held.Lock)
	}
	if err != nil {
		return err
	}
	out.entry.Outcome = "locked until " + got.Until.UTC().Format(time.RFC3339)
	if _, err := g.ops.slack.Post(ctx, c.ChannelID, renderLockTaken(got)); err != nil {
		return notPosted(err, "The lock holds.")
	}
	return nil
}

// target checks that user may operate, then reads the release task of
// lock and unlock: its ID and name, or release.AllTasks. For one release
// task its own operators decide (the policy file may set them); for all,
// the global operators.
func (g *guardrails) target(ctx context.Context, user string, r Request, out *outcome) (string, string, error) {
	if r.All {
		if err := g.ops.authz.allow(ctx, g.ops.rules.global.Operators, user); err != nil {
			return "", "", err
		}
		out.entry.TaskName = "all"
		return release.AllTasks, "", nil
	}
	task, err := g.ops.target(ctx, operatorRole, user, r.Task, out)
	if err != nil {
		return "", "", err
	}
	return task.ID, task.Name, nil
}

// unlock handles `unlock <task>|all`: the holder's lock ends at once;
// anyone else's needs a confirmation first.
func (g *guardrails) unlock(ctx context.Context, c bot.Command, r Request, out *outcome) error {
	if g.locks == nil {
		return errNoLocks
	}
	target, name, err := g.target(ctx, c.UserID, r, out)
	if err != nil {
		return err
	}
	now := g.ops.now()
	held, err := g.locks.HeldLocks(ctx, now)
	if err != nil {
		return err
	}
	var l *release.Lock
	for i := range held {
		if held[i].Target == target {
			l = &held[i]
		}
	}
	if l == nil {
		return notFoundf("%s is not locked; nothing changed.", lockTarget(release.Lock{Target: target, TaskName: name}))
	}
	if l.Holder != c.UserID {
		return g.askBreak(ctx, c, *l, out)
	}
	if _, ended, err := g.locks.EndLock(ctx, l.ID, c.UserID, now); err != nil || !ended {
		return errors.Join(err, conflictf("That lock has just ended; nothing changed."))
	}
	out.entry.Outcome = "unlocked"
	if _, err := g.ops.slack.Post(ctx, c.ChannelID, renderUnlocked(*l, c.UserID)); err != nil {
		return notPosted(err, "The lock ended.")
	}
	return nil
}

// askBreak posts the confirmation that breaking someone else's lock needs.
func (g *guardrails) askBreak(ctx context.Context, c bot.Command, l release.Lock, out *outcome) error {
	conf := &release.Confirmation{ID: newID(), PipelineID: l.Target, TaskName: l.TaskName, RequestedBy: c.UserID,
		Channel: c.ChannelID, CreatedAt: g.ops.now()}
	if err := g.locks.PutGuarded(ctx, guardBreak, conf, l.ID); err != nil {
		return err
	}
	ts, err := g.ops.slack.Post(ctx, c.ChannelID, renderBreakConfirm(conf, l))
	if err != nil {
		return err
	}
	if err := g.locks.SetGuardedMessage(ctx, conf.ID, ts); err != nil {
		return err
	}
	out.entry.Outcome = "awaiting confirmation to break the lock of " + l.Holder
	return nil
}

// breakClick handles Break lock and Cancel: any operator decides, once.
func (g *guardrails) breakClick(confirmed bool) actionFunc {
	return func(ctx context.Context, a bot.Action, out *outcome) error {
		if err := g.ops.authz.allow(ctx, g.ops.authz.operators, a.UserID); err != nil {
			return err
		}
		if g.locks == nil {
			return errNoLocks
		}
		now := g.ops.now()
		conf, lockID, err := g.locks.TakeGuarded(ctx, a.Value, guardBreak, a.UserID, confirmed, now, release.ConfirmTTL)
		if err != nil {
			return confirmationError(err)
		}
		out.entry.TaskName, out.entry.PipelineID = lockTaskName(conf.PipelineID, conf.TaskName), pipelineOf(conf.PipelineID)
		if a.MessageTS != "" {
			conf.TS = a.MessageTS
		}
		if !confirmed {
			out.entry.Outcome = "cancelled"
			return g.ops.slack.Update(ctx, conf.Channel, conf.TS, renderGuardClosed(safe("Breaking the lock on "+
				string(lockTarget(release.Lock{Target: conf.PipelineID, TaskName: conf.TaskName}))+" was cancelled by "+string(mention(a.UserID))+".")))
		}
		l, ended, err := g.locks.EndLock(ctx, lockID, a.UserID, now)
		if err != nil {
			return err
		}
		closed := renderGuardClosed(safe(string(mention(a.UserID)) + " broke the lock on " + string(lockTarget(l)) + "."))
		if !ended {
			closed = renderGuardClosed(safe("The lock on " + string(lockTarget(l)) + " had already ended; nothing changed."))
		}
		_ = g.ops.slack.Update(ctx, conf.Channel, conf.TS, closed)
		if !ended {
			return conflictf("That lock had already ended; nothing changed.")
		}
		out.entry.Outcome = "broke the lock of " + l.Holder
		if _, err := g.ops.slack.Post(ctx, conf.Channel, renderLockBroken(l, a.UserID)); err != nil {
			return notPosted(err, "The lock ended.")
		}
		return nil
	}
}

// locksList handles `locks`: the locks that hold and the freeze windows
// of the next 7 days, privately.
func (g *guardrails) locksList(ctx context.Context, c bot.Command, _ Request, _ *outcome) error {
	now := g.ops.now()
	var held []release.Lock
	if g.locks != nil {
		var err error
		if held, err = g.locks.HeldLocks(ctx, now); err != nil {
			return err
		}
	}
	windows := g.policy.Upcoming(now, 7*24*time.Hour)
	return g.ops.slack.PostEphemeral(ctx, c.ChannelID, c.UserID, renderLocks(held, windows, now))
}

// lockedError tells the requester who holds l, why and until when.
func lockedError(l release.Lock) error {
	return conflictf("%s is locked by %s until %s: “%s”. Nothing was sent.", lockTarget(l), mention(l.Holder), safe(slackDate(l.Until)), clip(l.Reason, 500))
}

// keys are the identifiers a policy file may name a release task by: its
// name, its ID and its aliases.
func (g *guardrails) keys(task api.ReleaseTask) []string {
	keys := []string{task.Name, task.ID}
	for alias, id := range g.aliases {
		if id == task.ID {
			keys = append(keys, alias)
		}
	}
	return keys
}

func lockTaskName(target, name string) string {
	if target == release.AllTasks {
		return "all"
	}
	return name
}

func pipelineOf(target string) string {
	if target == release.AllTasks {
		return ""
	}
	return target
}

package handlers

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/bot"
	"github.com/releasebot/releasebot/policy"
	"github.com/releasebot/releasebot/release"
)

// blocked returns the refusal of user running task now: a lock someone
// else holds, then a freeze window. Nothing is overridden here.
func (g *guardrails) blocked(ctx context.Context, task api.ReleaseTask, user string, out *outcome) error {
	if err := g.lockedFor(ctx, task, user, out); err != nil {
		return err
	}
	if ws := g.policy.FreezesAt(g.ops.now(), g.keys(task)...); len(ws) > 0 {
		out.entry.Outcome = "refused: freeze " + ws[0].Name
		return frozenError(task, ws[0])
	}
	return nil
}

// lockedFor returns the refusal of user running task while someone else
// holds a lock on it or on all.
func (g *guardrails) lockedFor(ctx context.Context, task api.ReleaseTask, user string, out *outcome) error {
	if g.locks == nil {
		return nil
	}
	now := g.ops.now()
	held, err := g.locks.HeldLocks(ctx, now)
	if err != nil {
		return err
	}
	if l, ok := release.Blocking(held, task.ID, user, now); ok {
		out.entry.Outcome = "refused: locked by " + l.Holder
		if l.Target != release.AllTasks {
			l.TaskName = task.Name
		}
		return lockedError(l)
	}
	return nil
}

func frozenError(task api.ReleaseTask, w policy.Window) error {
	return deniedf("*%s* is frozen by %s until %s: “%s”. Nothing was sent. A freeze overrider may add `--override <reason>`.",
		task.Name, code(w.Name), safe(slackDate(w.End)), w.Reason)
}

// override is what an override's confirmation carries to its click.
type override struct {
	Reason   string              `json:"reason"`
	Freeze   string              `json:"freeze"`
	Selected []api.SelectedTasks `json:"selected,omitempty"`
}

// check decides whether start, retry or continue may go on now: it
// refuses (lock, freeze, an --override by someone not allowed) or, for an
// override of a freeze, asks for a confirmation and returns false.
func (g *guardrails) check(ctx context.Context, c bot.Command, r Request, action release.Action, task api.ReleaseTask, out *outcome) (bool, error) {
	if err := g.lockedFor(ctx, task, c.UserID, out); err != nil {
		return false, err
	}
	if r.Override {
		if err := g.ops.authz.allow(ctx, g.overriders, c.UserID); err != nil {
			out.entry.Outcome = "refused: not a freeze overrider"
			return false, err
		}
	}
	ws := g.policy.FreezesAt(g.ops.now(), g.keys(task)...)
	if len(ws) == 0 {
		return true, nil
	}
	if !r.Override {
		out.entry.Outcome = "refused: freeze " + ws[0].Name
		return false, frozenError(task, ws[0])
	}
	detail, err := json.Marshal(override{Reason: r.Text, Freeze: ws[0].Name, Selected: r.Selected})
	if err != nil {
		return false, err
	}
	conf := &release.Confirmation{ID: newID(), Action: action, PipelineID: task.ID, TaskName: task.Name,
		RequestedBy: c.UserID, Channel: c.ChannelID, CreatedAt: g.ops.now()}
	if err := g.locks.PutGuarded(ctx, guardOverride, conf, string(detail)); err != nil {
		return false, err
	}
	ts, err := g.ops.slack.Post(ctx, c.ChannelID, renderOverrideConfirm(conf, ws[0], r.Text))
	if err != nil {
		return false, err
	}
	out.entry.Outcome = "awaiting confirmation to override freeze " + ws[0].Name
	return false, g.locks.SetGuardedMessage(ctx, conf.ID, ts)
}

// overrideClick handles the Confirm and Cancel of an override: a member of
// RELEASEBOT_FREEZE_OVERRIDERS decides, once; Confirm acts, then the
// override is announced in the channel.
func (g *guardrails) overrideClick(confirmed bool) actionFunc {
	return func(ctx context.Context, a bot.Action, out *outcome) error {
		if err := g.ops.authz.allow(ctx, g.overriders, a.UserID); err != nil {
			return err
		}
		if g.locks == nil {
			return errNoLocks
		}
		now := g.ops.now()
		conf, detail, err := g.locks.TakeGuarded(ctx, a.Value, guardOverride, a.UserID, confirmed, now, release.ConfirmTTL)
		if err != nil {
			return confirmationError(err)
		}
		out.entry.TaskName, out.entry.PipelineID = conf.TaskName, conf.PipelineID
		if a.MessageTS != "" {
			conf.TS = a.MessageTS
		}
		var ov override
		if err := json.Unmarshal([]byte(detail), &ov); err != nil {
			return fmt.Errorf("read override: %w", err)
		}
		task := api.ReleaseTask{ID: conf.PipelineID, Name: conf.TaskName}
		if !confirmed {
			out.entry.Outcome = "cancelled"
			return g.ops.slack.Update(ctx, conf.Channel, conf.TS, renderOverrideClosed(&conf, ov, a.UserID, false, ""))
		}
		if err := g.lockedFor(ctx, task, a.UserID, out); err != nil {
			_ = g.ops.slack.Update(ctx, conf.Channel, conf.TS, renderOverrideClosed(&conf, ov, a.UserID, true, ":no_entry: refused: locked"))
			return err
		}
		var opts *api.OperateOptions
		if len(ov.Selected) > 0 {
			opts = &api.OperateOptions{SelectedTasks: ov.Selected}
		}
		err = g.ops.run(ctx, conf.Channel, a.UserID, conf.Action, task, opts, out)
		var result safe
		if err != nil {
			text, _ := describe(err)
			result = safe(":warning: " + text)
		}
		_ = g.ops.slack.Update(ctx, conf.Channel, conf.TS, renderOverrideClosed(&conf, ov, a.UserID, true, result))
		if err != nil {
			return err
		}
		out.entry.Outcome = "override of freeze " + ov.Freeze + ": " + out.entry.Outcome
		if _, err := g.ops.slack.Post(ctx, conf.Channel, renderOverrideDone(&conf, ov, a.UserID)); err != nil {
			return notPosted(err, "The release task was "+past[conf.Action]+" during the freeze.")
		}
		return nil
	}
}

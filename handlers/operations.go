package handlers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/bot"
	"github.com/releasebot/releasebot/config"
	"github.com/releasebot/releasebot/release"
	"github.com/releasebot/releasebot/store"
)

// operations runs start, continue, retry, and confirmed stop and rollback.
type operations struct {
	releases      Releases
	slack         Slack
	authz         *authz
	res           *resolver
	confirmations ConfirmationStore
	audit         AuditStore
	rules         *ruleBook
	consoleURL    config.LinkTemplate // "" when unset
	projectID     string              // for console links
	now           func() time.Time
	callTimeout   time.Duration // bounds each upstream action
	guard         *guardrails   // locks and freezes (SPEC §9)
}

// operate handles start, continue and retry: operators only, then the
// action, then the outcome in the channel.
func (o *operations) operate(action release.Action) commandFunc {
	return func(ctx context.Context, c bot.Command, r Request, out *outcome) error {
		task, err := o.target(ctx, operatorRole, c.UserID, r.Task, out)
		if err != nil {
			return err
		}
		if ok, err := o.guard.check(ctx, c, r, action, task, out); !ok || err != nil {
			return err
		}
		var opts *api.OperateOptions
		if len(r.Selected) > 0 {
			opts = &api.OperateOptions{SelectedTasks: r.Selected}
		}
		return o.run(ctx, c.ChannelID, c.UserID, action, task, opts, out)
	}
}

// target checks that user may act in a role of this kind on some release
// task, resolves the release task typed, then checks the role for that
// release task (the policy file may replace the global one); nothing is
// resolved for someone who may act on none.
func (o *operations) target(ctx context.Context, kind roleKind, user, typed string, out *outcome) (api.ReleaseTask, error) {
	if err := o.authz.mayAny(ctx, o.rules, kind, user); err != nil {
		return api.ReleaseTask{}, err
	}
	task, err := o.res.resolve(ctx, typed)
	if err != nil {
		return api.ReleaseTask{}, err
	}
	out.entry.TaskName, out.entry.PipelineID = task.Name, task.ID
	if err := o.authz.allow(ctx, o.rules.For(task).role(kind), user); err != nil {
		return api.ReleaseTask{}, err
	}
	return task, nil
}

// run sends action upstream and posts its outcome in channel.
func (o *operations) run(ctx context.Context, channel, user string, action release.Action, task api.ReleaseTask, opts *api.OperateOptions, out *outcome) error {
	out.entry.TaskName, out.entry.PipelineID = task.Name, task.ID
	out.entry.Sent = sentText(action, opts)
	callCtx, cancel := context.WithTimeout(ctx, o.callTimeout)
	e, err := o.releases.Operate(callCtx, task.ID, action, opts)
	cancel()
	if err != nil {
		return err
	}
	out.entry.Execution, out.entry.Outcome = e.ID, e.Status.Label()
	// Recorded with the audit entry; a vote reads it afresh, so separation
	// of duties holds however soon someone asks for an approval.
	out.actor = action.Runs()
	ts, err := o.slack.Post(ctx, channel, renderOutcome(user, action, task, e))
	if err != nil {
		// ServiceStage did it: say so, whatever kept the channel message out.
		return notPosted(err, fmt.Sprintf("%s %s: execution %s, %s.", past[action], escape(task.Name), code(e.ID), e.Status.Label()))
	}
	o.follow(task, e, action, channel, ts, user, out)
	return nil
}

// follow has the poller follow e, editing the message at ts; finish records
// it with the audit entry, in one transaction.
func (o *operations) follow(task api.ReleaseTask, e *api.Execution, action release.Action, channel, ts, user string, out *outcome) {
	out.follow = &release.Followed{
		PipelineID: task.ID, ExecutionID: e.ID, TaskName: task.Name, Channel: channel, TS: ts,
		StartedBy: user, Action: action, Status: e.Status, CreatedAt: o.now(),
	}
}

// askConfirmation handles stop and rollback: it posts a confirmation that
// an operator must click; nothing goes upstream yet.
func (o *operations) askConfirmation(action release.Action) commandFunc {
	return func(ctx context.Context, c bot.Command, r Request, out *outcome) error {
		task, err := o.target(ctx, operatorRole, c.UserID, r.Task, out)
		if err != nil {
			return err
		}
		conf := &release.Confirmation{
			ID: newID(), Action: action, PipelineID: task.ID, TaskName: task.Name,
			RequestedBy: c.UserID, Channel: c.ChannelID, CreatedAt: o.now(),
		}
		if err := o.confirmations.PutConfirmation(ctx, conf); err != nil {
			return err
		}
		ts, err := o.slack.Post(ctx, c.ChannelID, renderConfirm(conf))
		if err != nil {
			return err
		}
		if err := o.confirmations.SetConfirmationMessage(ctx, conf.ID, ts); err != nil {
			return err
		}
		out.entry.Outcome = "awaiting confirmation"
		return nil
	}
}

// confirm handles the Confirm and Cancel buttons of a confirmation.
func (o *operations) confirm(confirmed bool) actionFunc {
	return func(ctx context.Context, a bot.Action, out *outcome) error {
		conf, err := o.confirmations.GetConfirmation(ctx, a.Value)
		if err != nil {
			return confirmationError(err)
		}
		task := api.ReleaseTask{ID: conf.PipelineID, Name: conf.TaskName}
		out.entry.TaskName, out.entry.PipelineID = conf.TaskName, conf.PipelineID
		if err := o.authz.allow(ctx, o.rules.For(task).Operators, a.UserID); err != nil {
			return err
		}
		if confirmed && conf.Action.Runs() {
			// A Continue button: a lock or a freeze holds it back too, and
			// the button stays for when it no longer does.
			if err := o.guard.blocked(ctx, task, a.UserID, out); err != nil {
				return err
			}
		}
		now := o.now()
		conf, err = o.confirmations.TakeConfirmation(ctx, a.Value, a.UserID, confirmed, now, release.ConfirmTTL)
		if err != nil {
			return confirmationError(err)
		}
		if a.MessageTS != "" {
			// The message clicked: known even before its ts was stored.
			conf.TS = a.MessageTS
		}
		if !confirmed {
			out.entry.Outcome = "cancelled"
			return o.slack.Update(ctx, conf.Channel, conf.TS, renderConfirmClosed(&conf, false, a.UserID, now, ""))
		}
		return o.runConfirmed(ctx, conf, task, a.UserID, now, out)
	}
}

// runConfirmed sends the confirmed action, then closes the confirmation
// with how it went. The action first: the confirmation is used, so it must
// not be lost to a failed update of the message that asked for it.
func (o *operations) runConfirmed(ctx context.Context, conf release.Confirmation, task api.ReleaseTask, user string, now time.Time, out *outcome) error {
	err := o.run(ctx, conf.Channel, user, conf.Action, task, nil, out)
	var result safe
	if err != nil {
		text, _ := describe(err)
		result = safe(":warning: " + text)
	}
	if uerr := o.slack.Update(ctx, conf.Channel, conf.TS, renderConfirmClosed(&conf, true, user, now, result)); err == nil && uerr != nil {
		out.entry.Outcome += " (the confirmation message was not updated: " + uerr.Error() + ")"
	}
	return err
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
	case ce.Confirmation.UsedBy == release.Withdrawn:
		return conflictf("This is no longer needed: the run moved on. Nothing was sent.")
	case ce.Expired:
		return conflictf("This confirmation expired; nothing was sent. Run the command again.")
	}
	what := "cancelled"
	if ce.Confirmation.Confirmed {
		what = "confirmed"
	}
	return conflictf("Already %s by %s at %s; nothing more was sent.", what, mention(ce.Confirmation.UsedBy), slackDate(ce.Confirmation.UsedAt))
}

// record appends an entry of releasebot's own to the audit log; a failure
// is not the requester's problem.
func (o *operations) record(ctx context.Context, e release.AuditEntry) {
	_ = o.audit.Record(ctx, e, nil, false)
}

// console links an execution in the ServiceStage console, or "" when no
// link template is configured.
func (o *operations) console(pipelineID, executionID string) string {
	if o.consoleURL == "" {
		return ""
	}
	return o.consoleURL.Expand(o.projectID, pipelineID, executionID)
}

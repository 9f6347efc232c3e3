package handlers

import (
	"context"
	"errors"
	"strings"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/bot"
	"github.com/releasebot/releasebot/store"
)

// approvals posts approval prompts and turns votes into one upstream
// decision, whether they come from buttons, the modal or commands.
type approvals struct {
	*operations
	required  int
	allowSelf bool
	metrics   Metrics
}

// ask posts an approval prompt with Approve and Refuse buttons.
func (ap *approvals) ask(ctx context.Context, c bot.Command, r Request, out *outcome) error {
	task, err := ap.target(ctx, ap.authz.operators, c.UserID, r.Task, out)
	if err != nil {
		return err
	}
	np, err := ap.newPrompt(ctx, task, r.ApprovalTask, c.ChannelID)
	if err != nil {
		return err
	}
	np.AskedBy, np.Note = c.UserID, r.Text
	p, created, err := ap.store.OpenPrompt(ctx, np)
	if err != nil {
		return err
	}
	if !created {
		return conflictf("An approval prompt for %s of *%s* is already open in %s.", code(p.ApprovalTask), p.TaskName, channelRef(p.Channel))
	}
	if err := ap.postPrompt(ctx, &p); err != nil {
		_ = ap.store.DropPrompt(ctx, p.ID)
		return err
	}
	out.entry.Outcome = "prompt posted"
	return nil
}

func (ap *approvals) newPrompt(ctx context.Context, task api.ReleaseTask, approvalTask, channel string) (*prompt, error) {
	starter, err := ap.store.StartedBy(ctx, task.ID)
	if err != nil {
		return nil, err
	}
	return &prompt{
		ID: newID(), PipelineID: task.ID, TaskName: task.Name, ApprovalTask: approvalTask,
		Channel: channel, AskedAt: ap.now(), StartedBy: starter, Required: ap.required,
	}, nil
}

// postPrompt posts p in its channel and records where it is.
func (ap *approvals) postPrompt(ctx context.Context, p *prompt) error {
	ts, err := ap.slack.Post(ctx, p.Channel, renderPrompt(p))
	if err != nil {
		return err
	}
	p.TS = ts
	return ap.store.SetPromptMessage(ctx, p.ID, p.Channel, ts)
}

// command handles /release approve and /release refuse: a vote on the open
// prompt of that approval task, or on a new one, posted only once the vote
// is accepted so that a refused command leaves nothing in the channel.
func (ap *approvals) command(decision api.ApprovalType) commandFunc {
	return func(ctx context.Context, c bot.Command, r Request, out *outcome) error {
		task, err := ap.target(ctx, ap.authz.approvers, c.UserID, r.Task, out)
		if err != nil {
			return err
		}
		np, err := ap.newPrompt(ctx, task, r.ApprovalTask, c.ChannelID)
		if err != nil {
			return err
		}
		p, created, err := ap.store.OpenPrompt(ctx, np)
		if err != nil {
			return err
		}
		voted, claimed, err := ap.store.Vote(ctx, p.ID, c.UserID, decision, r.Text, ap.allowSelf, ap.now())
		if err != nil {
			if created {
				_ = ap.store.DropPrompt(ctx, p.ID)
			}
			return promptError(err, c.UserID)
		}
		if created {
			if err := ap.postPrompt(ctx, &voted); err != nil {
				_ = ap.store.DropPrompt(ctx, p.ID)
				return err
			}
		}
		return ap.send(ctx, voted, claimed, decision, out)
	}
}

// approveClick handles the Approve button.
func (ap *approvals) approveClick(ctx context.Context, a bot.Action, out *outcome) error {
	if err := ap.authz.allow(ctx, ap.authz.approvers, a.UserID); err != nil {
		return err
	}
	return ap.decide(ctx, a.Value, a.UserID, api.ApprovalAgree, "", a.MessageTS, out)
}

// refuseClick handles the Refuse button: it opens the modal that asks for
// a reason, unless the prompt is already decided.
func (ap *approvals) refuseClick(ctx context.Context, a bot.Action, out *outcome) error {
	if err := ap.authz.allow(ctx, ap.authz.approvers, a.UserID); err != nil {
		return err
	}
	p, err := ap.store.GetPrompt(ctx, a.Value)
	if err != nil {
		return promptError(err, a.UserID)
	}
	out.entry.TaskName, out.entry.PipelineID = p.TaskName, p.PipelineID
	switch {
	case p.Decision != "":
		return promptError(&store.VoteError{Kind: store.VoteDecided, Prompt: p}, a.UserID)
	case p.Uncertain != "":
		return promptError(&store.VoteError{Kind: store.VoteUncertain, Prompt: p}, a.UserID)
	case p.Deciding != "":
		return promptError(&store.VoteError{Kind: store.VoteDeciding, Prompt: p}, a.UserID)
	}
	out.entry.Outcome = "reason asked"
	return ap.slack.OpenModal(ctx, a.TriggerID, renderRefuseModal(&p))
}

// refuseSubmit handles the submitted reason of a refusal.
func (ap *approvals) refuseSubmit(ctx context.Context, s bot.Submission, out *outcome) error {
	p, err := ap.store.GetPrompt(ctx, s.PrivateMetadata)
	if err != nil {
		return promptError(err, s.UserID)
	}
	out.entry.Channel = p.Channel
	if err := ap.authz.allow(ctx, ap.authz.approvers, s.UserID); err != nil {
		return err
	}
	reason := strings.TrimSpace(s.Values[blockReason][inputReason])
	if reason == "" {
		return usagef("A refusal needs a reason; nothing was sent.")
	}
	return ap.decide(ctx, p.ID, s.UserID, api.ApprovalRefuse, reason, "", out)
}

// decide records a vote from a button or the modal, then sends.
// clickedTS, when set, is the prompt's message as clicked: known even before
// the prompt's ts was stored.
func (ap *approvals) decide(ctx context.Context, id, user string, decision api.ApprovalType, comment, clickedTS string, out *outcome) error {
	p, claimed, err := ap.store.Vote(ctx, id, user, decision, comment, ap.allowSelf, ap.now())
	if p.TS == "" {
		p.TS = clickedTS
	}
	out.entry.TaskName, out.entry.PipelineID = p.TaskName, p.PipelineID
	if out.entry.Channel == "" {
		out.entry.Channel = p.Channel
	}
	if err != nil {
		return promptError(err, user)
	}
	return ap.send(ctx, p, claimed, decision, out)
}

// send updates the prompt after a vote and, when the vote decided it and
// this caller holds the claim, sends the decision upstream exactly once.
func (ap *approvals) send(ctx context.Context, p prompt, claimed bool, decision api.ApprovalType, out *outcome) error {
	if !claimed {
		out.entry.Outcome = "vote recorded"
		return ap.slack.Update(ctx, p.Channel, p.TS, renderPrompt(&p))
	}
	opts := &api.OperateOptions{TaskName: p.ApprovalTask, ApprovalType: decision, Message: p.Message(decision)}
	out.entry.Sent = sentText(api.ActionApproval, opts)
	e, err := ap.releases.Operate(ctx, p.PipelineID, api.ActionApproval, opts)
	if err != nil {
		text, _ := describe(err)
		record := ap.store.Failed
		if errors.Is(err, api.ErrOutcomeUnknown) {
			record = ap.store.Uncertain
		}
		// The upstream error is the one to report; a failed update of the
		// prompt would only hide it.
		if after, serr := record(ctx, p.ID, text); serr == nil {
			if after.TS == "" {
				after.TS = p.TS
			}
			_ = ap.slack.Update(ctx, after.Channel, after.TS, renderPrompt(&after))
		}
		return err
	}
	done, err := ap.store.Decided(ctx, p.ID, decision, p.Deciding, ap.now(), e)
	if err != nil {
		return err
	}
	if done.TS == "" {
		done.TS = p.TS
	}
	ap.metrics.Decision(string(decision))
	out.entry.Execution, out.entry.Outcome = e.ID, decidedWord(decision)+": "+e.Status.Label()
	if err := ap.slack.Update(ctx, done.Channel, done.TS, renderPrompt(&done)); err != nil {
		return err
	}
	// Follow the execution on: through its own message when it is already
	// followed, else through a new one.
	followed, err := ap.store.IsFollowed(ctx, done.PipelineID, e.ID)
	if err != nil || followed {
		return err
	}
	task := api.ReleaseTask{ID: done.PipelineID, Name: done.TaskName}
	ts, err := ap.slack.Post(ctx, done.Channel, renderOutcome(done.DecidedBy, api.ActionApproval, task, e))
	if err != nil {
		return err
	}
	ap.follow(task, e, done.Channel, ts, done.DecidedBy, out)
	return nil
}

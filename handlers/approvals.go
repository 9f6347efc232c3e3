package handlers

import (
	"context"
	"strings"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/bot"
)

// approvals posts approval prompts and turns votes into one upstream
// decision, whether they come from buttons, the modal or commands.
type approvals struct {
	*operations
	required  int
	allowSelf bool
}

// ask posts an approval prompt with Approve and Refuse buttons.
func (ap *approvals) ask(ctx context.Context, c bot.Command, r Request, out *outcome) error {
	task, err := ap.target(ctx, ap.authz.operators, c.UserID, r.Task, out)
	if err != nil {
		return err
	}
	if p, ok := ap.mem.openPrompt(task.ID, r.ApprovalTask); ok {
		return conflictf("An approval prompt for %s of *%s* is already open in %s.", code(p.ApprovalTask), p.TaskName, channelRef(p.Channel))
	}
	p := ap.newPrompt(task, r.ApprovalTask, c.ChannelID)
	p.AskedBy, p.Note = c.UserID, r.Text
	if err := ap.postPrompt(ctx, p); err != nil {
		return err
	}
	out.entry.Outcome = "prompt posted"
	return nil
}

func (ap *approvals) newPrompt(task api.ReleaseTask, approvalTask, channel string) *prompt {
	return &prompt{
		ID: newID(), PipelineID: task.ID, TaskName: task.Name, ApprovalTask: approvalTask,
		Channel: channel, AskedAt: ap.now(), StartedBy: ap.mem.starter(task.ID), Required: ap.required,
	}
}

func (ap *approvals) postPrompt(ctx context.Context, p *prompt) error {
	ap.mem.putPrompt(p)
	ts, err := ap.slack.Post(ctx, p.Channel, renderPrompt(p))
	if err != nil {
		return err
	}
	ap.mem.setPromptMessage(p.ID, p.Channel, ts)
	return nil
}

// command handles /release approve and /release refuse: a vote on the open
// prompt of that approval task, or on a new one posted for the occasion.
func (ap *approvals) command(decision api.ApprovalType) commandFunc {
	return func(ctx context.Context, c bot.Command, r Request, out *outcome) error {
		task, err := ap.target(ctx, ap.authz.approvers, c.UserID, r.Task, out)
		if err != nil {
			return err
		}
		p, ok := ap.mem.openPrompt(task.ID, r.ApprovalTask)
		if !ok {
			np := ap.newPrompt(task, r.ApprovalTask, c.ChannelID)
			if err := ap.postPrompt(ctx, np); err != nil {
				return err
			}
			p = *np
		}
		return ap.decide(ctx, p.ID, c.UserID, decision, r.Text, out)
	}
}

// approveClick handles the Approve button.
func (ap *approvals) approveClick(ctx context.Context, a bot.Action, out *outcome) error {
	if err := ap.authz.allow(ctx, ap.authz.approvers, a.UserID); err != nil {
		return err
	}
	return ap.decide(ctx, a.Value, a.UserID, api.ApprovalAgree, "", out)
}

// refuseClick handles the Refuse button: it opens the modal that asks for
// a reason, unless the prompt is already decided.
func (ap *approvals) refuseClick(ctx context.Context, a bot.Action, out *outcome) error {
	if err := ap.authz.allow(ctx, ap.authz.approvers, a.UserID); err != nil {
		return err
	}
	p, ok := ap.mem.getPrompt(a.Value)
	if !ok {
		return notFoundf("This approval prompt is unknown to releasebot; nothing was sent.")
	}
	out.entry.TaskName, out.entry.PipelineID = p.TaskName, p.PipelineID
	if p.Decision != "" {
		return conflictf("Already %s by %s at %s; nothing more was sent.", decidedWord(p.Decision), mention(p.DecidedBy), stamp(p.DecidedAt))
	}
	out.entry.Outcome = "reason asked"
	return ap.slack.OpenModal(ctx, a.TriggerID, renderRefuseModal(&p))
}

// refuseSubmit handles the submitted reason of a refusal.
func (ap *approvals) refuseSubmit(ctx context.Context, s bot.Submission, out *outcome) error {
	p, ok := ap.mem.getPrompt(s.PrivateMetadata)
	if !ok {
		return notFoundf("This approval prompt is unknown to releasebot; nothing was sent.")
	}
	out.entry.Channel = p.Channel
	if err := ap.authz.allow(ctx, ap.authz.approvers, s.UserID); err != nil {
		return err
	}
	reason := strings.TrimSpace(s.Values[blockReason][inputReason])
	if reason == "" {
		return usagef("A refusal needs a reason; nothing was sent.")
	}
	return ap.decide(ctx, p.ID, s.UserID, api.ApprovalRefuse, reason, out)
}

// decide records a vote and, when it decides the prompt, sends the decision
// upstream exactly once and updates the prompt in place.
func (ap *approvals) decide(ctx context.Context, id, user string, decision api.ApprovalType, comment string, out *outcome) error {
	p, claimed, err := ap.mem.vote(id, user, decision, ap.allowSelf)
	out.entry.TaskName, out.entry.PipelineID = p.TaskName, p.PipelineID
	if out.entry.Channel == "" {
		out.entry.Channel = p.Channel
	}
	if err != nil {
		return err
	}
	if !claimed {
		out.entry.Outcome = "vote recorded"
		return ap.slack.Update(ctx, p.Channel, p.TS, renderPrompt(&p))
	}
	opts := &api.OperateOptions{TaskName: p.ApprovalTask, ApprovalType: decision, Message: comment}
	out.entry.Sent = sentText(api.ActionApproval, opts)
	e, err := ap.releases.Operate(ctx, p.PipelineID, api.ActionApproval, opts)
	if err != nil {
		text, _ := describe(err)
		failed := ap.mem.failed(id, text)
		// The upstream error is the one to report; a failed update of the
		// prompt would only hide it.
		_ = ap.slack.Update(ctx, failed.Channel, failed.TS, renderPrompt(&failed))
		return err
	}
	done := ap.mem.decided(id, decision, user, comment, ap.now(), e)
	out.entry.Execution, out.entry.Outcome = e.ID, decidedWord(decision)+": "+e.Status.Label()
	return ap.slack.Update(ctx, done.Channel, done.TS, renderPrompt(&done))
}

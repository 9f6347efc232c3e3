package handlers

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/bot"
	"github.com/releasebot/releasebot/release"
	"github.com/releasebot/releasebot/store"
)

// approvals posts approval prompts and turns votes into one upstream
// decision, whether they come from buttons, the modal or commands.
type approvals struct {
	*operations
	prompts   PromptStore
	allowSelf bool
	metrics   Metrics
	timeout   Deadline
}

// ask posts an approval prompt with Approve and Refuse buttons for the
// execution waiting at the approval task.
func (ap *approvals) ask(ctx context.Context, c bot.Command, r Request, out *outcome) error {
	task, err := ap.target(ctx, operatorRole, c.UserID, r.Task, out)
	if err != nil {
		return err
	}
	rec, err := ap.waitingAt(ctx, task, r.ApprovalTask)
	if err != nil {
		return err
	}
	out.entry.Execution = rec.ID
	np, err := ap.newPrompt(ctx, task, r.ApprovalTask, rec.ID, c.ChannelID)
	if err != nil {
		return err
	}
	np.AskedBy, np.Note = c.UserID, r.Text
	p, created, superseded, err := ap.prompts.OpenPrompt(ctx, np)
	if err != nil {
		return err
	}
	if !created {
		return conflictf("An approval prompt for execution %s of *%s* at %s is already open: %s. Nothing was posted.",
			code(p.ExecutionID), p.TaskName, code(p.ApprovalTask), promptLink(&p))
	}
	if err := ap.postPrompt(ctx, &p, ""); err != nil {
		_ = ap.prompts.DropPrompt(ctx, p.ID)
		return err
	}
	ap.showAll(ctx, superseded)
	out.entry.Outcome = "prompt posted"
	return nil
}

// newPrompt is a prompt about execution, not stored yet.
func (ap *approvals) newPrompt(ctx context.Context, task api.ReleaseTask, gate, execution, channel string) (*release.Prompt, error) {
	actors, err := ap.prompts.Actors(ctx, task.ID, execution)
	if err != nil {
		return nil, err
	}
	return &release.Prompt{
		ID: newID(), PipelineID: task.ID, TaskName: task.Name, ApprovalTask: gate, ExecutionID: execution,
		Channel: channel, AskedAt: ap.now(), Actors: actors, Required: ap.rules.For(task).Required,
		Deadline: ap.deadline(),
	}, nil
}

// postPrompt posts p in its channel (in the thread of threadTS, if set) and
// records where it is.
func (ap *approvals) postPrompt(ctx context.Context, p *release.Prompt, threadTS string) error {
	m := withThread(ap.render(p), threadTS)
	m.Broadcast = threadTS != "" // in the channel too: the approvers must see it
	ts, err := ap.slack.Post(ctx, p.Channel, m)
	if err != nil {
		return err
	}
	p.TS, p.ThreadTS = ts, threadTS
	return ap.prompts.SetPromptMessage(ctx, p.ID, p.Channel, ts, threadTS)
}

// showAll updates the messages of prompts that changed as a side effect
// (superseded ones); a failed update is not the requester's problem.
func (ap *approvals) showAll(ctx context.Context, ps []release.Prompt) {
	for i := range ps {
		if ps[i].TS != "" {
			_ = ap.slack.Update(ctx, ps[i].Channel, ps[i].TS, ap.render(&ps[i]))
		}
	}
}

// command handles /release approve and /release refuse: a vote on the open
// prompt of the waiting execution, or on a new one, posted only once the
// vote is accepted so that a refused command leaves nothing in the channel.
func (ap *approvals) command(vote release.Decision) commandFunc {
	return func(ctx context.Context, c bot.Command, r Request, out *outcome) error {
		task, err := ap.decider(ctx, c.UserID, r.Task, out)
		if err != nil {
			return err
		}
		rec, err := ap.waitingAt(ctx, task, r.ApprovalTask)
		if err != nil {
			return err
		}
		out.entry.Execution = rec.ID
		np, err := ap.newPrompt(ctx, task, r.ApprovalTask, rec.ID, c.ChannelID)
		if err != nil {
			return err
		}
		p, created, superseded, err := ap.prompts.OpenPrompt(ctx, np)
		if err != nil {
			return err
		}
		ap.showAll(ctx, superseded)
		if err := ap.mayDecide(ctx, &p, c.UserID); err != nil {
			if created {
				_ = ap.prompts.DropPrompt(ctx, p.ID)
			}
			return err
		}
		voted, claimed, err := ap.prompts.Vote(ctx, p.ID, c.UserID, vote, r.Text, ap.allowSelf, ap.now())
		if err != nil {
			if created {
				_ = ap.prompts.DropPrompt(ctx, p.ID)
			}
			return promptError(err, c.UserID)
		}
		if created {
			if err := ap.postPrompt(ctx, &voted, ""); err != nil && !claimed {
				_ = ap.prompts.DropPrompt(ctx, p.ID)
				return err
			}
		}
		return ap.send(ctx, voted, claimed, vote, out)
	}
}

// decider resolves the release task of approve and refuse for someone who
// may decide on some release task: an approver, or one of those an
// escalated prompt is escalated to (mayDecide checks the prompt itself).
func (ap *approvals) decider(ctx context.Context, user, typed string, out *outcome) (api.ReleaseTask, error) {
	err := ap.authz.mayAny(ctx, ap.rules, approverRole, user)
	if err != nil && isDenied(err) && ap.authz.mayAny(ctx, ap.rules, escalationRole, user) == nil {
		err = nil
	}
	if err != nil {
		return api.ReleaseTask{}, err
	}
	task, err := ap.res.resolve(ctx, typed)
	if err != nil {
		return api.ReleaseTask{}, err
	}
	out.entry.TaskName, out.entry.PipelineID = task.Name, task.ID
	return task, nil
}

// mayDecide checks that user may decide p: an approver of its release
// task, or, once the prompt escalated, one of those it escalated to.
func (ap *approvals) mayDecide(ctx context.Context, p *release.Prompt, user string) error {
	rules := ap.rules.For(api.ReleaseTask{ID: p.PipelineID, Name: p.TaskName})
	err := ap.authz.allow(ctx, rules.Approvers, user)
	if err == nil || !isDenied(err) || !p.Escalated {
		return err
	}
	if ok, merr := ap.authz.member(ctx, rules.EscalateTo.Who, user); merr != nil || ok {
		return merr
	}
	return err
}

// approveClick handles the Approve button.
func (ap *approvals) approveClick(ctx context.Context, a bot.Action, out *outcome) error {
	p, err := ap.prompts.GetPrompt(ctx, a.Value)
	if err != nil {
		return promptError(err, a.UserID)
	}
	if err := ap.mayDecide(ctx, &p, a.UserID); err != nil {
		return err
	}
	ap.knowMessage(ctx, &p, a.ChannelID, a.MessageTS)
	return ap.decide(ctx, a.Value, a.UserID, release.Agree, "", a.MessageTS, out)
}

// refuseClick handles the Refuse button: it opens the modal that asks for
// a reason, unless the prompt is already decided.
func (ap *approvals) refuseClick(ctx context.Context, a bot.Action, out *outcome) error {
	p, err := ap.prompts.GetPrompt(ctx, a.Value)
	if err != nil {
		return promptError(err, a.UserID)
	}
	if err := ap.mayDecide(ctx, &p, a.UserID); err != nil {
		return err
	}
	out.entry.TaskName, out.entry.PipelineID, out.entry.Execution = p.TaskName, p.PipelineID, p.ExecutionID
	if err := p.CheckVote(a.UserID, release.Refuse, true); err != nil {
		return promptError(err, a.UserID)
	}
	ap.knowMessage(ctx, &p, a.ChannelID, a.MessageTS)
	out.entry.Outcome = "reason asked"
	return ap.slack.OpenModal(ctx, a.TriggerID, renderRefuseModal(&p))
}

// knowMessage records the prompt's message from a click on it, when the
// poster has not recorded it yet: the modal's submission, which comes
// later, carries no message.
func (ap *approvals) knowMessage(ctx context.Context, p *release.Prompt, channel, ts string) {
	if p.TS == "" && ts != "" && channel == p.Channel {
		p.TS = ts
		_ = ap.prompts.SetPromptMessage(ctx, p.ID, p.Channel, ts, p.ThreadTS)
	}
}

// refuseSubmit handles the submitted reason of a refusal.
func (ap *approvals) refuseSubmit(ctx context.Context, s bot.Submission, out *outcome) error {
	p, err := ap.prompts.GetPrompt(ctx, s.PrivateMetadata)
	if err != nil {
		return promptError(err, s.UserID)
	}
	out.entry.Channel = p.Channel
	if err := ap.mayDecide(ctx, &p, s.UserID); err != nil {
		return err
	}
	reason := strings.TrimSpace(s.Values[blockReason][inputReason])
	if reason == "" {
		return usagef("A refusal needs a reason; nothing was sent.")
	}
	return ap.decide(ctx, p.ID, s.UserID, release.Refuse, reason, "", out)
}

// decide records a vote from a button or the modal, then sends.
// clickedTS, when set, is the prompt's message as clicked: known even before
// the prompt's ts was stored.
func (ap *approvals) decide(ctx context.Context, id, user string, vote release.Decision, comment, clickedTS string, out *outcome) error {
	p, claimed, err := ap.prompts.Vote(ctx, id, user, vote, comment, ap.allowSelf, ap.now())
	if p.TS == "" {
		p.TS = clickedTS
	}
	out.entry.TaskName, out.entry.PipelineID, out.entry.Execution = p.TaskName, p.PipelineID, p.ExecutionID
	if out.entry.Channel == "" {
		out.entry.Channel = p.Channel
	}
	if err != nil {
		return promptError(err, user)
	}
	return ap.send(ctx, p, claimed, vote, out)
}

// promptError turns a store error about a prompt into what the clicker is
// told; nothing was sent upstream in any of these cases.
func promptError(err error, user string) error {
	var ve *release.VoteError
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFoundf("This approval prompt is unknown to releasebot; nothing was sent.")
	case !errors.As(err, &ve):
		return err
	}
	p := ve.Prompt
	switch ve.Kind {
	case release.VoteDecided:
		if !p.Decision.Upstream() {
			return conflictf("This approval is %s: %s. Nothing was sent.", p.Decision.Word(), safe(p.LastError))
		}
		return conflictf("Already %s by %s at %s; nothing more was sent.", p.Decision.Word(), mention(p.DecidedBy), slackDate(p.DecidedAt))
	case release.VoteUncertain:
		return conflictf("The decision %s sent may have reached ServiceStage; releasebot is checking with ServiceStage and "+
			"will update the prompt. Nothing more was sent: do not decide again, here or in the console.", mention(p.Deciding))
	case release.VoteDeciding:
		return conflictf("%s is deciding this right now; nothing more was sent.", mention(p.Deciding))
	}
	role := "asked for this approval"
	if slices.Contains(p.Actors, user) {
		role = "started, retried or continued this execution"
	}
	return deniedf("You %s, so someone else must approve it; nothing was sent.", role)
}

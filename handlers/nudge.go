package handlers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/bot"
	"github.com/releasebot/releasebot/release"
)

// maxDMs bounds the direct messages of one reminder.
const maxDMs = 20

// Deadline says what happens when an open prompt's deadline passes.
type Deadline struct {
	After  time.Duration // 0: no deadline
	Refuse bool          // send refuse (else close the prompt, sending nothing)
}

func (ap *approvals) deadline() time.Time {
	if ap.timeout.After <= 0 {
		return time.Time{}
	}
	return ap.now().Add(ap.timeout.After)
}

// Nudge reminds the approvers of an open prompt, escalates it, or closes it
// at its deadline; each is in the audit log.
func (r *Reporter) Nudge(ctx context.Context, p release.Prompt, n release.Nudge) error {
	entry := release.AuditEntry{At: r.now(), User: "releasebot", Channel: p.Channel, Verb: "reminder", TaskName: p.TaskName,
		PipelineID: p.PipelineID, Execution: p.ExecutionID}
	var err error
	switch n {
	case release.Remind:
		entry.Outcome, err = r.remind(ctx, p)
	case release.Escalate:
		entry.Verb = "escalation"
		entry.Outcome, err = r.escalate(ctx, p)
	case release.Expire:
		entry.Verb = "deadline"
		entry.Outcome, entry.Sent, err = r.ap.expire(ctx, p)
	}
	if entry.Outcome != "" {
		r.ap.record(ctx, entry)
		r.log.Info().Str("kind", "poller").Str("verb", entry.Verb).Str("prompt", p.ID).Str("release_task_id", p.PipelineID).
			Str("execution_id", p.ExecutionID).Str("sent", entry.Sent).Str("outcome", entry.Outcome).Msg("poller")
	}
	return err
}

// who lists the approvers a reminder is for: users who have not voted and
// are not kept out by separation of duties, every group, or anyone.
type who struct {
	users, groups []string
	anyone        bool
}

func (w who) empty() bool { return len(w.users) == 0 && len(w.groups) == 0 && !w.anyone }

func (w who) mentions() safe {
	var parts []string
	for _, u := range w.users {
		parts = append(parts, string(mention(u)))
	}
	for _, g := range w.groups {
		if isSlackID(g) {
			parts = append(parts, "<!subteam^"+g+">")
		}
	}
	if w.anyone {
		parts = append(parts, "any approver")
	}
	if len(parts) == 0 {
		return "the approvers"
	}
	return safe(strings.Join(parts, ", "))
}

// eligible is who of role may still approve p.
func eligible(role Role, p *release.Prompt) who {
	voted := func(u string) bool {
		return slices.ContainsFunc(p.Votes, func(b release.Ballot) bool { return b.User == u }) || p.Excluded(u)
	}
	w := who{groups: role.Who.Groups, anyone: role.Who.All}
	for _, u := range role.Who.Users {
		if !voted(u) {
			w.users = append(w.users, u)
		}
	}
	return w
}

func (r *Reporter) remind(ctx context.Context, p release.Prompt) (string, error) {
	rules := r.ap.rules.For(api.ReleaseTask{ID: p.PipelineID, Name: p.TaskName})
	w := eligible(rules.Approvers, &p)
	msg := renderReminder(&p, w, r.now())
	if _, err := r.slack.Post(ctx, p.Channel, withThread(msg, threadOf(&p))); err != nil {
		return "", gone(err)
	}
	sent := 0
	if r.dm {
		sent = r.directMessages(ctx, &p, rules.Approvers)
	}
	return fmt.Sprintf("reminder %d sent (%d direct messages)", p.Reminders, sent), nil
}

// directMessages tells each eligible approver in a direct message, groups
// expanded, at most maxDMs of them.
func (r *Reporter) directMessages(ctx context.Context, p *release.Prompt, role Role) int {
	users := slices.Clone(role.Who.Users)
	for _, g := range role.Who.Groups {
		members, err := r.ap.authz.groupMembers(ctx, g)
		if err != nil {
			r.log.Warn().Err(err).Str("group", g).Msg("cannot expand a user group for reminders")
			continue
		}
		for u := range members {
			users = append(users, u)
		}
	}
	slices.Sort(users)
	users = slices.Compact(users)
	sent := 0
	for _, u := range users {
		if sent == maxDMs {
			break
		}
		if p.Excluded(u) || slices.ContainsFunc(p.Votes, func(b release.Ballot) bool { return b.User == u }) {
			continue
		}
		if _, err := r.slack.Post(ctx, u, renderReminderDM(p, r.now())); err != nil {
			r.log.Warn().Err(err).Str("user", u).Msg("cannot send a reminder by direct message")
			continue
		}
		sent++
	}
	return sent
}

func (r *Reporter) escalate(ctx context.Context, p release.Prompt) (string, error) {
	rules := r.ap.rules.For(api.ReleaseTask{ID: p.PipelineID, Name: p.TaskName})
	if rules.EscalateTo.Who.IsEmpty() {
		return "reminders stopped: nobody to escalate to", nil
	}
	w := eligible(rules.EscalateTo, &p)
	if _, err := r.slack.Post(ctx, p.Channel, withThread(renderEscalation(&p, w, r.now()), threadOf(&p))); err != nil {
		return "", gone(err)
	}
	return "escalated", nil
}

// expire closes p at its deadline, or sends refuse when so configured.
func (ap *approvals) expire(ctx context.Context, p release.Prompt) (result, sent string, err error) {
	waited := elapsed(p.Deadline.Sub(p.AskedAt))
	if !ap.timeout.Refuse {
		was := p
		p.Close(release.TimedOut, "no decision within "+waited, ap.now(), 0)
		if won, err := ap.prompts.UpdatePrompt(ctx, &was, &p); err != nil || !won {
			return "", "", err
		}
		return "timed out; nothing sent", "", gone(ap.slack.Update(ctx, p.Channel, p.TS, ap.render(&p)))
	}
	was := p
	p.CastVote(release.TimeoutVoter, release.Refuse, "No decision within "+waited+": refused by releasebot at the deadline.", ap.now())
	p.Claim(release.TimeoutVoter, ap.now())
	if won, err := ap.prompts.UpdatePrompt(ctx, &was, &p); err != nil || !won {
		return "", "", err
	}
	out := &outcome{}
	err = ap.send(ctx, p, true, release.Refuse, out)
	if err != nil && !errors.Is(err, api.ErrOutcomeUnknown) {
		// The refusal surely failed: the deadline happened all the same,
		// once. The prompt closes as timed out instead of reopening.
		ap.closeTimedOut(ctx, p.ID, "no decision within "+waited+"; the refusal sent at the deadline failed")
	}
	return "timed out: " + out.entry.Outcome, out.entry.Sent, err
}

// closeTimedOut closes prompt id as timed out if it is open.
func (ap *approvals) closeTimedOut(ctx context.Context, id, why string) {
	p, err := ap.prompts.GetPrompt(ctx, id)
	if err != nil || p.State() != release.StateOpen {
		return
	}
	was := p
	p.Close(release.TimedOut, why, ap.now(), 0)
	if won, err := ap.prompts.UpdatePrompt(ctx, &was, &p); err == nil && won {
		_ = ap.slack.Update(ctx, p.Channel, p.TS, ap.render(&p))
	}
}

func threadOf(p *release.Prompt) string {
	if p.ThreadTS != "" {
		return p.ThreadTS
	}
	return p.TS
}

// renderReminder is a reply in the prompt's thread for the approvers who
// have not voted.
func renderReminder(p *release.Prompt, w who, now time.Time) bot.Message {
	text := safe(fmt.Sprintf(":bell: %s: *%s* has waited %s for approval at %s (execution %s). %s",
		w.mentions(), escape(p.TaskName), elapsed(now.Sub(p.AskedAt)), code(p.ApprovalTask), code(p.ExecutionID), promptLink(p)))
	if !p.Deadline.IsZero() {
		text += safe(" It times out " + slackDate(p.Deadline) + ".")
	}
	return bot.Message{Text: tame(fmt.Sprintf("Reminder: %s waits for approval at %s", p.TaskName, p.ApprovalTask)),
		Blocks: []slack.Block{section(clipSafe(string(text), 2900))}}
}

func renderReminderDM(p *release.Prompt, now time.Time) bot.Message {
	text := safe(fmt.Sprintf(":bell: *%s* has waited %s for your approval at %s (execution %s) in %s: %s",
		escape(p.TaskName), elapsed(now.Sub(p.AskedAt)), code(p.ApprovalTask), code(p.ExecutionID), channelRef(p.Channel), promptLink(p)))
	return bot.Message{Text: tame(fmt.Sprintf("%s waits for your approval", p.TaskName)), Blocks: []slack.Block{section(text)}}
}

// renderEscalation is the one reply that tells those it escalates to.
func renderEscalation(p *release.Prompt, w who, now time.Time) bot.Message {
	text := safe(fmt.Sprintf(":rotating_light: Escalated to %s: *%s* has waited %s for approval at %s (execution %s) after %d reminders. "+
		"You may decide it now. %s", w.mentions(), escape(p.TaskName), elapsed(now.Sub(p.AskedAt)), code(p.ApprovalTask),
		code(p.ExecutionID), p.Reminders, promptLink(p)))
	return bot.Message{Text: tame(fmt.Sprintf("Escalated: %s waits for approval at %s", p.TaskName, p.ApprovalTask)),
		Blocks: []slack.Block{section(clipSafe(string(text), 2900))}}
}

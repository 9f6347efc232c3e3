package handlers

import (
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/bot"
	"github.com/releasebot/releasebot/release"
)

// renderPrompt is an approval prompt: while open, the question, who may
// not approve, the tally and the buttons; once settled, a headline that
// says how (approved, refused, closed, superseded, timed out), by whom, and
// the execution's resulting status.
func renderPrompt(p *release.Prompt) bot.Message { return renderPromptFor(p, who{}, "") }

// renderPromptFor is renderPrompt that, while the prompt is open, mentions
// w, who may decide it, and links the console when console is set.
func renderPromptFor(p *release.Prompt, w who, console string) bot.Message {
	head := promptHeadline(p)
	if p.State() == release.StateOpen && !w.empty() {
		head += safe("\nWaiting for " + string(w.mentions()) + ".")
	}
	blocks := []slack.Block{section(head), contextLine(promptMeta(p) + consoleLink(console))}
	if p.Note != "" {
		blocks = append(blocks, quote("Note from "+string(mention(p.AskedBy)), p.Note))
	}
	for _, b := range p.Votes {
		if b.Comment != "" {
			blocks = append(blocks, quote(fmt.Sprintf("%s from %s", voteNoun(b.Vote), mention(b.User)), b.Comment))
		}
	}
	text := tame(fmt.Sprintf("%s: %s for execution %s at %s", p.TaskName, promptStateText(p), p.ExecutionID, p.ApprovalTask))
	switch p.State() {
	case release.StateOpen:
		if p.LastError != "" {
			blocks = append(blocks, contextLine(clipSafe(":warning: "+p.LastError+" You can decide again.", 2900)))
		}
		approve := slack.NewButtonBlockElement(actionApprove, p.ID, plain("Approve"))
		approve.Style = slack.StylePrimary
		refuse := slack.NewButtonBlockElement(actionRefuse, p.ID, plain("Refuse"))
		refuse.Style = slack.StyleDanger
		blocks = append(blocks, slack.NewActionBlock(blockApproval, approve, refuse))
	case release.StateUncertain:
		blocks = append(blocks, section(clipSafe(":hourglass: Checking with ServiceStage: the decision "+string(mention(p.Deciding))+
			" sent may have been carried out ("+p.LastError+"). Do not decide again, here or in the console; this prompt will say what happened.", 2900)))
	case release.StateClosed, release.StateSuperseded, release.StateExpired:
		blocks = append(blocks, contextLine(clipSafe(capitalize(p.LastError)+". Nothing was sent from Slack.", 2900)))
	}
	return bot.Message{Text: text, Blocks: blocks}
}

// promptStateText says where the prompt is, for its notification text.
func promptStateText(p *release.Prompt) string {
	switch p.State() {
	case release.StateOpen:
		return "approval needed"
	case release.StateDeciding:
		return "sending the decision"
	case release.StateUncertain:
		return "checking with ServiceStage"
	}
	return p.Decision.Word()
}

func promptHeadline(p *release.Prompt) safe {
	name := escape(clip(p.TaskName, 200))
	switch p.State() {
	case release.StateOpen:
		return safe(fmt.Sprintf(":raising_hand: Approval needed: *%s* waits at %s", name, code(clip(p.ApprovalTask, 200))))
	case release.StateDeciding:
		return safe(fmt.Sprintf(":hourglass_flowing_sand: *%s*: sending %s's decision at %s", name, mention(p.Deciding), code(clip(p.ApprovalTask, 200))))
	case release.StateUncertain:
		return safe(fmt.Sprintf(":hourglass: *%s*: checking with ServiceStage whether %s's decision was carried out", name, mention(p.Deciding)))
	case release.StateDecided:
		by := mentions(p.Approvals())
		emoji := ":white_check_mark:"
		if p.Decision == release.Refuse {
			by, emoji = mention(p.DecidedBy), ":no_entry:"
		}
		line := fmt.Sprintf("%s *%s*: %s by %s", emoji, name, p.Decision.Word(), by)
		if p.Status != 0 {
			line += " · now " + string(statusText(p.Status))
		}
		return safe(line)
	case release.StateSuperseded:
		return safe(fmt.Sprintf(":fast_forward: *%s*: superseded by a newer execution at this gate", name))
	case release.StateExpired:
		return safe(fmt.Sprintf(":hourglass: *%s*: timed out, nothing was sent", name))
	}
	return safe(fmt.Sprintf(":heavy_minus_sign: *%s*: closed without a decision from Slack", name))
}

// promptMeta is the prompt's context line: the execution, who may not
// approve it, the tally, and when it was asked.
func promptMeta(p *release.Prompt) safe {
	parts := []string{"Execution " + string(code(p.ExecutionID)), "approval task " + string(code(clip(p.ApprovalTask, 200)))}
	if len(p.Actors) > 0 {
		parts = append(parts, "run by "+string(mentions(p.Actors))+" (may not approve)")
	}
	if p.AskedBy != "" {
		parts = append(parts, "asked by "+string(mention(p.AskedBy)))
	}
	if !p.Done() {
		tally := fmt.Sprintf("approvals %d of %d", len(p.Approvals()), max(p.Required, 1))
		if a := p.Approvals(); len(a) > 0 {
			tally += " (" + string(mentions(a)) + ")"
		}
		parts = append(parts, tally)
	}
	parts = append(parts, "waiting since "+slackDate(p.AskedAt))
	if !p.Done() && !p.Deadline.IsZero() {
		parts = append(parts, "times out "+slackDate(p.Deadline))
	}
	if !p.Done() && p.Escalated {
		parts = append(parts, "escalated")
	}
	return clipSafe(strings.Join(parts, " · "), 2900)
}

func voteNoun(v release.Decision) string {
	if v == release.Refuse {
		return "Reason"
	}
	return "Comment"
}

func mentions(users []string) safe {
	parts := make([]string, 0, len(users))
	for _, u := range users {
		parts = append(parts, string(mention(u)))
	}
	return safe(strings.Join(parts, ", "))
}

// clipSafe clips mrkdwn that is already escaped to at most n characters
// without cutting an entity, a mention or a link in half.
func clipSafe(s string, n int) safe {
	r := []rune(s)
	if len(r) <= n {
		return safe(s)
	}
	cut := string(r[:n-1])
	if i := strings.LastIndexAny(cut, "<&"); i >= 0 && !strings.ContainsAny(cut[i:], ">;") {
		cut = cut[:i]
	}
	return safe(cut + "…")
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// render is the prompt as its channel shows it: who may decide it
// mentioned while it is open, the console linked.
func (ap *approvals) render(p *release.Prompt) bot.Message {
	rules := ap.rules.For(api.ReleaseTask{ID: p.PipelineID, Name: p.TaskName})
	w := eligible(rules.Approvers, p)
	if p.Escalated {
		e := eligible(rules.EscalateTo, p)
		w.users, w.groups, w.anyone = append(w.users, e.users...), append(w.groups, e.groups...), w.anyone || e.anyone
	}
	return renderPromptFor(p, w, ap.console(p.PipelineID, p.ExecutionID))
}

// consoleLink is " · Open in ServiceStage" linking url, or "".
func consoleLink(url string) safe {
	if url == "" {
		return ""
	}
	return safe(" · <" + escape(url) + "|Open in ServiceStage>")
}

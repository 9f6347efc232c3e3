package handlers

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/slack-go/slack"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/bot"
	"github.com/releasebot/releasebot/release"
)

// safe is text already fit for a mrkdwn field: escaped, or built by us.
type safe string

// escape neutralises Slack's control characters. Text a user typed is also
// only ever put in verbatim mrkdwn (or plain_text), so that a plain @here or
// URL is not turned into a mention or a link either.
func escape(s string) string { return escaper.Replace(s) }

var (
	// slackDates are <!date^…|fallback>, which a notification text shows as
	// their fallback.
	slackDates = regexp.MustCompile(`<!date\^[^|<>]*\|([^<>]*)>`)
	escaper    = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	untamer    = strings.NewReplacer("&lt;", " ", "&gt;", " ", "&amp;", "&")
)

// code shows s as inline code.
func code(s string) safe {
	return safe("`" + escape(strings.ReplaceAll(s, "`", "'")) + "`")
}

// isSlackID reports whether id is shaped like a Slack user, channel or
// group ID: 2 to 20 of A–Z and 0–9 (the regexp ^[A-Z0-9]{2,20}$, which
// cost more than the rest of a mention; every reply mentions someone).
func isSlackID(id string) bool {
	if len(id) < 2 || len(id) > 20 {
		return false
	}
	for i := range len(id) {
		if c := id[i]; (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// mention names a Slack user by ID, which Slack shows as their name.
func mention(id string) safe {
	if !isSlackID(id) {
		return code(id)
	}
	return safe("<@" + id + ">")
}

// channelRef links a channel by ID.
func channelRef(id string) safe {
	if !isSlackID(id) {
		return code(id)
	}
	return safe("<#" + id + ">")
}

// mrkdwn is a verbatim mrkdwn text object: links and mentions only where we
// wrote them with <...>.
func mrkdwn(s safe) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, string(s), false, true)
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

func section(s safe) slack.Block { return slack.NewSectionBlock(mrkdwn(s), nil, nil) }

func contextLine(s safe) slack.Block { return slack.NewContextBlock("", mrkdwn(s)) }

// quote shows text a user typed (a comment, a reason, a note).
func quote(label, text string) slack.Block {
	// Escaped first, clipped after: escaping can make a text longer than
	// a context element may be.
	return contextLine(clipSafe(label+": "+escape(text), 2900))
}

var statusEmoji = map[release.Status]string{
	release.StatusInitialized:      ":new:",
	release.StatusReleased:         ":white_check_mark:",
	release.StatusFailed:           ":x:",
	release.StatusReleasing:        ":large_blue_circle:",
	release.StatusAwaitingApproval: ":raising_hand:",
	release.StatusPaused:           ":double_vertical_bar:",
	release.StatusSkipped:          ":fast_forward:",
	release.StatusRollingBack:      ":rewind:",
	release.StatusRolledBack:       ":leftwards_arrow_with_hook:",
	release.StatusRollbackFailed:   ":boom:",
	release.StatusStopping:         ":octagonal_sign:",
	release.StatusRestarting:       ":arrows_counterclockwise:",
}

// statusText is the status with its emoji, in words and code.
func statusText(s release.Status) safe {
	e, ok := statusEmoji[s]
	if !ok {
		e = ":grey_question:"
	}
	return safe(e + " " + s.Label())
}

// past is the verb of an action as the outcome says it.
var past = map[release.Action]string{
	release.ActionStart:    "started",
	release.ActionStop:     "stopped",
	release.ActionContinue: "continued",
	release.ActionRetry:    "retried",
	release.ActionRollback: "rolled back",
	release.ActionApproval: "decided the approval of",
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// slackDate shows t in each reader's own time zone, with a UTC fallback.
func slackDate(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} at {time}|%s>", t.Unix(), stamp(t))
}

func ephemeral(text safe) bot.Message {
	return bot.Message{Text: tame(string(text)), Blocks: []slack.Block{section(text)}}
}

// tame makes a notification text (the message's top-level text) from any
// text: it keeps letters, digits and a little punctuation, so that nothing
// a user typed or ServiceStage returned can mention, link or format there.
func tame(s string) string {
	if tameAlready(s) {
		return clip(s, 300)
	}
	return tameText(s)
}

// tameText is tame without its shortcut.
func tameText(s string) string {
	s = untamer.Replace(slackDates.ReplaceAllString(s, "$1"))
	var b strings.Builder
	space := false
	for _, r := range s {
		if !keeps(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return clip(b.String(), 300)
}

// tameAlready reports whether tame would keep s as it is: every rune is
// one it keeps, so no date or entity (they need '<' or '&') is there to
// replace. Task names mostly are; the regular expression cost more than
// rendering the rest of a start's message.
func tameAlready(s string) bool {
	for _, r := range s {
		if !keeps(r) {
			return false
		}
	}
	return true
}

// keeps reports whether tame keeps r.
func keeps(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_.,:()#'+=?!", r)
}

func renderError(text string) bot.Message {
	return ephemeral(safe(":warning: " + text))
}

func renderHelp() bot.Message {
	groups := []struct{ who, lines string }{
		{"Anyone", "`/release list` · what can be released\n" +
			"`/release status payments-api` · runs, and which approval a run waits at\n" +
			"`/release locks` · who holds a release task, and freeze windows"},
		{"Operators", "`/release start payments-api` · or only some tasks: `start payments-api deploy:canary`\n" +
			"`/release continue payments-api` · `/release retry payments-api`\n" +
			"`/release stop payments-api` · `/release rollback payments-api` · asks to confirm first\n" +
			"`/release ask payments-api approve-prod please check the canary` · posts Approve/Refuse\n" +
			"`/release lock payments-api for 2h hotfix in progress` · `/release unlock payments-api`"},
		{"Freeze overriders", "`/release start payments-api --override sev1 fix approved by the CTO` · during a freeze, after a confirmation"},
		{"Approvers", "`/release approve payments-api approve-prod looks good`\n" +
			"`/release refuse payments-api approve-prod error rate too high` · a reason is required"},
		{"Operators and approvers", "`/release audit payments-api` · the last 20 actions\n" +
			"`/release audit export since 7d` · a CSV file, sent to you"},
	}
	blocks := []slack.Block{section("*releasebot* drives ServiceStage release tasks. Name one by its name, an alias or its ID; quote names with spaces.")}
	for _, g := range groups {
		blocks = append(blocks, section(safe("*"+g.who+"*\n"+g.lines)))
	}
	return bot.Message{Text: "releasebot help: commands by role, with examples", Blocks: blocks}
}

func renderList(tasks []api.ReleaseTask) bot.Message {
	if len(tasks) == 0 {
		return ephemeral("ServiceStage lists no release tasks in this project.")
	}
	var lines []string
	for _, t := range tasks {
		last := "never run"
		if !t.LastTriggerAt.IsZero() {
			last = "last run " + slackDate(t.LastTriggerAt)
		}
		lines = append(lines, fmt.Sprintf("*%s* · %s · %s", escape(t.Name), statusText(t.Status), last))
	}
	blocks := []slack.Block{section(safe(fmt.Sprintf("*%d release tasks*", len(tasks))))}
	blocks = append(blocks, chunk(lines, 45)...)
	return bot.Message{Text: fmt.Sprintf("%d release tasks", len(tasks)), Blocks: blocks}
}

// chunk packs lines into at most maxBlocks sections of at most 3000
// characters each, saying how many lines did not fit.
func chunk(lines []string, maxBlocks int) []slack.Block {
	var blocks []slack.Block
	var cur strings.Builder
	for i, l := range lines {
		if cur.Len()+len(l)+1 > 2900 {
			if len(blocks) == maxBlocks-1 {
				blocks = append(blocks, section(safe(cur.String())), contextLine(safe(fmt.Sprintf("…and %d more", len(lines)-i))))
				return blocks
			}
			blocks = append(blocks, section(safe(cur.String())))
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte('\n')
		}
		cur.WriteString(l)
	}
	if cur.Len() > 0 {
		blocks = append(blocks, section(safe(cur.String())))
	}
	return blocks
}

func renderStatus(t api.ReleaseTask, recs []api.Record, prompts map[string]release.Prompt) bot.Message {
	blocks := []slack.Block{section(safe(fmt.Sprintf("*%s* · %s", escape(t.Name), statusText(t.Status))))}
	if len(recs) == 0 {
		blocks = append(blocks, contextLine("No executions yet."))
	}
	var lines []string
	for i, r := range recs {
		if i == 5 {
			break
		}
		line := fmt.Sprintf("• Execution %s · %s", code(r.ID), statusText(r.Status))
		line += waitingText(&r, prompts)
		if r.Trigger != "" {
			line += " · by " + escape(r.Trigger)
		}
		if !r.StartTime.IsZero() {
			line += " · started " + slackDate(r.StartTime)
			if !r.EndTime.IsZero() && r.EndTime.After(r.StartTime) {
				line += ", took " + r.EndTime.Sub(r.StartTime).Round(time.Second).String()
			}
		}
		lines = append(lines, line)
	}
	if len(lines) > 0 {
		blocks = append(blocks, section(safe(strings.Join(lines, "\n"))))
	}
	return bot.Message{Text: tame(t.Name) + ": " + t.Status.Label(), Blocks: blocks}
}

// renderOutcome is the channel message after an operation: who, what, the
// release task, the execution and its status.
func renderOutcome(user string, action release.Action, task api.ReleaseTask, e *api.Execution) bot.Message {
	verb, who := past[action], string(mention(user))
	head := safe(who + " " + verb + " *" + escape(task.Name) + "*")
	fields := []*slack.TextBlockObject{
		mrkdwn(safe("*Execution*\n" + string(code(e.ID)))),
		mrkdwn(safe("*Status*\n" + string(statusText(e.Status)))),
	}
	return bot.Message{
		Text:   who + " " + verb + " " + tame(task.Name) + ": " + e.Status.Label(),
		Blocks: []slack.Block{slack.NewSectionBlock(mrkdwn(head), fields, nil)},
	}
}

// renderConfirm asks an operator to confirm a stop or a rollback.
func renderConfirm(c *release.Confirmation) bot.Message {
	head := safe(fmt.Sprintf(":warning: %s asks to *%s* *%s*. An operator must confirm.", mention(c.RequestedBy), c.Action, escape(c.TaskName)))
	ok := slack.NewButtonBlockElement(actionConfirm, c.ID, plain("Confirm "+string(c.Action)))
	ok.Style = slack.StyleDanger
	cancel := slack.NewButtonBlockElement(actionCancel, c.ID, plain("Cancel"))
	return bot.Message{
		Text:   fmt.Sprintf("%s asks to %s %s", mention(c.RequestedBy), c.Action, tame(c.TaskName)),
		Blocks: []slack.Block{section(head), slack.NewActionBlock(blockConfirm, ok, cancel)},
	}
}

// renderConfirmClosed replaces a confirmation once it is used; result, if
// any, says how the action went upstream.
func renderConfirmClosed(c *release.Confirmation, confirmed bool, by string, at time.Time, result safe) bot.Message {
	what := "cancelled"
	if confirmed {
		what = "confirmed"
	}
	text := safe(fmt.Sprintf("%s asked to *%s* *%s*: %s by %s at %s.", mention(c.RequestedBy), c.Action, escape(c.TaskName), what, mention(by), slackDate(at)))
	if c.RequestedBy == "" {
		text = safe(fmt.Sprintf("*%s* of *%s*: %s by %s at %s.", c.Action, escape(c.TaskName), what, mention(by), slackDate(at)))
	}
	blocks := []slack.Block{section(text)}
	if result != "" {
		blocks = append(blocks, contextLine(result))
	}
	return bot.Message{Text: fmt.Sprintf("%s %s %s: %s", mention(c.RequestedBy), c.Action, tame(c.TaskName), what), Blocks: blocks}
}

func renderRefuseModal(p *release.Prompt) slack.ModalViewRequest {
	input := slack.NewPlainTextInputBlockElement(plain("Why is this release refused?"), inputReason)
	input.Multiline = true
	input.MaxLength = 2000
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      callbackRefuse,
		PrivateMetadata: p.ID,
		Title:           plain("Refuse approval"),
		Submit:          plain("Refuse"),
		Close:           plain("Cancel"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			section(safe(fmt.Sprintf("Refuse %s of *%s*?", code(p.ApprovalTask), escape(p.TaskName)))),
			slack.NewInputBlock(blockReason, plain("Reason"), nil, input),
		}},
	}
}

func renderAudit(entries []release.AuditEntry, task string) bot.Message {
	title := "Last actions through releasebot"
	if task != "" {
		title += " on " + tame(task)
	}
	if len(entries) == 0 {
		return ephemeral(safe("*" + title + "*\nNothing recorded yet."))
	}
	var lines []string
	for _, e := range entries {
		line := fmt.Sprintf("%s · %s · %s", slackDate(e.At), mention(e.User), code(e.Verb))
		if e.Channel != "" {
			line += " in " + string(channelRef(e.Channel))
		}
		if e.TaskName != "" {
			line += " " + escape(e.TaskName)
		}
		if e.Execution != "" {
			line += " · execution " + string(code(e.Execution))
		}
		line += " · " + escape(e.Outcome)
		lines = append(lines, line)
	}
	blocks := []slack.Block{section(safe("*" + title + "*"))}
	blocks = append(blocks, chunk(lines, 45)...)
	return bot.Message{Text: title, Blocks: blocks}
}

// withThread posts m as a reply in the thread of ts.
func withThread(m bot.Message, ts string) bot.Message {
	m.ThreadTS = ts
	return m
}

// elapsed is a duration for people: "2m5s", whole seconds.
func elapsed(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	return d.Round(time.Second).String()
}

// runTime is how long an execution has run, from ServiceStage's own
// timestamps when the record has them, so that every message agrees.
func runTime(f release.Followed, r *api.Record, now time.Time) time.Duration {
	if r == nil || r.StartTime.IsZero() {
		return now.Sub(f.CreatedAt)
	}
	if r.EndTime.After(r.StartTime) {
		return r.EndTime.Sub(r.StartTime)
	}
	return now.Sub(r.StartTime)
}

// renderProgress is a followed execution's channel message, edited as its
// status changes: status with emoji, who did what through releasebot,
// elapsed time, stages.
func renderProgress(f release.Followed, r *api.Record, now time.Time, console string) bot.Message {
	head := safe(fmt.Sprintf("%s *%s* · %s", statusEmojiOf(f.Status), escape(f.TaskName), f.Status.Label()))
	took := "running for " + elapsed(runTime(f, r, now))
	if f.Status.Finished() {
		took = "took " + elapsed(runTime(f, r, now))
	}
	meta := fmt.Sprintf("Execution %s · %s by %s · %s", code(f.ExecutionID), creditOf(f.Action), mention(f.StartedBy), took)
	blocks := []slack.Block{section(head), contextLine(safe(meta) + consoleLink(console))}
	if r != nil && len(r.Stages) > 0 {
		var parts []string
		for _, st := range r.Stages {
			e := statusEmojiOf(st.Status)
			if st.Status == release.StatusInitialized || st.Status == 0 {
				e = ":white_circle:" // not reached yet
			}
			parts = append(parts, e+" "+escape(st.Name))
		}
		blocks = append(blocks, contextLine(clipSafe("Stages: "+strings.Join(parts, " → "), 2900)))
	}
	return bot.Message{Text: fmt.Sprintf("%s: %s, execution %s", tame(f.TaskName), f.Status.Label(), tame(f.ExecutionID)), Blocks: blocks}
}

func statusEmojiOf(s release.Status) string {
	if e, ok := statusEmoji[s]; ok {
		return e
	}
	return ":grey_question:"
}

// renderFinished is the thread reply when a followed execution ends.
func renderFinished(f release.Followed, r *api.Record, now time.Time) bot.Message {
	d := runTime(f, r, now)
	text := safe(fmt.Sprintf("%s *%s* execution %s finished: %s after %s.", statusEmojiOf(f.Status), escape(f.TaskName),
		code(f.ExecutionID), f.Status.Label(), elapsed(d)))
	return bot.Message{Text: fmt.Sprintf("%s finished: %s, execution %s", tame(f.TaskName), f.Status.Label(), tame(f.ExecutionID)),
		Blocks: []slack.Block{section(text)}}
}

// renderFollowBound says that releasebot stopped following an execution.
func renderFollowBound(f release.Followed) bot.Message {
	text := safe(fmt.Sprintf(":hourglass: Stopped following execution %s of *%s* after %s; it was %s. `/release status` still shows it.",
		code(f.ExecutionID), escape(f.TaskName), elapsed(release.FollowBound), f.Status.Label()))
	return bot.Message{Text: fmt.Sprintf("Stopped following %s", tame(f.TaskName)), Blocks: []slack.Block{section(text)}}
}

// renderContinueHint offers operators a Continue button for a paused run.
func renderContinueHint(c *release.Confirmation) bot.Message {
	text := safe(fmt.Sprintf(":double_vertical_bar: *%s* is paused (7) and waits for someone to continue it. Operators can:", escape(c.TaskName)))
	button := slack.NewButtonBlockElement(actionConfirm, c.ID, plain("Continue"))
	button.Style = slack.StylePrimary
	return bot.Message{
		Text:   fmt.Sprintf("%s is paused", tame(c.TaskName)),
		Blocks: []slack.Block{section(text), slack.NewActionBlock(blockConfirm, button)},
	}
}

// waitingText names the approval task an execution waits at and links its
// open prompt, when known.
func waitingText(r *api.Record, prompts map[string]release.Prompt) string {
	if r.Status != release.StatusAwaitingApproval {
		return ""
	}
	p, open := prompts[r.ID]
	gate := r.WaitingGate()
	if gate == "" && open {
		gate = p.ApprovalTask
	}
	var s string
	if gate != "" {
		s = " at " + string(code(gate))
	}
	if open {
		s += " · " + string(promptLink(&p))
	}
	return s
}

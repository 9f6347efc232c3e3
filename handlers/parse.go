package handlers

import (
	"strings"
	"time"
	"unicode"

	"github.com/releasebot/releasebot/api"
)

// Verbs of /release.
const (
	VerbHelp     = "help"
	VerbList     = "list"
	VerbStatus   = "status"
	VerbStart    = "start"
	VerbStop     = "stop"
	VerbContinue = "continue"
	VerbRetry    = "retry"
	VerbRollback = "rollback"
	VerbApprove  = "approve"
	VerbRefuse   = "refuse"
	VerbAsk      = "ask"
	VerbAudit    = "audit"
	VerbLock     = "lock"
	VerbUnlock   = "unlock"
	VerbLocks    = "locks"
	VerbExport   = "audit export"
)

// Request is a parsed /release command: nothing in it has been checked
// against ServiceStage yet.
type Request struct {
	Verb         string
	Task         string              // release task name, alias or ID as typed
	Selected     []api.SelectedTasks // start only
	ApprovalTask string              // approve, refuse, ask
	Text         string              // comment, reason or note: the rest of the line as typed

	All      bool          // lock, unlock: every release task (an unquoted "all")
	For      time.Duration // lock: how long; 0 means release.DefaultLockFor
	Override bool          // start, retry, continue: --override, with its reason in Text
	Since    time.Time     // audit export: entries from this instant (UTC) on
	SinceAgo time.Duration // audit export: entries from this long ago on
}

// maxCommandText bounds what the parser reads; Slack's own limit is lower.
const maxCommandText = 4000

// Parse reads the text of a /release command. Names with spaces are quoted
// with "..." (or the curly quotes Slack clients type); the comment, reason
// or note of approve, refuse and ask is the rest of the line, verbatim.
func Parse(text string) (Request, error) {
	if len(text) > maxCommandText {
		return Request{}, usagef("That command is too long (%d characters; at most %d).", len(text), maxCommandText)
	}
	toks, err := tokenize(text)
	if err != nil {
		return Request{}, err
	}
	if len(toks) == 0 {
		return Request{Verb: VerbHelp}, nil
	}
	r := Request{Verb: strings.ToLower(toks[0].text())}
	if err := r.parseArgs(toks[1:], text); err != nil {
		return r, err
	}
	if r.Task == "" && !r.All && !taskOptional[r.Verb] {
		return r, usagef("The release task name is empty.")
	}
	return r, nil
}

// parseArgs fills r from the arguments that follow its verb in text.
func (r *Request) parseArgs(args []token, text string) error {
	switch r.Verb {
	case VerbHelp, VerbList:
		if len(args) > 0 {
			return usagef("`%s` takes no arguments.", r.Verb)
		}
	case VerbStatus, VerbStop, VerbRollback:
		if len(args) != 1 {
			return usagef("Usage: `/release %s <task>`.", r.Verb)
		}
		r.Task = args[0].text()
	case VerbAudit:
		if len(args) > 0 && args[0].keyword("export") {
			r.Verb = VerbExport
			return r.parseExport(args[1:])
		}
		if len(args) > 1 {
			return usagef("Usage: `/release audit [<task>]`.")
		}
		if len(args) == 1 {
			r.Task = args[0].text()
		}
	case VerbStart, VerbContinue, VerbRetry:
		return r.parseRun(args, text)
	case VerbLock:
		return r.parseLock(args, text)
	case VerbUnlock:
		if len(args) != 1 {
			return usagef("Usage: `/release unlock <task>|all`.")
		}
		r.setTarget(args[0])
	case VerbLocks:
		if len(args) > 0 {
			return usagef("`%s` takes no arguments.", r.Verb)
		}
	case VerbApprove, VerbAsk, VerbRefuse:
		return r.parseApproval(args, text)
	default:
		return usagef("Unknown command %s. Try `/release help`.", code(clip(r.Verb, 40)))
	}
	return nil
}

// parseStart reads a task and the optional stage:task selections to run.
func (r *Request) parseStart(args []token) error {
	if len(args) == 0 {
		return usagef("Usage: `/release start <task> [<stage>:<task>[,<task>...]]... [--override <reason...>]`.")
	}
	r.Task = args[0].text()
	for _, a := range args[1:] {
		sel, err := a.selection()
		if err != nil {
			return err
		}
		r.Selected = mergeSelection(r.Selected, sel)
	}
	return nil
}

// parseApproval reads the task, the approval task and the rest of the line
// of approve, ask and refuse; refuse's reason is required.
func (r *Request) parseApproval(args []token, text string) error {
	switch {
	case r.Verb == VerbRefuse && len(args) < 3:
		return usagef("Usage: `/release refuse <task> <approval-task> <reason...>`: a reason is required.")
	case len(args) < 2:
		return usagef("Usage: `/release %s <task> <approval-task> [%s...]`.", r.Verb, map[string]string{VerbApprove: "comment", VerbAsk: "note"}[r.Verb])
	}
	r.Task, r.ApprovalTask, r.Text = args[0].text(), args[1].text(), restOfLine(text, args, 2)
	return nil
}

// restOfLine is text from args[n] on, verbatim but for surrounding space.
func restOfLine(text string, args []token, n int) string {
	if len(args) <= n {
		return ""
	}
	return strings.TrimSpace(text[args[n].start:])
}

// mergeSelection adds sel, joining tasks of a stage named twice.
func mergeSelection(all []api.SelectedTasks, sel api.SelectedTasks) []api.SelectedTasks {
	for i := range all {
		if all[i].StageName == sel.StageName {
			for _, t := range sel.Tasks {
				if !contains(all[i].Tasks, t) {
					all[i].Tasks = append(all[i].Tasks, t)
				}
			}
			return all
		}
	}
	return append(all, sel)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// token is one word of a command: its runes, which of them were quoted,
// and where it starts in the text.
type token struct {
	runes  []rune
	quoted []bool
	start  int
}

func (t token) text() string { return string(t.runes) }

// selection reads stage:task[,task...], splitting only on unquoted ':' and ','.
func (t token) selection() (api.SelectedTasks, error) {
	colon := -1
	for i, r := range t.runes {
		if r == ':' && !t.quoted[i] {
			colon = i
			break
		}
	}
	if colon <= 0 {
		return api.SelectedTasks{}, usagef("%s is not a stage selection: write `<stage>:<task>[,<task>...]`.", code(clip(t.text(), 60)))
	}
	sel := api.SelectedTasks{StageName: string(t.runes[:colon])}
	var cur []rune
	flush := func() error {
		if len(cur) == 0 {
			return usagef("Stage %s has an empty task name.", code(clip(sel.StageName, 60)))
		}
		if !contains(sel.Tasks, string(cur)) {
			sel.Tasks = append(sel.Tasks, string(cur))
		}
		cur = nil
		return nil
	}
	for i := colon + 1; i < len(t.runes); i++ {
		if t.runes[i] == ',' && !t.quoted[i] {
			if err := flush(); err != nil {
				return sel, err
			}
			continue
		}
		cur = append(cur, t.runes[i])
	}
	if err := flush(); err != nil {
		return sel, err
	}
	return sel, nil
}

var closingQuote = map[rune]rune{'"': '"', '“': '”', '”': '”', '„': '“'}

// tokenize splits on unquoted white space. A quote may open anywhere in a
// word and must be closed.
func tokenize(text string) ([]token, error) {
	var toks []token
	var cur *token
	var closing rune
	for i, r := range text {
		switch {
		case closing != 0:
			if r == closing || (closing == '”' && r == '"') {
				closing = 0
				continue
			}
			cur.runes = append(cur.runes, r)
			cur.quoted = append(cur.quoted, true)
		case unicode.IsSpace(r):
			if cur != nil {
				toks = append(toks, *cur)
				cur = nil
			}
		default:
			if cur == nil {
				cur = &token{start: i}
			}
			if c, ok := closingQuote[r]; ok {
				closing = c
				continue
			}
			cur.runes = append(cur.runes, r)
			cur.quoted = append(cur.quoted, false)
		}
	}
	if closing != 0 {
		return nil, usagef("A quote is not closed.")
	}
	if cur != nil {
		toks = append(toks, *cur)
	}
	return toks, nil
}

// clip shortens s to n runes for an error message.
func clip(s string, n int) string {
	if len(s) <= n { // no more runes than bytes
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

package handlers

import (
	"errors"
	"strings"
	"time"
	"unicode"

	"github.com/releasebot/releasebot/release"
)

// taskOptional are the verbs that may go without a release task.
var taskOptional = map[string]bool{VerbHelp: true, VerbList: true, VerbAudit: true, VerbExport: true, VerbLocks: true}

// keyword reports whether t is the unquoted word w, in any case: a quoted
// "all" or "export" is a release task's name.
func (t token) keyword(w string) bool {
	for _, q := range t.quoted {
		if q {
			return false
		}
	}
	return strings.EqualFold(t.text(), w)
}

// isOverride reports whether t is --override; Slack clients may turn the two
// hyphens into a dash.
func (t token) isOverride() bool {
	return t.keyword("--override") || t.keyword("—override") || t.keyword("–override")
}

// setTarget reads the release task of lock and unlock, or all.
func (r *Request) setTarget(t token) {
	if t.keyword("all") {
		r.All = true
		return
	}
	r.Task = t.text()
}

// parseRun reads start, retry and continue: a task, start's selections, and
// an optional --override with its reason (the rest of the line).
func (r *Request) parseRun(args []token, text string) error {
	for i, a := range args {
		if !a.isOverride() {
			continue
		}
		r.Override, r.Text = true, restOfLine(text, args, i+1)
		if r.Text == "" || i == 0 {
			return usagef("Usage: `/release %s <task> --override <reason...>`: a reason is required.", r.Verb)
		}
		args = args[:i]
		break
	}
	if r.Verb == VerbStart {
		return r.parseStart(args)
	}
	if len(args) != 1 {
		return usagef("Usage: `/release %s <task> [--override <reason...>]`.", r.Verb)
	}
	r.Task = args[0].text()
	return nil
}

// parseLock reads lock's target, an optional "for <duration>" and the
// reason, which is required.
func (r *Request) parseLock(args []token, text string) error {
	usage := usagef("Usage: `/release lock <task>|all [for <duration>] <reason...>`: a reason is required.")
	if len(args) < 2 {
		return usage
	}
	r.setTarget(args[0])
	n := 1
	// "for" followed by a number is a duration; "for the migration" is
	// part of the reason.
	if args[1].keyword("for") && len(args) > 2 && startsWithDigit(args[2].text()) {
		d, err := release.ParseDuration(args[2].text())
		if err == nil && d == 0 {
			err = errors.New("0s is less than a second") // LockFor would read it as the default
		}
		if err == nil {
			d, err = release.LockFor(d)
		}
		if err != nil {
			return usagef("%s. A lock lasts from 1s to 7d; the default is 2h.", capitalize(err.Error()))
		}
		r.For, n = d, 3
	}
	if r.Text = restOfLine(text, args, n); r.Text == "" {
		return usage
	}
	return nil
}

func startsWithDigit(s string) bool {
	for _, c := range s {
		return unicode.IsDigit(c)
	}
	return false
}

// parseExport reads audit export's optional task and "since <date or
// duration>".
func (r *Request) parseExport(args []token) error {
	usage := usagef("Usage: `/release audit export [<task>] [since <date or duration>]`, e.g. `since 2026-11-01` or `since 7d`.")
	if n := len(args); n >= 2 && args[n-2].keyword("since") {
		if err := r.parseSince(args[n-1].text()); err != nil {
			return err
		}
		args = args[:n-2]
	}
	switch len(args) {
	case 0:
	case 1:
		r.Task = args[0].text()
	default:
		return usage
	}
	return nil
}

// parseSince reads a date (2026-11-01, midnight UTC), an RFC 3339 time, or
// a duration back from now (36h, 7d).
func (r *Request) parseSince(s string) error {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		r.Since = t
		return nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		r.Since = t.UTC()
		return nil
	}
	d, err := release.ParseDuration(s)
	if err != nil || d == 0 {
		return usagef("%s is neither a date (2026-11-01) nor a duration (7d, 36h).", code(clip(s, 40)))
	}
	r.SinceAgo = d
	return nil
}

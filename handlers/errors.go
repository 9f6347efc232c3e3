package handlers

import (
	"errors"
	"fmt"

	"github.com/slack-go/slack"

	"github.com/releasebot/releasebot/api"
)

// errKind is what a Slack user may be told went wrong.
type errKind int

const (
	kindUsage    errKind = iota + 1 // the command is malformed
	kindDenied                      // not allowed here, or not for this person
	kindNotFound                    // no such release task, prompt or confirmation
	kindConflict                    // already decided, already used
)

// userError is an error whose text is safe mrkdwn to show to the person
// whose command or click failed.
type userError struct {
	kind errKind
	msg  string
}

func (e *userError) Error() string { return e.msg }

// newUserError formats a message; the format's own angle brackets (such as
// <task> in a usage line) are escaped too, as Slack would read them as links.
func newUserError(kind errKind, format string, args []any) error {
	return &userError{kind: kind, msg: fmt.Sprintf(escape(format), escapeArgs(args)...)}
}

func usagef(format string, args ...any) error    { return newUserError(kindUsage, format, args) }
func deniedf(format string, args ...any) error   { return newUserError(kindDenied, format, args) }
func notFoundf(format string, args ...any) error { return newUserError(kindNotFound, format, args) }
func conflictf(format string, args ...any) error { return newUserError(kindConflict, format, args) }

// escapeArgs escapes plain string arguments; safe ones (already mrkdwn)
// pass as they are.
func escapeArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if s, ok := a.(string); ok {
			out[i] = escape(s)
		} else {
			out[i] = a
		}
	}
	return out
}

// verdict is what an error means, in one place: the requester's text, the
// metric label, the audit outcome (the text, tamed) and whether to log it.
type verdict struct {
	label      string // ok, usage, denied, not_found, conflict, upstream_error, outcome_unknown or error
	text       string // safe mrkdwn for the requester
	unexpected bool   // to be logged with its detail
}

// classify maps any error to its verdict.
func classify(err error) verdict {
	var ue *userError
	var ae *api.Error
	switch {
	case err == nil:
		return verdict{label: "ok"}
	case errors.As(err, &ue):
		return verdict{label: [...]string{"", "usage", "denied", "not_found", "conflict"}[ue.kind], text: ue.msg}
	case errors.Is(err, api.ErrOutcomeUnknown):
		return verdict{label: "outcome_unknown", text: "ServiceStage may have carried this out, but its answer was lost (" + escape(err.Error()) +
			"). Do not run it again: `/release status` shows in a moment whether it happened."}
	case errors.As(err, &ae):
		return verdict{label: "upstream_error", text: upstreamText(ae)}
	case errors.Is(err, api.ErrInvalidRequest):
		return verdict{label: "usage", text: "ServiceStage was not called: " + escape(err.Error()) + "."}
	}
	return verdict{label: "error", text: "Something went wrong; nothing more is known here. The error has been logged.", unexpected: true}
}

// describe is the requester's text for err, and whether it is unexpected.
func describe(err error) (text string, unexpected bool) {
	v := classify(err)
	return v.text, v.unexpected
}

// upstreamText says what ServiceStage (or IAM) answered, escaped.
func upstreamText(e *api.Error) string {
	if e.StatusCode == 401 {
		return fmt.Sprintf("Huawei Cloud rejected releasebot's credentials (HTTP 401%s). An admin must check the configured token, AK/SK or IAM user.",
			codeSuffix(e.Code))
	}
	msg := fmt.Sprintf("ServiceStage answered HTTP %d%s", e.StatusCode, codeSuffix(e.Code))
	if e.Message != "" {
		msg += ": " + escape(e.Message)
	}
	return msg + "."
}

func codeSuffix(c string) string {
	if c == "" {
		return ""
	}
	return " " + string(code(c))
}

// notPosted explains that an action was carried out upstream but its
// outcome could not be posted in the channel; done says what was done.
func notPosted(err error, done string) error {
	var se slack.SlackErrorResponse
	why := "Slack refused the channel message"
	if errors.As(err, &se) {
		switch se.Err {
		case "not_in_channel", "channel_not_found":
			why = "releasebot is not a member of this channel (invite it with `/invite @releasebot`)"
		default:
			why = "Slack refused the channel message (" + escape(se.Err) + ")"
		}
	}
	return &userError{kind: kindConflict, msg: "Done, but only you see this: " + done + " " + why + "."}
}

// isDenied reports whether err is a permission denial.
func isDenied(err error) bool {
	var ue *userError
	return errors.As(err, &ue) && ue.kind == kindDenied
}

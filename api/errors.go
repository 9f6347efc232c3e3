package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"
)

// ErrInvalidRequest is wrapped by every error about a request the client
// refused to send: a malformed ID, an unknown action, a missing approval
// field. Nothing reached the server.
var ErrInvalidRequest = errors.New("invalid request")

// ErrOutcomeUnknown is wrapped by an Operate error after which ServiceStage
// may have carried out the action anyway: the connection broke or timed out
// once the request was sent, a 2xx answer could not be read, or the answer
// was 408, 500, 502, 503 or 504 (that error is also an *Error, for errors.As).
// Such an action must not be sent again blindly; check the release task's
// status.
var ErrOutcomeUnknown = errors.New("ServiceStage may have received the request")

// Error is a non-2xx answer from ServiceStage or IAM. Callers inspect it with
// errors.As. Its text is safe to show: it never holds credentials.
type Error struct {
	Op         string // the operation, e.g. "list release tasks"
	StatusCode int    // HTTP status
	Code       string // error_code (or error.code), may be empty
	Message    string // error_msg (or error.message), may be empty
	RequestID  string // request_id or X-Request-Id, when given
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// outcomeUnknownError is an answer to an action after which ServiceStage may
// have carried it out all the same. errors.Is finds ErrOutcomeUnknown, and
// errors.As the *Error with the status and the upstream's code and message.
type outcomeUnknownError struct{ e *Error }

func (u *outcomeUnknownError) Error() string {
	bare := *u.e
	bare.Op = ""
	if u.e.Op == "" {
		return ErrOutcomeUnknown.Error() + ": " + bare.Error()
	}
	return u.e.Op + ": " + ErrOutcomeUnknown.Error() + ": " + bare.Error()
}

func (u *outcomeUnknownError) Unwrap() []error { return []error{ErrOutcomeUnknown, u.e} }

// redact hides secrets that a server echoed back into the error's fields.
func (e *Error) redact(secrets []string) {
	e.Code = redact(e.Code, secrets)
	e.Message = redact(e.Message, secrets)
	e.RequestID = redact(e.RequestID, secrets)
}

// Unauthorized reports whether the credential was rejected (HTTP 401).
func (e *Error) Unauthorized() bool { return e.StatusCode == http.StatusUnauthorized }

// NotFound reports whether the release task (or project) does not exist.
func (e *Error) NotFound() bool { return e.StatusCode == http.StatusNotFound }

const maxErrorBody = 64 << 10

// statusError turns a non-2xx answer into an *Error. A 3xx says only that
// redirects are not followed: its body and Location are not ours to show.
func statusError(status int, body []byte) *Error {
	if status >= 300 && status <= 399 {
		return &Error{StatusCode: status, Message: "redirect not followed: credentials go only to the configured endpoint"}
	}
	return decodeError(status, body)
}

// decodeError turns an error body into an *Error. It accepts the flat
// {"error_code","error_msg"} shape and the nested {"error":{"code","message"}}
// one; a body that is neither yields a short, printable excerpt.
func decodeError(status int, body []byte) *Error {
	e := &Error{StatusCode: status}
	var flat struct {
		Code      flexString `json:"error_code"`
		Msg       flexString `json:"error_msg"`
		RequestID flexString `json:"request_id"`
		Nested    *struct {
			Code    flexString `json:"code"`
			Message flexString `json:"message"`
			Title   flexString `json:"title"`
		} `json:"error"`
	}
	trimmed := trimJSONSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '{' && json.Unmarshal(trimmed, &flat) == nil {
		e.Code, e.Message, e.RequestID = string(flat.Code), string(flat.Msg), string(flat.RequestID)
		if n := flat.Nested; n != nil {
			if e.Code == "" {
				e.Code = string(n.Code)
			}
			if e.Message == "" {
				e.Message = string(n.Message)
			}
			if e.Message == "" {
				e.Message = string(n.Title)
			}
		}
	} else if len(trimmed) > 0 {
		e.Message = excerpt(trimmed, 200)
	}
	if e.Message == "" && e.Code == "" {
		e.Message = http.StatusText(status)
	}
	e.Code = excerpt([]byte(e.Code), 64)
	e.Message = excerpt([]byte(e.Message), 500)
	return e
}

// excerpt returns at most n runes of b on one line, without control
// characters, so a gateway's HTML page cannot flood a log line or a message.
func excerpt(b []byte, n int) string {
	var out strings.Builder
	space := false
	count := 0
	for _, r := range string(b) {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = out.Len() > 0
			continue
		}
		if count >= n {
			out.WriteString("…")
			break
		}
		if space {
			out.WriteByte(' ')
			space = false
		}
		out.WriteRune(r)
		count++
	}
	return out.String()
}

// redactingError hides secret values in the text of an error it wraps, while
// errors.Is and errors.As still see the original.
type redactingError struct {
	err     error
	secrets []string
}

func (r *redactingError) Error() string { return redact(r.err.Error(), r.secrets) }
func (r *redactingError) Unwrap() error { return r.err }

func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

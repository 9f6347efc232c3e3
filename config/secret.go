package config

import "fmt"

const redacted = "[redacted]"

// Secret is a credential (token, password, secret key or a URL that may hold
// one). It prints as "[redacted]" with every fmt verb and marshals the same
// way to JSON and text, so a Config can be logged whole; Reveal returns the
// value for the one place that needs it.
type Secret string

// Reveal returns the secret value. Never log or display it.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]".
func (s Secret) String() string { return redacted }

// GoString returns "[redacted]", so %#v does not print the value either.
func (s Secret) GoString() string { return redacted }

// MarshalText returns "[redacted]", for encoders that prefer text, such as
// log/slog's text handler. (encoding/json ignores it for map keys of a string
// kind, so never key a map by a Secret.)
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalJSON returns the JSON string "[redacted]", which is what zerolog's
// Interface and encoding/json write.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// Format writes "[redacted]" for every verb: without it, a verb that does not
// use String, such as %d, would print the value inside its error text.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

package api

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
)

// FuzzPlainJSONString: the fast path decodes a JSON string exactly as
// encoding/json does, and declines only what it cannot.
func FuzzPlainJSONString(f *testing.F) {
	for _, seed := range []string{`""`, `"web-prod"`, `"2025-03-14T15:09:26Z"`, `"caf\u00e9"`, `"café"`, `"a\"b"`, `"a\\b"`,
		`"tab\there"`, "\"new\nline\"", "\"\xff\"", `"unterminated`, `"`, `"a"b"`, `12`, `null`, `"\ud83d\ude00"`, `"😀"`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := plainJSONString(data)
		var want string
		err := json.Unmarshal(data, &want)
		if ok && (err != nil || got != want) {
			t.Fatalf("plainJSONString(%q) = %q; json.Unmarshal: %q, %v", data, got, want, err)
		}
		var f flexString
		ferr := f.UnmarshalJSON(data)
		if len(data) > 0 && data[0] == '"' && (ferr == nil) != (err == nil) {
			t.Fatalf("flexString(%q): error %v; json.Unmarshal: %v", data, ferr, err)
		}
		if ferr == nil && err == nil && string(f) != want {
			t.Fatalf("flexString(%q) = %q, json.Unmarshal = %q", data, f, want)
		}
	})
}

func TestPlainJSONStringTakesTheFastPath(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{`"web-prod"`, true},
		{`""`, true},
		{`"café"`, true},
		{`"a\"b"`, false},
		{"\"\xff\"", false},
		{"\"tab\t\"", false},
		{`"open`, false},
	}
	for _, c := range cases {
		got, ok := plainJSONString([]byte(c.in))
		assert.Equal(t, c.want, ok, "plainJSONString(%q) takes the fast path", c.in)
		if ok {
			assert.Equal(t, c.in[1:len(c.in)-1], got, "plainJSONString(%q)", c.in)
		}
	}
}

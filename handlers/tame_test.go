package handlers

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestTame(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"bench-task", "bench-task"},
		{"web (eu), v1.2", "web (eu), v1.2"},
		{"<@U123> and <!here>", "U123 and !here"},
		{"a &lt;b&gt; &amp; c", "a b c"},
		{"at <!date^1700000000^{date_short_pretty}|2023-11-14 22:13 UTC> ok", "at 2023-11-14 22:13 UTC ok"},
		{"*bold* _it_ `code`", "bold _it_ code"},
		{"üñí-cödé", "üñí-cödé"},
		{strings.Repeat("x", 400), strings.Repeat("x", 300) + "…"},
	} {
		assert.Equal(t, tc.want, tame(tc.in), "tame(%q)", tc.in)
	}
}

// FuzzTame: the shortcut for text tame keeps as it is changes nothing.
func FuzzTame(f *testing.F) {
	for _, s := range []string{"bench-task", "<@U1> &amp; <!date^1^x|fb>", "a\tb", "", "ü", strings.Repeat("y", 310)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		assert.Equal(t, tameText(s), tame(s))
	})
}

var slackIDPattern = regexp.MustCompile(`^[A-Z0-9]{2,20}$`)

func TestIsSlackID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"U0ALICE", true}, {"C0REL", true}, {"S0", true}, {strings.Repeat("A", 20), true},
		{"U", false}, {"", false}, {strings.Repeat("A", 21), false}, {"u0alice", false},
		{"U0-ALICE", false}, {"<@U1>", false}, {"U0ALİCE", false},
	} {
		assert.Equal(t, tc.want, isSlackID(tc.id), "isSlackID(%q)", tc.id)
	}
}

// FuzzIsSlackID: the hand-written check says what the pattern it replaced says.
func FuzzIsSlackID(f *testing.F) {
	for _, s := range []string{"U0ALICE", "u0", "A", "0123456789ABCDEFGHIJK", "U\n1", "ÄB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		assert.Equal(t, slackIDPattern.MatchString(s), isSlackID(s))
	})
}

package handlers

import (
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

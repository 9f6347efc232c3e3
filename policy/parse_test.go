package policy

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mustParse parses src, failing the test on any problem.
func mustParse(tb testing.TB, src string) *Policy {
	tb.Helper()
	p, err := Parse([]byte(src))
	require.NoError(tb, err)
	require.NotNil(tb, p)
	return p
}

// problemsOf returns the problems of err, failing the test if err is not an *Error.
func problemsOf(t *testing.T, err error) []Problem {
	t.Helper()
	var perr *Error
	require.True(t, errors.As(err, &perr), "got error %v, want *Error", err)
	return perr.Problems
}

func TestParseExample(t *testing.T) {
	src, err := os.ReadFile("testdata/example.yaml")
	require.NoError(t, err)

	p, err := Parse(src)

	require.NoError(t, err)
	rules, ok := p.RulesFor("payments-api")
	require.True(t, ok)
	assert.Equal(t, Rules{
		Key:               "payments-api",
		Operators:         &Principals{Groups: []string{"S0PAYOPS"}},
		Approvers:         &Principals{Users: []string{"U0ALICE"}, Groups: []string{"S0PAYLEADS"}},
		EscalateTo:        &Principals{Groups: []string{"S0SRE"}},
		RequiredApprovals: 2,
	}, rules)

	berlin := mustZone(t, "Europe/Berlin")
	friday := time.Date(2026, 6, 5, 18, 0, 0, 0, berlin)
	assert.Equal(t, []Window{{
		Name: "weekend", Reason: "No releases over the weekend",
		Start: friday, End: time.Date(2026, 6, 8, 8, 0, 0, 0, berlin),
	}}, p.FreezesAt(friday.Add(time.Hour), "web"))
	assert.Equal(t, []Window{{
		Name: "black-friday", Reason: "Peak traffic",
		Start: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC),
	}}, p.FreezesAt(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC), "web"))
}

// TestREADMEExample keeps the README's example a valid policy file.
func TestREADMEExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(readme), "### Policy file")
	require.True(t, ok, "README.md has no \"### Policy file\" section")
	_, block, ok := strings.Cut(section, "```yaml\n")
	require.True(t, ok, "the Policy file section has no yaml block")
	block, _, ok = strings.Cut(block, "```")
	require.True(t, ok)

	_, err = Parse([]byte(block))

	assert.NoError(t, err)
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		rules map[string]Rules // RulesFor(key) for each key
	}{
		{"empty file", "", nil},
		{"only comments", "# nothing yet\n", nil},
		{"null document", "---\n", nil},
		{"null sections", "release_tasks:\nfreezes:\n", nil},
		{
			"explicit empty list means nobody",
			"release_tasks:\n  web:\n    approvers: []\n",
			map[string]Rules{"web": {Key: "web", Approvers: &Principals{}}},
		},
		{
			"everyone, users, W users and groups",
			"release_tasks:\n  web:\n    operators: ['*', U0AB, W0CD, S0EF]\n",
			map[string]Rules{"web": {Key: "web", Operators: &Principals{All: true, Users: []string{"U0AB", "W0CD"}, Groups: []string{"S0EF"}}}},
		},
		{
			"required approvals alone, quoted",
			"release_tasks:\n  web: {required_approvals: \"20\"}\n",
			map[string]Rules{"web": {Key: "web", RequiredApprovals: 20}},
		},
		{
			"a numeric key is a name",
			"release_tasks:\n  2024:\n    required_approvals: 1\n",
			map[string]Rules{"2024": {Key: "2024", RequiredApprovals: 1}},
		},
		{
			"anchors share a list",
			"release_tasks:\n  web:\n    approvers: &leads [S0LEADS]\n  api:\n    approvers: *leads\n",
			map[string]Rules{
				"web": {Key: "web", Approvers: &Principals{Groups: []string{"S0LEADS"}}},
				"api": {Key: "api", Approvers: &Principals{Groups: []string{"S0LEADS"}}},
			},
		},
		{
			"freezes alone, every form of time",
			"freezes:\n" +
				"  - {name: a, reason: r, from: 2026-01-01T00:00:00+01:00, to: \"2026-01-02 00:00\"}\n" +
				"  - {name: b, reason: r, from: 2026-01-01T00:00, to: 2026-01-01T00:00:00.5Z, timezone: Asia/Tokyo}\n" +
				"  - {name: c, reason: r, cron: '*/5 9-17 ? JAN-DEC MON-FRI', duration: 1s, release_tasks: ['web\\*', '[a-c]*']}\n",
			nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, tt.src)

			for key, want := range tt.rules {
				got, ok := p.RulesFor(key)
				assert.True(t, ok, key)
				assert.Equal(t, want, got, key)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	const principal = `is not *, a user ID (U..., W...) or a user group ID (S...)`
	tests := []struct {
		name string
		src  string
		want []Problem
	}{
		{"YAML syntax", "release_tasks: [web\n", []Problem{{1, `did not find expected ',' or ']'`}}},
		{"not UTF-8", "release_tasks:\n  web: \xff\n", []Problem{{2, "the file is not UTF-8 text"}}},
		{"control character", "# ok\n\x01", []Problem{{2, "control character U+0001 is not allowed"}}},
		{"lines end with CR, CRLF or LF, as in YAML", "# a\r# b\r\n# c\n\x7f", []Problem{{4, "control character U+007F is not allowed"}}},
		{"two documents", "freezes:\n---\nfreezes:\n", []Problem{{2, "the file holds more than one YAML document"}}},
		{"unknown anchor", "release_tasks: *nope\n", []Problem{{0, "unknown anchor 'nope' referenced"}}},
		{"root is a list", "- web\n", []Problem{{1, "the policy file must be a mapping of keys to values"}}},
		{
			"unknown top-level key",
			"release_task:\n  web: {}\n",
			[]Problem{{1, `unknown key "release_task" in the policy file (known: release_tasks, freezes)`}},
		},
		{
			"top-level key twice",
			"freezes:\nfreezes:\n",
			[]Problem{{2, `"freezes" is given twice in the policy file (first on line 1)`}},
		},
		{"release_tasks a list", "release_tasks: [web]\n", []Problem{{1, "release_tasks must be a mapping of keys to values"}}},
		{
			"release task twice, in another case",
			"release_tasks:\n  web: {required_approvals: 1}\n  WEB: {required_approvals: 2}\n",
			[]Problem{{3, `"WEB" is given twice in release_tasks (first on line 2)`}},
		},
		{
			"empty key",
			"release_tasks:\n  '': {required_approvals: 1}\n",
			[]Problem{{2, "a release task key is empty"}},
		},
		{
			"bad glob",
			"release_tasks:\n  'pay[': {required_approvals: 1}\n",
			[]Problem{{2, `release task "pay[" is not a valid glob (path.Match syntax: *, ?, [a-z], \ to escape)`}},
		},
		{
			"a list as key",
			"release_tasks:\n  [a, b]: {required_approvals: 1}\n",
			[]Problem{{2, "a key in release_tasks must be a plain value"}},
		},
		{
			"rules missing, as when indented wrongly",
			"release_tasks:\n  web:\n  operators: [S0OPS]\n",
			[]Problem{
				{2, `release task "web" sets no rule (operators, approvers, required_approvals, escalate_to)`},
				{3, `release task "operators" must be a mapping of keys to values`},
			},
		},
		{
			"empty rules",
			"release_tasks:\n  web: {}\n",
			[]Problem{{2, `release task "web" sets no rule (operators, approvers, required_approvals, escalate_to)`}},
		},
		{
			"unknown rule key",
			"release_tasks:\n  web:\n    approver: [U0AB]\n",
			[]Problem{{3, `unknown key "approver" in release task "web" (known: operators, approvers, required_approvals, escalate_to)`}},
		},
		{
			"bad principals, each reported",
			"release_tasks:\n  web:\n    approvers:\n      - alice\n      - u0ab\n      - U0AB\n    escalate_to: [S1]\n",
			[]Problem{
				{4, `release task "web": approvers: "alice" ` + principal},
				{5, `release task "web": approvers: "u0ab" ` + principal},
				{7, `release task "web": escalate_to: "S1" ` + principal},
			},
		},
		{
			"principals not a list",
			"release_tasks:\n  web:\n    operators: S0OPS\n",
			[]Problem{{3, `release task "web": operators must be a list such as [S0LEADS, U0ALICE]`}},
		},
		{
			"principals with no value",
			"release_tasks:\n  web:\n    operators:\n",
			[]Problem{{3, `release task "web": operators has no value; list who, or write [] for nobody`}},
		},
		{
			"principal a nested list",
			"release_tasks:\n  web:\n    operators: [[U0AB]]\n",
			[]Problem{{3, `an entry of release task "web": operators must be a single value`}},
		},
		{
			"required approvals zero",
			"release_tasks:\n  web: {required_approvals: 0}\n",
			[]Problem{{2, `release task "web": required_approvals 0 is not between 1 and 20`}},
		},
		{
			"required approvals too many",
			"release_tasks:\n  web: {required_approvals: 21}\n",
			[]Problem{{2, `release task "web": required_approvals 21 is not between 1 and 20`}},
		},
		{
			"required approvals not a number",
			"release_tasks:\n  web: {required_approvals: two}\n",
			[]Problem{{2, `release task "web": required_approvals "two" is not a whole number`}},
		},
		{
			"required approvals a list",
			"release_tasks:\n  web: {required_approvals: [2]}\n",
			[]Problem{{2, `release task "web": required_approvals must be a single value, not a list or mapping`}},
		},
		{"freezes a mapping", "freezes:\n  name: x\n", []Problem{{2, `freezes must be a list; each entry starts with "- name: ..."`}}},
		{"freeze a string", "freezes:\n  - weekend\n", []Problem{{2, "a freeze must be a mapping of keys to values"}}},
		{
			"freeze without name and reason",
			"freezes:\n  - from: 2026-01-01T00:00:00Z\n    to: 2026-01-02T00:00:00Z\n",
			[]Problem{{2, "a freeze needs a name"}, {2, "a freeze needs a reason"}},
		},
		{
			"empty name and reason",
			"freezes:\n  - name: ' '\n    reason: ''\n    cron: 0 18 * * FRI\n    duration: 1h\n",
			[]Problem{{2, "a freeze's name is empty"}, {3, "a freeze: reason is empty"}},
		},
		{
			"reason with no value",
			"freezes:\n  - name: x\n    reason:\n    cron: 0 18 * * FRI\n    duration: 1h\n",
			[]Problem{{3, `freeze "x": reason has no value`}},
		},
		{
			"unknown freeze key",
			"freezes:\n  - name: x\n    reason: r\n    cron: 0 18 * * FRI\n    duration: 1h\n    timzone: UTC\n",
			[]Problem{{6, `unknown key "timzone" in a freeze (known: name, release_tasks, cron, duration, timezone, from, to, reason)`}},
		},
		{
			"freeze name twice",
			"freezes:\n  - {name: x, reason: r, cron: 0 18 * * FRI, duration: 1h}\n  - {name: x, reason: r, cron: 0 18 * * SAT, duration: 1h}\n",
			[]Problem{{3, `freeze "x" is given twice (first on line 2)`}},
		},
		{
			"both cron and from/to",
			"freezes:\n  - {name: x, reason: r, cron: 0 18 * * FRI, duration: 1h, from: 2026-01-01T00:00:00Z, to: 2026-01-02T00:00:00Z}\n",
			[]Problem{{2, `freeze "x" has both cron and from/to; give one`}},
		},
		{
			"neither cron nor from/to",
			"freezes:\n  - {name: x, reason: r}\n",
			[]Problem{{2, `freeze "x" needs cron with duration, or from and to`}},
		},
		{
			"cron without duration",
			"freezes:\n  - {name: x, reason: r, cron: 0 18 * * FRI}\n",
			[]Problem{{2, `freeze "x": a cron freeze needs a duration, such as 62h`}},
		},
		{
			"duration without cron",
			"freezes:\n  - name: x\n    reason: r\n    from: 2026-01-01T00:00:00Z\n    to: 2026-01-02T00:00:00Z\n    duration: 1h\n",
			[]Problem{{6, `freeze "x": duration goes with cron; a from/to freeze ends at to`}},
		},
		{
			"from without to",
			"freezes:\n  - {name: x, reason: r, from: 2026-01-01T00:00:00Z}\n",
			[]Problem{{2, `freeze "x" needs both from and to`}},
		},
		{
			"from not before to",
			"freezes:\n  - name: x\n    reason: r\n    from: 2026-01-02T00:00:00Z\n    to: 2026-01-02T01:00:00+01:00\n",
			[]Problem{{5, `freeze "x": from 2026-01-02T00:00:00Z is not before to 2026-01-02T01:00:00+01:00`}},
		},
		{
			"from not a time",
			"freezes:\n  - name: x\n    reason: r\n    from: next friday\n    to: 2026-01-02\n",
			[]Problem{
				{4, `freeze "x": from "next friday" is not a time such as 2026-11-27T00:00:00Z`},
				{5, `freeze "x": to "2026-01-02" is not a time such as 2026-11-27T00:00:00Z`},
			},
		},
		{
			"bad cron fields",
			"freezes:\n  - {name: x, reason: r, cron: 0 18 * * 7, duration: 1h}\n",
			[]Problem{{2, `freeze "x": cron "0 18 * * 7" is not five cron fields (minute hour day-of-month month day-of-week): end of range (7) above maximum (6): 7`}},
		},
		{
			"six cron fields",
			"freezes:\n  - {name: x, reason: r, cron: 0 0 18 * * FRI, duration: 1h}\n",
			[]Problem{{2, `freeze "x": cron "0 0 18 * * FRI" is not five cron fields (minute hour day-of-month month day-of-week): expected exactly 5 fields, found 6: [0 0 18 * * FRI]`}},
		},
		{
			"cron descriptor",
			"freezes:\n  - {name: x, reason: r, cron: '@daily', duration: 1h}\n",
			[]Problem{{2, `freeze "x": cron "@daily" uses a descriptor; write the five fields instead (@daily is 0 0 * * *)`}},
		},
		{
			"cron with its own zone, without a space",
			"freezes:\n  - {name: x, reason: r, cron: 'TZ=UTC', duration: 1h}\n",
			[]Problem{{2, `freeze "x": cron "TZ=UTC" sets its own time zone; use timezone instead`}},
		},
		{
			"cron that never starts",
			"freezes:\n  - {name: x, reason: r, cron: 0 0 30 2 *, duration: 1h}\n",
			[]Problem{{2, `freeze "x": cron "0 0 30 2 *" never starts`}},
		},
		{
			"duration bad, short, long",
			"freezes:\n" +
				"  - {name: a, reason: r, cron: 0 18 * * FRI, duration: 2d}\n" +
				"  - {name: b, reason: r, cron: 0 18 * * FRI, duration: 999ms}\n" +
				"  - {name: c, reason: r, cron: 0 18 * * FRI, duration: 8785h}\n",
			[]Problem{
				{2, `freeze "a": duration "2d" is not a duration such as 90m or 62h`},
				{3, `freeze "b": duration 999ms is not between 1s and 8784h0m0s`},
				{4, `freeze "c": duration 8785h0m0s is not between 1s and 8784h0m0s`},
			},
		},
		{
			"time zones: unknown, Local, empty",
			"freezes:\n" +
				"  - {name: a, reason: r, cron: 0 18 * * FRI, duration: 1h, timezone: Europe/Berln}\n" +
				"  - {name: b, reason: r, cron: 0 18 * * FRI, duration: 1h, timezone: Local}\n" +
				"  - {name: c, reason: r, cron: 0 18 * * FRI, duration: 1h, timezone: ''}\n",
			[]Problem{
				{2, `freeze "a": unknown timezone "Europe/Berln" (IANA names such as Europe/Berlin or UTC)`},
				{3, `freeze "b": timezone "Local" is not an IANA time zone such as Europe/Berlin or UTC`},
				{4, `freeze "c": timezone "" is not an IANA time zone such as Europe/Berlin or UTC`},
			},
		},
		{
			"release tasks: empty, bad glob, not a list",
			"freezes:\n" +
				"  - {name: a, reason: r, cron: 0 18 * * FRI, duration: 1h, release_tasks: []}\n" +
				"  - {name: b, reason: r, cron: 0 18 * * FRI, duration: 1h, release_tasks: ['[']}\n" +
				"  - {name: c, reason: r, cron: 0 18 * * FRI, duration: 1h, release_tasks: web}\n",
			[]Problem{
				{2, `freeze "a": release_tasks is empty; leave it out to freeze every release task`},
				{3, `freeze "b": release task "[" is not a valid glob (path.Match syntax: *, ?, [a-z], \ to escape)`},
				{4, `freeze "c": release_tasks must be a list such as ["payments-*", web]`},
			},
		},
		{
			"a long value is clipped",
			"release_tasks:\n  web:\n    operators: [" + strings.Repeat("x", 100) + "]\n",
			[]Problem{{3, `release task "web": operators: "` + strings.Repeat("x", 64) + `…" ` + principal}},
		},
		{
			"every problem, in line order",
			"freezes:\n  - {name: x, reason: ''}\nrelease_tasks:\n  web: {required_approvals: 0}\nbogus: 1\n",
			[]Problem{
				{2, `freeze "x": reason is empty`},
				{2, `freeze "x" needs cron with duration, or from and to`},
				{4, `release task "web": required_approvals 0 is not between 1 and 20`},
				{5, `unknown key "bogus" in the policy file (known: release_tasks, freezes)`},
			},
		},
		{
			"a problem in an anchor is reported at the anchor for each use",
			"release_tasks:\n  web:\n    approvers: &a [bob]\n  api:\n    approvers: *a\n",
			[]Problem{{3, `release task "web": approvers: "bob" ` + principal}, {3, `release task "api": approvers: "bob" ` + principal}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.src))

			assert.Nil(t, p)
			assert.Equal(t, tt.want, problemsOf(t, err))
		})
	}
}

func TestErrorString(t *testing.T) {
	err := &Error{Problems: []Problem{{3, "a"}, {0, "b"}}}

	assert.EqualError(t, err, "invalid policy: line 3: a; b")
}

func mustZone(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(tb, err)
	return loc
}

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/policy"
)

// writePolicy writes a policy file for the test and returns its path and
// what it parses to.
func writePolicy(t *testing.T, src string) (string, *policy.Policy) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o600))
	pol, err := policy.Parse([]byte(src))
	require.NoError(t, err)
	return path, pol
}

func TestPolicyFile(t *testing.T) {
	path, want := writePolicy(t, "release_tasks:\n  'payments-*':\n    approvers: [S0PAYLEADS]\n")

	got, err := FromLookup(with(map[string]string{"RELEASEBOT_POLICY": " " + path + "\n"}))

	require.NoError(t, err)
	assert.Equal(t, path, got.PolicyFile)
	assert.Equal(t, want, got.Policy)
	rules, ok := got.Policy.RulesFor("payments-api")
	require.True(t, ok)
	assert.Equal(t, &Principals{Groups: []string{"S0PAYLEADS"}}, rules.Approvers)
}

func TestPolicyFileInvalid(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("release_tasks:\n  web:\n    approvers: [alice]\n    required_approvals: 0\nfreezes:\n  - {name: x, reason: r, cron: 0 18 * * FRI, duration: 1h, timezone: Mars/Olympus}\n"), 0o600))
	big := filepath.Join(dir, "big.yaml")
	require.NoError(t, os.WriteFile(big, []byte("# "+strings.Repeat("x", maxPolicySize)+"\n"), 0o600))
	tests := []struct {
		name string
		env  map[string]string
		want []Problem
	}{
		{
			"every bad line, with the file's name",
			map[string]string{"RELEASEBOT_POLICY": bad},
			[]Problem{
				{"RELEASEBOT_POLICY", "RELEASEBOT_POLICY: " + bad + `: line 3: release task "web": approvers: "alice" is not *, a user ID (U..., W...) or a user group ID (S...)`},
				{"RELEASEBOT_POLICY", "RELEASEBOT_POLICY: " + bad + `: line 4: release task "web": required_approvals 0 is not between 1 and 20`},
				{"RELEASEBOT_POLICY", "RELEASEBOT_POLICY: " + bad + `: line 6: freeze "x": unknown timezone "Mars/Olympus" (IANA names such as Europe/Berlin or UTC)`},
			},
		},
		{
			"missing file",
			map[string]string{"RELEASEBOT_POLICY": filepath.Join(dir, "nope.yaml")},
			[]Problem{{"RELEASEBOT_POLICY", "RELEASEBOT_POLICY: cannot read " + filepath.Join(dir, "nope.yaml") + ": no such file or directory"}},
		},
		{
			"a directory",
			map[string]string{"RELEASEBOT_POLICY": dir},
			[]Problem{{"RELEASEBOT_POLICY", "RELEASEBOT_POLICY: cannot read " + dir + ": is a directory"}},
		},
		{
			"too large",
			map[string]string{"RELEASEBOT_POLICY": big},
			[]Problem{{"RELEASEBOT_POLICY", "RELEASEBOT_POLICY: cannot read " + big + ": it is larger than 1024 KiB"}},
		},
		{
			"reported with the other variables, in table order",
			map[string]string{"RELEASEBOT_POLICY": bad, "RELEASEBOT_APPROVAL_DM": "yes", "RELEASEBOT_CONSOLE_URL": "console"},
			[]Problem{
				{"RELEASEBOT_APPROVAL_DM", `RELEASEBOT_APPROVAL_DM: "yes" is not true or false`},
				{"RELEASEBOT_POLICY", "RELEASEBOT_POLICY: " + bad + `: line 3: release task "web": approvers: "alice" is not *, a user ID (U..., W...) or a user group ID (S...)`},
				{"RELEASEBOT_POLICY", "RELEASEBOT_POLICY: " + bad + `: line 4: release task "web": required_approvals 0 is not between 1 and 20`},
				{"RELEASEBOT_POLICY", "RELEASEBOT_POLICY: " + bad + `: line 6: freeze "x": unknown timezone "Mars/Olympus" (IANA names such as Europe/Berlin or UTC)`},
				{"RELEASEBOT_CONSOLE_URL", `RELEASEBOT_CONSOLE_URL: "console" is not an absolute http(s) URL`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromLookup(with(tt.env))

			assert.Equal(t, Config{}, got)
			assert.Equal(t, tt.want, problemsOf(t, err))
		})
	}
}

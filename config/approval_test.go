package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestApprovalSettings covers the variables of SPEC §5 for reminders,
// escalation, deadlines and freeze overrides.
func TestApprovalSettings(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want func(*Config) // changes baseConfig into the expected Config
	}{
		{"defaults", nil, func(*Config) {}},
		{"blank values take defaults", map[string]string{"RELEASEBOT_APPROVAL_REMIND": " ", "RELEASEBOT_APPROVAL_TIMEOUT_ACTION": ""}, func(*Config) {}},
		{
			"reminders and deadline off",
			map[string]string{"RELEASEBOT_APPROVAL_REMIND": "0", "RELEASEBOT_APPROVAL_TIMEOUT": "0s"},
			func(c *Config) { c.ApprovalRemind, c.ApprovalTimeout = 0, 0 },
		},
		{
			"lower bounds",
			map[string]string{"RELEASEBOT_APPROVAL_REMIND": "1s", "RELEASEBOT_APPROVAL_REMINDERS": "0", "RELEASEBOT_APPROVAL_TIMEOUT": "1s"},
			func(c *Config) {
				c.ApprovalRemind, c.ApprovalReminders, c.ApprovalTimeout = time.Second, 0, time.Second
			},
		},
		{
			"upper bounds",
			map[string]string{"RELEASEBOT_APPROVAL_REMIND": "168h", "RELEASEBOT_APPROVAL_REMINDERS": "100", "RELEASEBOT_APPROVAL_TIMEOUT": "720h"},
			func(c *Config) {
				c.ApprovalRemind, c.ApprovalReminders, c.ApprovalTimeout = 168*time.Hour, 100, 720*time.Hour
			},
		},
		{
			"refuse at the deadline, any case",
			map[string]string{"RELEASEBOT_APPROVAL_TIMEOUT_ACTION": "Refuse"},
			func(c *Config) { c.ApprovalTimeoutAction = TimeoutRefuse },
		},
		{"direct messages", map[string]string{"RELEASEBOT_APPROVAL_DM": "1"}, func(c *Config) { c.ApprovalDM = true }},
		{
			"escalation and overriders are principals",
			map[string]string{"RELEASEBOT_APPROVAL_ESCALATE_TO": "S0SRE, U0LEAD", "RELEASEBOT_FREEZE_OVERRIDERS": "*"},
			func(c *Config) {
				c.ApprovalEscalateTo = Principals{Users: []string{"U0LEAD"}, Groups: []string{"S0SRE"}}
				c.FreezeOverriders = Principals{All: true}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromLookup(with(tt.env))

			require.NoError(t, err)
			want := baseConfig()
			tt.want(&want)
			assert.Equal(t, want, got)
		})
	}
}

func TestApprovalSettingsInvalid(t *testing.T) {
	const principal = `is not *, a user ID (U..., W...) or a user group ID (S...)`
	tests := []struct {
		name string
		env  map[string]string
		want []Problem
	}{
		{
			"remind not a duration",
			map[string]string{"RELEASEBOT_APPROVAL_REMIND": "30"},
			[]Problem{{"RELEASEBOT_APPROVAL_REMIND", `RELEASEBOT_APPROVAL_REMIND: "30" is not a duration`}},
		},
		{
			"remind too short",
			map[string]string{"RELEASEBOT_APPROVAL_REMIND": "500ms"},
			[]Problem{{"RELEASEBOT_APPROVAL_REMIND", `RELEASEBOT_APPROVAL_REMIND: 500ms is not 0 (off) or between 1s and 168h0m0s`}},
		},
		{
			"remind too long",
			map[string]string{"RELEASEBOT_APPROVAL_REMIND": "169h"},
			[]Problem{{"RELEASEBOT_APPROVAL_REMIND", `RELEASEBOT_APPROVAL_REMIND: 169h0m0s is not 0 (off) or between 1s and 168h0m0s`}},
		},
		{
			"remind negative",
			map[string]string{"RELEASEBOT_APPROVAL_REMIND": "-1m"},
			[]Problem{{"RELEASEBOT_APPROVAL_REMIND", `RELEASEBOT_APPROVAL_REMIND: -1m0s is not 0 (off) or between 1s and 168h0m0s`}},
		},
		{
			"reminders not a number",
			map[string]string{"RELEASEBOT_APPROVAL_REMINDERS": "three"},
			[]Problem{{"RELEASEBOT_APPROVAL_REMINDERS", `RELEASEBOT_APPROVAL_REMINDERS: "three" is not an integer`}},
		},
		{
			"reminders negative",
			map[string]string{"RELEASEBOT_APPROVAL_REMINDERS": "-1"},
			[]Problem{{"RELEASEBOT_APPROVAL_REMINDERS", `RELEASEBOT_APPROVAL_REMINDERS: -1 is not between 0 and 100`}},
		},
		{
			"reminders too many",
			map[string]string{"RELEASEBOT_APPROVAL_REMINDERS": "101"},
			[]Problem{{"RELEASEBOT_APPROVAL_REMINDERS", `RELEASEBOT_APPROVAL_REMINDERS: 101 is not between 0 and 100`}},
		},
		{
			"escalate to a name and a channel",
			map[string]string{"RELEASEBOT_APPROVAL_ESCALATE_TO": "sre,C0SRE"},
			[]Problem{
				{"RELEASEBOT_APPROVAL_ESCALATE_TO", `RELEASEBOT_APPROVAL_ESCALATE_TO: "sre" ` + principal},
				{"RELEASEBOT_APPROVAL_ESCALATE_TO", `RELEASEBOT_APPROVAL_ESCALATE_TO: "C0SRE" ` + principal},
			},
		},
		{
			"timeout too short",
			map[string]string{"RELEASEBOT_APPROVAL_TIMEOUT": "999ms"},
			[]Problem{{"RELEASEBOT_APPROVAL_TIMEOUT", `RELEASEBOT_APPROVAL_TIMEOUT: 999ms is not 0 (off) or between 1s and 720h0m0s`}},
		},
		{
			"timeout too long",
			map[string]string{"RELEASEBOT_APPROVAL_TIMEOUT": "721h"},
			[]Problem{{"RELEASEBOT_APPROVAL_TIMEOUT", `RELEASEBOT_APPROVAL_TIMEOUT: 721h0m0s is not 0 (off) or between 1s and 720h0m0s`}},
		},
		{
			"timeout in days",
			map[string]string{"RELEASEBOT_APPROVAL_TIMEOUT": "1d"},
			[]Problem{{"RELEASEBOT_APPROVAL_TIMEOUT", `RELEASEBOT_APPROVAL_TIMEOUT: "1d" is not a duration`}},
		},
		{
			"timeout action unknown",
			map[string]string{"RELEASEBOT_APPROVAL_TIMEOUT_ACTION": "approve"},
			[]Problem{{"RELEASEBOT_APPROVAL_TIMEOUT_ACTION", `RELEASEBOT_APPROVAL_TIMEOUT_ACTION: "approve" is not one of expire, refuse`}},
		},
		{
			"DM not a bool",
			map[string]string{"RELEASEBOT_APPROVAL_DM": "on"},
			[]Problem{{"RELEASEBOT_APPROVAL_DM", `RELEASEBOT_APPROVAL_DM: "on" is not true or false`}},
		},
		{
			"overrider is a name",
			map[string]string{"RELEASEBOT_FREEZE_OVERRIDERS": "U0CTO,bob"},
			[]Problem{{"RELEASEBOT_FREEZE_OVERRIDERS", `RELEASEBOT_FREEZE_OVERRIDERS: "bob" ` + principal}},
		},
		{
			"every problem, in table order",
			map[string]string{
				"RELEASEBOT_FREEZE_OVERRIDERS": "x", "RELEASEBOT_APPROVAL_REMIND": "x", "LOG_FORMAT": "x",
				"RELEASEBOT_APPROVAL_TIMEOUT": "x", "RELEASEBOT_APPROVAL_REMINDERS": "x",
			},
			[]Problem{
				{"LOG_FORMAT", `LOG_FORMAT: "x" is not one of json, console`},
				{"RELEASEBOT_APPROVAL_REMIND", `RELEASEBOT_APPROVAL_REMIND: "x" is not a duration`},
				{"RELEASEBOT_APPROVAL_REMINDERS", `RELEASEBOT_APPROVAL_REMINDERS: "x" is not an integer`},
				{"RELEASEBOT_APPROVAL_TIMEOUT", `RELEASEBOT_APPROVAL_TIMEOUT: "x" is not a duration`},
				{"RELEASEBOT_FREEZE_OVERRIDERS", `RELEASEBOT_FREEZE_OVERRIDERS: "x" ` + principal},
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

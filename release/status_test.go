package release_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/releasebot/releasebot/release"
)

func TestStatus(t *testing.T) {
	cases := []struct {
		status                   release.Status
		word, label              string
		known, finished, waiting bool
	}{
		{release.StatusInitialized, "Initialized", "Initialized (1)", true, false, false},
		{release.StatusReleased, "Released", "Released (2)", true, true, false},
		{release.StatusFailed, "Release failed", "Release failed (3)", true, true, false},
		{release.StatusReleasing, "Releasing", "Releasing (4)", true, false, false},
		{release.StatusAwaitingApproval, "Awaiting approval", "Awaiting approval (5)", true, false, true},
		{release.StatusPaused, "Paused", "Paused (7)", true, false, true},
		{release.StatusSkipped, "Skipped", "Skipped (9)", true, false, false},
		{release.StatusRollingBack, "Rolling back", "Rolling back (10)", true, false, false},
		{release.StatusRolledBack, "Rolled back", "Rolled back (11)", true, true, false},
		{release.StatusRollbackFailed, "Rollback failed", "Rollback failed (12)", true, true, false},
		{release.StatusStopping, "Stopping", "Stopping (13)", true, false, false},
		{release.StatusRestarting, "Restarting", "Restarting (14)", true, false, false},
		{0, "status 0", "status 0", false, false, false},
		{6, "status 6", "status 6", false, false, false},
		{8, "status 8", "status 8", false, false, false},
		{15, "status 15", "status 15", false, false, false},
		{-1, "status -1", "status -1", false, false, false},
	}
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			assert.Equal(t, c.word, c.status.String(), "String")
			assert.Equal(t, c.label, c.status.Label(), "Label")
			assert.Equal(t, c.known, c.status.Known(), "Known")
			assert.Equal(t, c.finished, c.status.Finished(), "Finished")
			assert.Equal(t, c.waiting, c.status.AwaitingPerson(), "AwaitingPerson")
		})
	}
}

func TestDecision(t *testing.T) {
	cases := []struct {
		decision release.Decision
		upstream bool
		word     string
	}{
		{release.Agree, true, "approved"},
		{release.Refuse, true, "refused"},
		{release.Closed, false, "closed"},
		{release.Superseded, false, "superseded"},
		{release.TimedOut, false, "timed out"},
		{"", false, ""},
	}
	for _, c := range cases {
		t.Run(string(c.decision), func(t *testing.T) {
			assert.Equal(t, c.upstream, c.decision.Upstream(), "Upstream")
			assert.Equal(t, c.word, c.decision.Word(), "Word")
		})
	}
}

func TestAction(t *testing.T) {
	cases := []struct {
		action      release.Action
		valid, runs bool
	}{
		{release.ActionStart, true, true},
		{release.ActionContinue, true, true},
		{release.ActionRetry, true, true},
		{release.ActionStop, true, false},
		{release.ActionRollback, true, false},
		{release.ActionApproval, true, false},
		{"restart", false, false},
		{"", false, false},
	}
	for _, c := range cases {
		t.Run(string(c.action), func(t *testing.T) {
			assert.Equal(t, c.valid, c.action.Valid(), "Valid")
			assert.Equal(t, c.runs, c.action.Runs(), "Runs")
		})
	}
}

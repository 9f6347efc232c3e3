package release_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/releasebot/releasebot/release"
)

func TestDue(t *testing.T) {
	asked := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	every := release.Schedule{Every: 30 * time.Minute, Reminders: 2}
	tests := []struct {
		name      string
		p         release.Prompt
		now       time.Time
		s         release.Schedule
		want      release.Nudge
		wantCount int
	}{
		{"not yet", release.Prompt{}, asked.Add(29 * time.Minute), every, release.NoNudge, 0},
		{"first reminder", release.Prompt{}, asked.Add(30 * time.Minute), every, release.Remind, 1},
		{"first sent, second not due", release.Prompt{Reminders: 1}, asked.Add(59 * time.Minute), every, release.NoNudge, 1},
		{"second reminder", release.Prompt{Reminders: 1}, asked.Add(60 * time.Minute), every, release.Remind, 2},
		{"behind schedule: one at a time", release.Prompt{}, asked.Add(5 * time.Hour), every, release.Remind, 1},
		{"last reminder sent, escalation not due", release.Prompt{Reminders: 2}, asked.Add(89 * time.Minute), every, release.NoNudge, 2},
		{"escalation", release.Prompt{Reminders: 2}, asked.Add(90 * time.Minute), every, release.Escalate, 2},
		{"escalated: nothing more", release.Prompt{Reminders: 2, Escalated: true}, asked.Add(10 * time.Hour), every, release.NoNudge, 2},
		{"reminders off", release.Prompt{}, asked.Add(10 * time.Hour), release.Schedule{}, release.NoNudge, 0},
		{"no reminders, then escalation", release.Prompt{}, asked.Add(30 * time.Minute), release.Schedule{Every: 30 * time.Minute}, release.Escalate, 0},
		{"deadline", release.Prompt{Deadline: asked.Add(time.Hour)}, asked.Add(time.Hour), every, release.Expire, 0},
		{"deadline also after escalation", release.Prompt{Escalated: true, Deadline: asked.Add(time.Hour)}, asked.Add(2 * time.Hour), every, release.Expire, 0},
		{"being decided: wait", release.Prompt{Deciding: "U1", Deadline: asked.Add(time.Hour)}, asked.Add(2 * time.Hour), every, release.NoNudge, 0},
		{"decided: nothing", release.Prompt{Decision: release.Agree, Deadline: asked.Add(time.Hour)}, asked.Add(2 * time.Hour), every, release.NoNudge, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.p.AskedAt = asked
			got, count := tt.p.Due(tt.now, tt.s)
			assert.Equal(t, tt.want, got, "nudge")
			assert.Equal(t, tt.wantCount, count, "reminder count")
		})
	}
}

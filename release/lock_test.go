package release_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/release"
)

var lockNow = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

func lockOn(id, target, holder string, until time.Duration) release.Lock {
	return release.Lock{ID: id, Target: target, Holder: holder, CreatedAt: lockNow.Add(-time.Hour), Until: lockNow.Add(until)}
}

func TestBlocking(t *testing.T) {
	ended := lockOn("ended", "P1", "U0BOB", time.Hour)
	ended.EndedAt, ended.EndedBy = lockNow.Add(-time.Minute), "U0BOB"
	tests := []struct {
		name   string
		locks  []release.Lock
		task   string
		user   string
		wantID string // "" means not blocked
	}{
		{"no locks", nil, "P1", "U0ALICE", ""},
		{"someone else's lock on it", []release.Lock{lockOn("a", "P1", "U0BOB", time.Hour)}, "P1", "U0ALICE", "a"},
		{"the holder is not blocked", []release.Lock{lockOn("a", "P1", "U0ALICE", time.Hour)}, "P1", "U0ALICE", ""},
		{"a lock on another release task", []release.Lock{lockOn("a", "P2", "U0BOB", time.Hour)}, "P1", "U0ALICE", ""},
		{"an all lock", []release.Lock{lockOn("all", release.AllTasks, "U0BOB", time.Hour)}, "P1", "U0ALICE", "all"},
		{"one's own all lock does not lift another's", []release.Lock{
			lockOn("all", release.AllTasks, "U0ALICE", time.Hour), lockOn("a", "P1", "U0BOB", time.Hour)}, "P1", "U0ALICE", "a"},
		{"the release task's own lock is named first", []release.Lock{
			lockOn("all", release.AllTasks, "U0BOB", time.Hour), lockOn("a", "P1", "U0CAROL", time.Hour)}, "P1", "U0ALICE", "a"},
		{"expired at its time", []release.Lock{lockOn("a", "P1", "U0BOB", 0)}, "P1", "U0ALICE", ""},
		{"a second before its time", []release.Lock{lockOn("a", "P1", "U0BOB", time.Second)}, "P1", "U0ALICE", "a"},
		{"ended by its holder", []release.Lock{ended}, "P1", "U0ALICE", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, blocked := release.Blocking(tt.locks, tt.task, tt.user, lockNow)
			assert.Equal(t, tt.wantID != "", blocked, "blocked")
			assert.Equal(t, tt.wantID, got.ID, "blocking lock")
		})
	}
}

func TestConflicting(t *testing.T) {
	taskLock := lockOn("a", "P1", "U0BOB", time.Hour)
	allLock := lockOn("all", release.AllTasks, "U0BOB", time.Hour)
	tests := []struct {
		name   string
		locks  []release.Lock
		target string
		wantID string
	}{
		{"all over someone's task lock", []release.Lock{taskLock}, release.AllTasks, ""},
		{"all over someone's all lock", []release.Lock{allLock}, release.AllTasks, "all"},
		{"a task under someone's all lock", []release.Lock{allLock}, "P1", "all"},
		{"a task someone holds", []release.Lock{taskLock}, "P1", "a"},
		{"another task", []release.Lock{taskLock}, "P2", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := release.Conflicting(tt.locks, tt.target, "U0ALICE", lockNow)
			assert.Equal(t, tt.wantID, got.ID)
		})
	}
}

func TestLockFor(t *testing.T) {
	tests := []struct {
		name    string
		in      time.Duration
		want    time.Duration
		wantErr string
	}{
		{"default", 0, 2 * time.Hour, ""},
		{"a second", time.Second, time.Second, ""},
		{"seven days", 7 * 24 * time.Hour, 7 * 24 * time.Hour, ""},
		{"too short", 500 * time.Millisecond, 0, "less than a second"},
		{"too long", 7*24*time.Hour + time.Second, 0, "more than 7 days"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := release.LockFor(tt.in)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, release.ErrLockFor)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"90m", 90 * time.Minute, false},
		{"36h", 36 * time.Hour, false},
		{"2d", 48 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"1h30m", 90 * time.Minute, false},
		{"2s", 2 * time.Second, false},
		{"", 0, true},
		{"d", 0, true},
		{"-1h", 0, true},
		{"2 days", 0, true},
		{"1d-1h", 0, true},
		{"tomorrow", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := release.ParseDuration(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestFormatDuration(t *testing.T) {
	assert.Equal(t, "2d", release.FormatDuration(48*time.Hour))
	assert.Equal(t, "1d12h0m0s", release.FormatDuration(36*time.Hour))
	assert.Equal(t, "1h30m0s", release.FormatDuration(90*time.Minute))
}

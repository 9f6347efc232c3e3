package handlers

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/bot"
	"github.com/releasebot/releasebot/config"
	"github.com/releasebot/releasebot/policy"
	"github.com/releasebot/releasebot/release"
	"github.com/releasebot/releasebot/store"
	"github.com/releasebot/releasebot/store/storetest"
)

// oneTask lists one release task and accepts every action.
type oneTask struct{ operations atomic.Int32 }

var guardTask = api.ReleaseTask{ID: "0123456789abcdef0123456789abcdef", Name: "web-frontend"}

func (*oneTask) ListReleaseTasks(context.Context) ([]api.ReleaseTask, error) {
	return []api.ReleaseTask{guardTask}, nil
}
func (*oneTask) ListRecords(context.Context, string) ([]api.Record, error) { return nil, nil }
func (*oneTask) GetReleaseTask(context.Context, string) (*api.ReleaseTaskDetail, error) {
	return &api.ReleaseTaskDetail{}, nil
}
func (o *oneTask) Operate(context.Context, string, release.Action, *api.OperateOptions) (*api.Execution, error) {
	o.operations.Add(1)
	return &api.Execution{ID: "E1", Status: release.StatusReleasing}, nil
}

// textSlack keeps the text of every private reply.
type textSlack struct {
	countingSlack
	mu      sync.Mutex
	private []string
	posted  []bot.Message
}

func (s *textSlack) Post(ctx context.Context, channel string, m bot.Message) (string, error) {
	s.mu.Lock()
	s.posted = append(s.posted, m)
	s.mu.Unlock()
	return s.countingSlack.Post(ctx, channel, m)
}

func (s *textSlack) PostEphemeral(ctx context.Context, channel, user string, m bot.Message) error {
	s.mu.Lock()
	s.private = append(s.private, m.Text)
	s.mu.Unlock()
	return s.countingSlack.PostEphemeral(ctx, channel, user, m)
}

func (s *textSlack) last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.private) == 0 {
		return ""
	}
	return s.private[len(s.private)-1]
}

// guardRouter is a Router on SQLite whose clock the test sets.
func guardRouter(t *testing.T, pol *policy.Policy, now *time.Time, d Deps) (*Router, *oneTask, *textSlack) {
	t.Helper()
	db, err := store.Open(context.Background(), "sqlite", storetest.DSN(t, "sqlite"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	rel, sl := &oneTask{}, &textSlack{}
	everyone := config.Principals{All: true}
	d.Log, d.Releases, d.Slack, d.Prompts, d.Confirmations, d.Audit, d.Expiring = zerolog.Nop(), rel, sl, db, db, db, db
	d.Operators, d.Approvers, d.FreezeOverriders, d.Locks, d.Policy, d.Now = everyone, everyone, everyone, db, pol, func() time.Time { return *now }
	if d.Exports == nil {
		d.Exports = db
	}
	return New(d), rel, sl
}

// TestCronFreezeInItsZone: a weekend freeze in Berlin, from Friday 18:00 to
// Monday 08:00 local time, seen from UTC with an injected clock.
func TestCronFreezeInItsZone(t *testing.T) {
	pol, err := policy.Parse([]byte(`freezes:
  - name: weekend
    release_tasks: ["web-*"]
    cron: "0 18 * * FRI"
    duration: 62h
    timezone: Europe/Berlin
    reason: No releases over the weekend
`))
	require.NoError(t, err)
	tests := []struct {
		name   string
		now    time.Time
		frozen bool
	}{
		{"Friday 17:59 in Berlin", time.Date(2026, 11, 27, 16, 59, 0, 0, time.UTC), false},
		{"Friday 18:00 in Berlin", time.Date(2026, 11, 27, 17, 0, 0, 0, time.UTC), true},
		{"Sunday", time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC), true},
		{"Monday 07:59 in Berlin", time.Date(2026, 11, 30, 6, 59, 0, 0, time.UTC), true},
		{"Monday 08:00 in Berlin", time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC), false},
		{"summer time: Friday 18:00 in Berlin is 16:00 UTC", time.Date(2026, 7, 3, 16, 0, 0, 0, time.UTC), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			rt, rel, sl := guardRouter(t, pol, &now, Deps{})
			rt.HandleCommand(context.Background(), bot.Command{UserID: "U0ALICE", ChannelID: "C0REL", Text: "start web-frontend"})
			if !tt.frozen {
				assert.Equal(t, int32(1), rel.operations.Load(), "started; private replies: %q", sl.private)
				return
			}
			assert.Zero(t, rel.operations.Load(), "nothing is sent during a freeze")
			assert.Contains(t, sl.last(), "weekend")
			rt.HandleCommand(context.Background(), bot.Command{UserID: "U0ALICE", ChannelID: "C0REL", Text: "stop web-frontend"})
			assert.Equal(t, 1, sl.posts, "stop is not frozen: its confirmation is posted")
		})
	}
}

// countOnly claims a huge audit log and fails the test if it is read.
type countOnly struct{ n int }

func (c countOnly) CountAudit(context.Context, string, time.Time) (int, error) { return c.n, nil }
func (c countOnly) AuditSince(context.Context, string, time.Time, int) ([]release.AuditEntry, error) {
	panic("a refused export reads no entries")
}

type noFiles struct{ uploads int }

func (f *noFiles) UploadPrivate(context.Context, string, string, string, []byte) error {
	f.uploads++
	return nil
}

func TestExportTooLarge(t *testing.T) {
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	files := &noFiles{}
	rt, _, sl := guardRouter(t, nil, &now, Deps{Exports: countOnly{MaxExportRows + 1}, Files: files})
	rt.HandleCommand(context.Background(), bot.Command{UserID: "U0ALICE", ChannelID: "C0REL", Text: "audit export"})
	assert.Contains(t, sl.last(), "100001 rows")
	assert.Zero(t, files.uploads)
}

func TestAuditCSV(t *testing.T) {
	hostile := release.AuditEntry{At: time.Date(2026, 11, 29, 11, 0, 0, 0, time.FixedZone("CET", 3600)), User: "=cmd|' /C calc'!A0",
		Channel: "+C1", Verb: "-verb", TaskName: `say "hi", then`, PipelineID: "@SUM(A1)", Execution: "line1\nline2\r\n",
		Sent: "<!channel>", Outcome: "bad \xff byte"}
	data, err := auditCSV([]release.AuditEntry{hostile, {At: hostile.At, User: "U0ALICE", Verb: "start", Outcome: "ok"}})
	require.NoError(t, err)
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3)
	assert.Equal(t, exportHeader, rows[0])
	assert.Equal(t, []string{"2026-11-29T10:00:00Z", "'=cmd|' /C calc'!A0", "'+C1", "'-verb", `say "hi", then`, "'@SUM(A1)",
		"line1\nline2\n", "<!channel>", "bad \uFFFD byte"}, rows[1], "csv.Reader reads \\r\\n in a quoted field as \\n")
	assert.Equal(t, []string{"2026-11-29T10:00:00Z", "U0ALICE", "", "start", "", "", "", "", "ok"}, rows[2])
	assert.True(t, strings.HasSuffix(string(data), "\r\n"), "RFC 4180 line breaks")
}

// TestGuardButtonsAreTheirOwn: a break confirmation's ID on the buttons of
// stop and rollback or of an override is unknown to them, so no button can
// do another's work; on its own button it breaks the lock.
func TestGuardButtonsAreTheirOwn(t *testing.T) {
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	rt, rel, sl := guardRouter(t, nil, &now, Deps{})
	ctx := context.Background()
	rt.HandleCommand(ctx, bot.Command{UserID: "U0BOB", ChannelID: "C0REL", Text: "lock web-frontend maintenance"})
	rt.HandleCommand(ctx, bot.Command{UserID: "U0ALICE", ChannelID: "C0REL", Text: "unlock web-frontend"})
	require.Len(t, sl.posted, 2, "the lock and the confirmation to break it")
	id := buttonOf(t, sl.posted[1], actionBreakConfirm)
	for _, action := range []string{actionConfirm, actionOverrideConfirm} {
		rt.HandleAction(ctx, bot.Action{ActionID: action, Value: id, UserID: "U0ALICE", ChannelID: "C0REL"})
		assert.Contains(t, sl.last(), "unknown", action)
	}
	rt.HandleCommand(ctx, bot.Command{UserID: "U0ALICE", ChannelID: "C0REL", Text: "start web-frontend"})
	assert.Contains(t, sl.last(), "web-frontend is locked by U0BOB until 2026-11-29 12:00 UTC: maintenance")
	assert.Zero(t, rel.operations.Load())

	rt.HandleAction(ctx, bot.Action{ActionID: actionBreakConfirm, Value: id, UserID: "U0ALICE", ChannelID: "C0REL"})
	require.Len(t, sl.posted, 3)
	assert.Contains(t, sl.posted[2].Text, "<@U0ALICE> broke <@U0BOB>'s lock on web-frontend")
	rt.HandleCommand(ctx, bot.Command{UserID: "U0ALICE", ChannelID: "C0REL", Text: "start web-frontend"})
	assert.Equal(t, int32(1), rel.operations.Load())
}

func buttonOf(t *testing.T, m bot.Message, actionID string) string {
	t.Helper()
	for _, b := range m.Blocks {
		if ab, ok := b.(*slack.ActionBlock); ok {
			for _, e := range ab.Elements.ElementSet {
				if btn, ok := e.(*slack.ButtonBlockElement); ok && btn.ActionID == actionID {
					return btn.Value
				}
			}
		}
	}
	t.Fatalf("no button %s", actionID)
	return ""
}

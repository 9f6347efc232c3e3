package poller

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/release"
)

// Cases where a poll that reads only the executions that can need work could
// miss one for good: each passed before that change and failed after it,
// until fixed (found by review).

// tenStillAndA follows an execution of each of ten release tasks that do not
// move, so that polls are never empty, and A of p1, releasing since an hour
// ago, listed at 4.
func tenStillAndA(t *testing.T) (context.Context, Store, time.Time, *countingReleases) {
	t.Helper()
	ctx, db, now := followSetup(t)
	rel := &countingReleases{records: map[string][]api.Record{}}
	for i := range 10 {
		id := fmt.Sprintf("still-%d", i)
		rel.tasks = append(rel.tasks, api.ReleaseTask{ID: id, Name: id, Status: release.StatusReleasing, LastTriggerAt: now.Add(-time.Hour)})
		require.NoError(t, db.Follow(ctx, release.Followed{PipelineID: id, ExecutionID: "x", TaskName: id, Channel: "C1", TS: "1.1",
			Status: release.StatusReleasing, CreatedAt: now.Add(-time.Hour)}))
	}
	rel.tasks = append(rel.tasks, api.ReleaseTask{ID: "p1", Name: "p1", Status: release.StatusReleasing, LastTriggerAt: now.Add(-time.Hour)})
	require.NoError(t, db.Follow(ctx, release.Followed{PipelineID: "p1", ExecutionID: "A", TaskName: "p1", Channel: "C1", TS: "1.1",
		Status: release.StatusReleasing, CreatedAt: now.Add(-time.Hour)}))
	return ctx, db, now, rel
}

// p1 is p1's entry in the list.
func p1(rel *countingReleases) *api.ReleaseTask { return &rel.tasks[len(rel.tasks)-1] }

// statusOf returns the recorded status of p1's execution id, 0 once it is
// no longer followed.
func statusOf(t *testing.T, db Store, id string) release.Status {
	t.Helper()
	all, err := db.Active(context.Background())
	require.NoError(t, err)
	for _, f := range all {
		if f.PipelineID == "p1" && f.ExecutionID == id {
			return f.Status
		}
	}
	return 0 // no longer followed
}

// A newer run B replaced A in the list; A is still stopping. After the
// poll that records A's move to 13, the list no longer changes (B runs on),
// so A's finish must be found through its records, as before the change.
func TestAnOlderRunIsFollowedToItsEndAfterAnAdvance(t *testing.T) {
	ctx, db, now, rel := tenStillAndA(t)
	rep := &countingReporter{}
	rt := newPoller(db, rel, rep, "a", &now)
	require.NoError(t, rt.Poll(ctx)) // first sight: A's TriggerAt is p1's LastTriggerAt

	now = now.Add(time.Second)
	p1(rel).LastTriggerAt = now // B started; the list shows B, at 4
	rel.records["p1"] = []api.Record{{ID: "B", Status: release.StatusReleasing}, {ID: "A", Status: release.StatusStopping}}
	require.NoError(t, rt.Poll(ctx))
	require.Equal(t, release.StatusStopping, statusOf(t, db, "A"))
	require.Equal(t, 1, rep.updates)

	rel.records["p1"] = []api.Record{{ID: "B", Status: release.StatusReleasing}, {ID: "A", Status: release.StatusFailed}}
	for range 3 {
		now = now.Add(time.Second)
		require.NoError(t, rt.Poll(ctx))
	}
	assert.Equal(t, 1, rep.posts, "A's end is replied to while B still runs")
	assert.Zero(t, statusOf(t, db, "A"), "A is no longer followed")
}

// The list moved ahead of the records: A is advanced to what its record
// says (5, prompt posted), which differs from the list (2). The records
// catch up, the list does not change again.
func TestRecordsBehindTheListAreReadAgainAfterAnAdvance(t *testing.T) {
	ctx, db, now, rel := tenStillAndA(t)
	rep := &countingReporter{}
	rt := newPoller(db, rel, rep, "a", &now)
	require.NoError(t, rt.Poll(ctx))

	now = now.Add(time.Second)
	p1(rel).Status = release.StatusReleased
	rel.records["p1"] = []api.Record{{ID: "A", Status: release.StatusAwaitingApproval}}
	require.NoError(t, rt.Poll(ctx))
	require.Equal(t, release.StatusAwaitingApproval, statusOf(t, db, "A"))

	rel.records["p1"] = []api.Record{{ID: "A", Status: release.StatusReleased}}
	for range 3 {
		now = now.Add(time.Second)
		require.NoError(t, rt.Poll(ctx))
	}
	assert.Zero(t, statusOf(t, db, "A"), "A's finish is recorded")
	assert.Equal(t, 2, rep.posts, "the prompt, then A's finish")
}

// Replica a polls, then stalls past its lease; b takes over, records A at
// 5, and dies before A leaves the gate. a's next lease: the list is what a
// last saw (A back at 4), but the database says 5.
func TestALeaseTakenAgainAfterItRanOutReadsEverything(t *testing.T) {
	ctx, db, now, rel := tenStillAndA(t)
	repA, repB := &countingReporter{}, &countingReporter{}
	a := newPoller(db, rel, repA, "a", &now)
	b := newPoller(db, rel, repB, "b", &now)
	require.NoError(t, a.Poll(ctx))

	now = now.Add(10 * time.Second) // a's lease (3 s) ran out; b takes over
	p1(rel).Status = release.StatusAwaitingApproval
	rel.records["p1"] = []api.Record{{ID: "A", Status: release.StatusAwaitingApproval}}
	require.NoError(t, b.Poll(ctx))
	require.Equal(t, release.StatusAwaitingApproval, statusOf(t, db, "A"))

	now = now.Add(10 * time.Second) // b died; approved in the console
	p1(rel).Status = release.StatusReleasing
	rel.records["p1"] = []api.Record{{ID: "A", Status: release.StatusReleasing}}
	for range 3 {
		require.NoError(t, a.Poll(ctx))
		now = now.Add(time.Second)
	}
	assert.Equal(t, release.StatusReleasing, statusOf(t, db, "A"), "a notices A left the gate")
}

// A follow whose commit comes more than recordLag+Interval after its
// created_at, once a poll already listed its run at the gate: the regular
// full read finds it, within fullReadEvery.
func TestAFollowRecordedLateIsFoundByTheFullRead(t *testing.T) {
	ctx, db, now, rel := tenStillAndA(t)
	rel.tasks = append(rel.tasks, api.ReleaseTask{ID: "p2", Name: "p2", Status: release.StatusAwaitingApproval, LastTriggerAt: now.Add(-time.Minute)})
	rel.records["p2"] = []api.Record{{ID: "Z", Status: release.StatusAwaitingApproval}}
	rep := &countingReporter{}
	rt := newPoller(db, rel, rep, "a", &now)
	require.NoError(t, rt.Poll(ctx))
	// The handler read its clock 45 s ago; its record commits only now.
	require.NoError(t, db.(interface {
		Follow(context.Context, release.Followed) error
	}).Follow(ctx, release.Followed{PipelineID: "p2", ExecutionID: "Z", TaskName: "p2", Channel: "C1", TS: "1.2",
		Status: release.StatusReleasing, CreatedAt: now.Add(-45 * time.Second)}))
	start := now
	for now.Sub(start) < fullReadEvery-time.Second {
		now = now.Add(time.Second)
		require.NoError(t, rt.Poll(ctx))
	}
	assert.Zero(t, rep.asks, "missed by the polls that read only what can need work")
	now = now.Add(time.Second)
	require.NoError(t, rt.Poll(ctx))
	assert.Equal(t, 1, rep.asks, "Z's automatic prompt is posted")
}

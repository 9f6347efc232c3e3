package poller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/release"
	"github.com/releasebot/releasebot/store"
	"github.com/releasebot/releasebot/store/storetest"
)

// countingReleases serves a fixed list and records, counting requests.
type countingReleases struct {
	mu      sync.Mutex
	tasks   []api.ReleaseTask
	records map[string][]api.Record
	listErr error
	readErr map[string]error // a release task whose records cannot be read
	lists   int
	reads   int
}

func (c *countingReleases) Operate(context.Context, string, release.Action, *api.OperateOptions) (*api.Execution, error) {
	return nil, errors.New("not in this test")
}

func (c *countingReleases) ListReleaseTasks(context.Context) ([]api.ReleaseTask, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lists++
	return append([]api.ReleaseTask(nil), c.tasks...), c.listErr
}

func (c *countingReleases) ListRecords(_ context.Context, id string) ([]api.Record, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	if err := c.readErr[id]; err != nil {
		return nil, err
	}
	return c.records[id], nil
}

func (c *countingReleases) GetReleaseTask(context.Context, string) (*api.ReleaseTaskDetail, error) {
	return &api.ReleaseTaskDetail{}, nil
}

// countingReporter counts what the poller shows.
type countingReporter struct {
	mu             sync.Mutex
	posts, updates int
	prompts        []release.Prompt
	nudges         []release.Nudge
}

func (r *countingReporter) count(posts, updates int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.posts += posts
	r.updates += updates
	return nil
}

func (r *countingReporter) Progress(context.Context, release.Followed, *api.Record) error {
	return r.count(0, 1)
}
func (r *countingReporter) Finished(context.Context, release.Followed, *api.Record) error {
	return r.count(1, 0)
}
func (r *countingReporter) FollowEnded(context.Context, release.Followed) error { return r.count(1, 0) }
func (r *countingReporter) AskApproval(context.Context, release.Followed, *api.Record) error {
	return r.count(1, 0)
}
func (r *countingReporter) HintContinue(context.Context, release.Followed) error {
	return r.count(1, 0)
}
func (r *countingReporter) WithdrawHints(context.Context, release.Followed) error { return nil }
func (r *countingReporter) Nudge(_ context.Context, p release.Prompt, n release.Nudge) error {
	r.mu.Lock()
	r.nudges = append(r.nudges, n)
	r.mu.Unlock()
	return r.count(1, 0)
}

func (r *countingReporter) LockExpired(context.Context, release.Lock) error { return r.count(1, 0) }
func (r *countingReporter) PromptChanged(_ context.Context, p release.Prompt, _ release.Reconciliation) error {
	r.mu.Lock()
	r.prompts = append(r.prompts, p)
	r.mu.Unlock()
	return r.count(0, 1)
}

// newPoller polls db through rel, reporting to rep, at the time *now says.
func newPoller(db Store, rel Releases, rep Reporter, owner string, now *time.Time) *Poller {
	return New(Config{Log: zerolog.Nop(), Releases: rel, Store: db, Reporter: rep, Announcer: rep.(Announcer), Interval: time.Second, Owner: owner,
		Now: func() time.Time { return *now }, ClaimHold: 40 * time.Second})
}

func TestFollowingCostsOneListPerPoll(t *testing.T) {
	for _, n := range []int{1, 10, 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			ctx := context.Background()
			db, err := store.Open(ctx, "sqlite", storetest.DSN(t, "sqlite"))
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, db.Close()) })
			now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
			rel := &countingReleases{records: map[string][]api.Record{}}
			for i := range n {
				id := fmt.Sprintf("pipeline-%03d", i)
				rel.tasks = append(rel.tasks, api.ReleaseTask{ID: id, Name: id, Status: release.StatusReleasing})
				require.NoError(t, db.Follow(ctx, release.Followed{PipelineID: id, ExecutionID: fmt.Sprint(i), TaskName: id,
					Channel: "C1", TS: "1.1", StartedBy: "U1", Status: release.StatusReleasing, CreatedAt: now}))
			}
			sl := &countingReporter{}
			rt := newPoller(db, rel, sl, "a", &now)

			require.NoError(t, rt.Poll(ctx))
			assert.Equal(t, 1, rel.lists, "one list for %d followed executions", n)
			assert.Equal(t, 0, rel.reads, "no records while nothing moved")
			assert.Zero(t, sl.posts+sl.updates)

			for i := range rel.tasks {
				rel.tasks[i].Status = release.StatusReleased
				rel.records[rel.tasks[i].ID] = []api.Record{{ID: fmt.Sprint(i), Status: release.StatusReleased}}
			}
			require.NoError(t, rt.Poll(ctx))
			assert.Equal(t, 2, rel.lists, "still one list per poll")
			assert.Equal(t, n, rel.reads, "records only for the release tasks that moved")
			assert.Equal(t, n, sl.updates, "each message edited once")
			assert.Equal(t, n, sl.posts, "each finish replied to once")

			require.NoError(t, rt.Poll(ctx))
			assert.Equal(t, 2, rel.lists, "nothing followed: no list at all")
		})
	}
}

func TestPollErrorsStayOutOfTheChannel(t *testing.T) {
	ctx, db, now := followSetup(t)
	require.NoError(t, db.Follow(ctx, release.Followed{PipelineID: "p1", ExecutionID: "1", TaskName: "p1", Channel: "C1", TS: "1.1",
		Status: release.StatusReleasing, CreatedAt: now}))
	rel := &countingReleases{listErr: &api.Error{StatusCode: 503}}
	sl := &countingReporter{}
	rt := newPoller(db, rel, sl, "a", &now)
	require.Error(t, rt.Poll(ctx))
	assert.Zero(t, sl.posts+sl.updates)
	active, err := db.Active(ctx)
	require.NoError(t, err)
	assert.Len(t, active, 1, "still followed")

	// After the bound, following ends with a note in the thread.
	rel.listErr = nil
	now = now.Add(release.FollowBound + time.Minute)
	require.NoError(t, rt.Poll(ctx))
	assert.Equal(t, 1, sl.posts)
	active, err = db.Active(ctx)
	require.NoError(t, err)
	assert.Empty(t, active)
}

func TestOnlyTheLeaseHolderPolls(t *testing.T) {
	ctx, db, now := followSetup(t)
	require.NoError(t, db.Follow(ctx, release.Followed{PipelineID: "p1", ExecutionID: "1", TaskName: "p1", Channel: "C1", TS: "1.1",
		Status: release.StatusReleasing, CreatedAt: now}))
	rel := &countingReleases{tasks: []api.ReleaseTask{{ID: "p1", Status: release.StatusReleasing}}}
	a := newPoller(db, rel, &countingReporter{}, "a", &now)
	b := newPoller(db, rel, &countingReporter{}, "b", &now)

	require.NoError(t, a.Poll(ctx))
	require.NoError(t, b.Poll(ctx))
	assert.Equal(t, 1, rel.lists, "b does not poll while a holds the lease")
	now = now.Add(10 * time.Second) // a died: its lease ran out
	require.NoError(t, b.Poll(ctx))
	assert.Equal(t, 2, rel.lists, "b takes over")
}

func TestFollowerNoticesAFinishBehindANewRun(t *testing.T) {
	ctx, db, now := followSetup(t)
	require.NoError(t, db.Follow(ctx, release.Followed{PipelineID: "p1", ExecutionID: "A", TaskName: "p1", Channel: "C1", TS: "1.1",
		Status: release.StatusReleasing, CreatedAt: now}))
	rel := &countingReleases{tasks: []api.ReleaseTask{{ID: "p1", Name: "p1", Status: release.StatusReleasing, LastTriggerAt: now}},
		records: map[string][]api.Record{}}
	sl := &countingReporter{}
	rt := newPoller(db, rel, sl, "a", &now)
	require.NoError(t, rt.Poll(ctx))
	assert.Zero(t, rel.reads)

	// A finished, and someone started B, which runs: the list still says 4.
	rel.tasks[0].LastTriggerAt = now.Add(time.Minute)
	rel.records["p1"] = []api.Record{{ID: "B", Status: release.StatusReleasing}, {ID: "A", Status: release.StatusReleased}}
	require.NoError(t, rt.Poll(ctx))
	assert.Equal(t, 1, rel.reads, "another run started: the records are read")
	assert.Equal(t, 1, sl.updates)
	assert.Equal(t, 1, sl.posts, "A's finish is replied to")
	active, err := db.Active(ctx)
	require.NoError(t, err)
	assert.Empty(t, active)
}

func TestFollowerActsOnceOnAChange(t *testing.T) {
	ctx, db, now := followSetup(t)
	fe := release.Followed{PipelineID: "p1", ExecutionID: "A", TaskName: "p1", Channel: "C1", TS: "1.1", Status: release.StatusReleasing, CreatedAt: now}
	require.NoError(t, db.Follow(ctx, fe))
	rel := &countingReleases{tasks: []api.ReleaseTask{{ID: "p1", Status: release.StatusReleased}},
		records: map[string][]api.Record{"p1": {{ID: "A", Status: release.StatusReleased}}}}
	sl := &countingReporter{}
	rt := newPoller(db, rel, sl, "a", &now)
	// Two pollers that both saw the execution at 4 (a lease that ran out
	// mid-poll): only the first records the change and posts.
	r1, r2 := rt.newRound(ctx, rel.tasks, now), rt.newRound(ctx, rel.tasks, now)
	r1.follow(ctx, fe)
	r2.follow(ctx, fe)
	assert.Equal(t, 1, sl.posts)
	assert.Equal(t, 1, sl.updates)
}

// followSetup opens a fresh SQLite store and picks the time of the test.
func followSetup(t *testing.T) (context.Context, *store.Store, time.Time) {
	t.Helper()
	db, err := store.Open(context.Background(), "sqlite", storetest.DSN(t, "sqlite"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return context.Background(), db, time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
}

func TestOneReleaseTaskWhoseReadsFailDelaysOnlyItself(t *testing.T) {
	ctx, db, now := followSetup(t)
	for _, id := range []string{"broken", "fine"} {
		require.NoError(t, db.Follow(ctx, release.Followed{PipelineID: id, ExecutionID: "1", TaskName: id, Channel: "C1", TS: "1.1",
			Status: release.StatusReleasing, CreatedAt: now}))
	}
	rel := &countingReleases{
		tasks:   []api.ReleaseTask{{ID: "broken", Status: release.StatusReleased}, {ID: "fine", Status: release.StatusReleased}},
		records: map[string][]api.Record{"fine": {{ID: "1", Status: release.StatusReleased}}},
		readErr: map[string]error{"broken": &api.Error{StatusCode: 403, Code: "SVCSTG.403"}},
	}
	rep := &countingReporter{}
	rt := newPoller(db, rel, rep, "a", &now)
	require.NoError(t, rt.Poll(ctx), "one release task's 403 is not the poll's failure")
	assert.Equal(t, 1, rep.posts, "the other release task's execution finished and was replied to")
	active, err := db.Active(ctx)
	require.NoError(t, err)
	require.Len(t, active, 1)
	assert.Equal(t, "broken", active[0].PipelineID, "still followed, tried again next poll")

	delete(rel.readErr, "broken")
	rel.records["broken"] = []api.Record{{ID: "1", Status: release.StatusReleased}}
	require.NoError(t, rt.Poll(ctx))
	assert.Equal(t, 2, rep.posts, "it catches up once its records can be read")
}

func TestRemindersAndDeadlinesCostNoUpstreamRequest(t *testing.T) {
	ctx, db, now := followSetup(t)
	const n = 1000
	rel := &countingReleases{tasks: []api.ReleaseTask{{ID: "p1", Name: "p1", Status: release.StatusAwaitingApproval}}}
	for i := range n {
		p := &release.Prompt{ID: fmt.Sprintf("PROMPT%04d", i), PipelineID: "p1", TaskName: "p1", ApprovalTask: fmt.Sprintf("gate-%d", i),
			ExecutionID: fmt.Sprint(i), Channel: "C1", TS: fmt.Sprintf("1.%d", i), AskedAt: now.Add(-40 * time.Minute), Required: 1}
		if i%2 == 1 {
			p.Deadline = now // half of them are due to time out
		}
		_, _, _, err := db.OpenPrompt(ctx, p)
		require.NoError(t, err)
	}
	rep := &countingReporter{}
	rt := newPoller(db, rel, rep, "a", &now)
	rt.cfg.Schedule = release.Schedule{Every: 30 * time.Minute, Reminders: 3}
	rt.seen["p1"] = rel.tasks[0] // the release task did not move since the last poll
	require.NoError(t, rt.Poll(ctx))
	assert.Equal(t, 1, rel.lists, "one list for %d prompts", n)
	assert.Zero(t, rel.reads, "no records read for a reminder or a deadline")
	assert.Len(t, rep.nudges, n, "every prompt had something due")

	require.NoError(t, rt.Poll(ctx))
	assert.Equal(t, 2, rel.lists)
	assert.Zero(t, rel.reads)
	assert.Len(t, rep.nudges, n+n/2, "the reminders went out once; the deadlines, which the reporter did not record, again")
}

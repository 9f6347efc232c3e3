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
	onList  func()           // runs once the list is read: a command meanwhile
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
	out := append([]api.ReleaseTask(nil), c.tasks...)
	if c.onList != nil {
		c.onList()
	}
	return out, c.listErr
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
	asks           int   // automatic prompts tried, posted or not
	askErr         error // an automatic prompt cannot be posted
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
	r.mu.Lock()
	r.asks++
	err := r.askErr
	r.mu.Unlock()
	if err != nil {
		return err
	}
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
	// This replica holds the lease and saw the release task as listed now:
	// it did not move since.
	rt.seen["p1"], rt.leased = rel.tasks[0], now.Add(time.Hour)
	require.NoError(t, rt.Poll(ctx))
	assert.Equal(t, 1, rel.lists, "one list for %d prompts", n)
	assert.Zero(t, rel.reads, "no records read for a reminder or a deadline")
	assert.Len(t, rep.nudges, n, "every prompt had something due")

	require.NoError(t, rt.Poll(ctx))
	assert.Equal(t, 2, rel.lists)
	assert.Zero(t, rel.reads)
	assert.Len(t, rep.nudges, n+n/2, "the reminders went out once; the deadlines, which the reporter did not record, again")
}

// countingStore counts the followed executions the poller reads.
type countingStore struct {
	*store.Store
	mu        sync.Mutex
	rows      int
	updateErr error // what UpdateFollowed fails with, if not nil
}

func (c *countingStore) UpdateFollowed(ctx context.Context, was release.Status, f release.Followed) (bool, error) {
	c.mu.Lock()
	err := c.updateErr
	c.mu.Unlock()
	if err != nil {
		return false, err
	}
	return c.Store.UpdateFollowed(ctx, was, f)
}

func (c *countingStore) counted(fs []release.Followed, err error) ([]release.Followed, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rows += len(fs)
	return fs, err
}

func (c *countingStore) Active(ctx context.Context) ([]release.Followed, error) {
	return c.counted(c.Store.Active(ctx))
}

func (c *countingStore) ActiveSince(ctx context.Context, since, bound time.Time) ([]release.Followed, error) {
	return c.counted(c.Store.ActiveSince(ctx, since, bound))
}

func (c *countingStore) ActiveOf(ctx context.Context, ids []string, before time.Time) ([]release.Followed, error) {
	return c.counted(c.Store.ActiveOf(ctx, ids, before))
}

// read returns how many followed executions were read since the last call.
func (c *countingStore) read() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.rows
	c.rows = 0
	return n
}

// gauge keeps what the poller last reported.
type gauge struct{ followed int }

func (g *gauge) Followed(n int) { g.followed = n }

// stillRunning follows n executions, spread over ten release tasks that
// neither move nor reach their FollowBound in the test, begun at created,
// and lists those release tasks in rel.
// oneAmongStill follows, since an hour ago, n executions whose release
// tasks do not move and execution A of p1, releasing.
func oneAmongStill(t *testing.T, n int) (context.Context, *store.Store, time.Time, *countingReleases) {
	t.Helper()
	ctx, db, now := followSetup(t)
	rel := &countingReleases{records: map[string][]api.Record{}}
	stillRunning(t, db, rel, n, now.Add(-time.Hour))
	rel.tasks = append(rel.tasks, api.ReleaseTask{ID: "p1", Name: "p1", Status: release.StatusReleasing, LastTriggerAt: now.Add(-time.Hour)})
	require.NoError(t, db.Follow(ctx, release.Followed{PipelineID: "p1", ExecutionID: "A", TaskName: "p1", Channel: "C1", TS: "1.1",
		Status: release.StatusReleasing, CreatedAt: now.Add(-time.Hour)}))
	return ctx, db, now, rel
}

func stillRunning(t *testing.T, db *store.Store, rel *countingReleases, n int, created time.Time) {
	t.Helper()
	for i := range 10 {
		id := fmt.Sprintf("running-%d", i)
		rel.tasks = append(rel.tasks, api.ReleaseTask{ID: id, Name: id, Status: release.StatusReleasing, LastTriggerAt: created})
	}
	for i := range n {
		id := fmt.Sprintf("running-%d", i%10)
		require.NoError(t, db.Follow(context.Background(), release.Followed{PipelineID: id, ExecutionID: fmt.Sprint(i), TaskName: id,
			Channel: "C1", TS: "1.1", Status: release.StatusReleasing, CreatedAt: created}))
	}
}

func TestPollReadsOnlyTheExecutionsThatCanNeedWork(t *testing.T) {
	const n = 1000
	ctx, db, now, rel := oneAmongStill(t, n)
	cs, rep, g := &countingStore{Store: db}, &countingReporter{}, &gauge{}
	rt := newPoller(cs, rel, rep, "a", &now)
	rt.cfg.Metrics = g

	require.NoError(t, rt.Poll(ctx))
	assert.Equal(t, n+1, cs.read(), "the first poll since taking the lease reads every execution followed")
	assert.Equal(t, n+1, g.followed)

	now = now.Add(time.Second)
	require.NoError(t, rt.Poll(ctx))
	assert.Zero(t, cs.read(), "nothing moved: no execution read")
	assert.Equal(t, n+1, g.followed, "the gauge counts every execution followed")
	assert.Equal(t, 2, rel.lists)

	now = now.Add(time.Second)
	rel.tasks[len(rel.tasks)-1].Status = release.StatusReleased
	rel.records["p1"] = []api.Record{{ID: "A", Status: release.StatusReleased}}
	require.NoError(t, rt.Poll(ctx))
	assert.Equal(t, 1, cs.read(), "only the execution of the release task that moved")
	assert.Equal(t, 1, rel.reads)
	assert.Equal(t, 1, rep.posts, "A's finish is replied to")

	now = now.Add(time.Second)
	require.NoError(t, rt.Poll(ctx))
	assert.Zero(t, cs.read())
	assert.Equal(t, n, g.followed)
}

func TestAFollowRecordedAfterTheListIsFirstSeenNextPoll(t *testing.T) {
	for _, tc := range []struct {
		name       string
		duringList bool          // A starts and is recorded while the poll reads the list, else after the poll
		begun      time.Duration // when A's follow began, from the poll's start
	}{
		{"recorded during a poll, once the list is read", true, 0},
		{"recorded after a poll that listed its run, begun before that poll", false, -20 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, db, now := followSetup(t)
			rel := &countingReleases{records: map[string][]api.Record{}}
			stillRunning(t, db, rel, 10, now.Add(-time.Hour))
			rel.tasks = append(rel.tasks, api.ReleaseTask{ID: "p1", Name: "p1", Status: release.StatusReleased, LastTriggerAt: now.Add(-time.Hour)})
			p1 := &rel.tasks[len(rel.tasks)-1]
			rep := &countingReporter{}
			rt := newPoller(db, rel, rep, "a", &now)
			require.NoError(t, rt.Poll(ctx))

			now = now.Add(time.Second)
			polled := now
			start := func() { p1.Status, p1.LastTriggerAt = release.StatusReleasing, polled }
			follow := func() {
				require.NoError(t, db.Follow(ctx, release.Followed{PipelineID: "p1", ExecutionID: "A", TaskName: "p1", Channel: "C1",
					TS: "1.1", Status: release.StatusReleasing, CreatedAt: polled.Add(tc.begun)}))
			}
			if tc.duringList {
				rel.onList = func() {
					start()
					follow()
					rel.onList = nil
				}
			} else {
				start()
			}
			require.NoError(t, rt.Poll(ctx))
			if !tc.duringList {
				follow()
			}
			now = now.Add(time.Second)
			require.NoError(t, rt.Poll(ctx))
			assert.Equal(t, polled, followed(t, db, "p1", "A").TriggerAt, "A is first seen with a list that shows its run")

			// A finished and someone started B, which runs: the list still
			// says 4, and A is read because p1 moved.
			now = now.Add(5 * time.Minute)
			p1.LastTriggerAt = now
			rel.records["p1"] = []api.Record{{ID: "B", Status: release.StatusReleasing}, {ID: "A", Status: release.StatusReleased}}
			require.NoError(t, rt.Poll(ctx))
			assert.Equal(t, 1, rep.posts, "A's finish is replied to")
		})
	}
}

// followed returns the followed execution pipelineID/executionID, still
// followed.
func followed(t *testing.T, db *store.Store, pipelineID, executionID string) release.Followed {
	t.Helper()
	active, err := db.Active(context.Background())
	require.NoError(t, err)
	for _, f := range active {
		if f.PipelineID == pipelineID && f.ExecutionID == executionID {
			return f
		}
	}
	require.Failf(t, "not followed", "%s/%s", pipelineID, executionID)
	return release.Followed{}
}

func TestFollowBoundEndsTheFollowsOfReleaseTasksThatDoNotMove(t *testing.T) {
	const n = 500
	ctx, db, now := followSetup(t)
	rel := &countingReleases{records: map[string][]api.Record{}}
	stillRunning(t, db, rel, n, now.Add(-time.Hour))
	require.NoError(t, db.Follow(ctx, release.Followed{PipelineID: "running-3", ExecutionID: "old", TaskName: "running-3", Channel: "C1",
		TS: "1.1", Status: release.StatusReleasing, CreatedAt: now.Add(-release.FollowBound + time.Second)}))
	cs, rep := &countingStore{Store: db}, &countingReporter{}
	rt := newPoller(cs, rel, rep, "a", &now)
	require.NoError(t, rt.Poll(ctx))
	assert.Equal(t, n+1, cs.read())
	assert.Zero(t, rep.posts)

	now = now.Add(2 * time.Second) // within the lease: nothing else polled
	require.NoError(t, rt.Poll(ctx))
	assert.Equal(t, 1, cs.read(), "only the follow past its bound")
	assert.Equal(t, 1, rep.posts, "its end is noted in the thread")
	n2, err := db.CountActive(ctx)
	require.NoError(t, err)
	assert.Equal(t, n, n2)
	assert.Zero(t, rel.reads)
}

func TestAnUnpromptedExecutionIsAskedAgainThoughNothingMoved(t *testing.T) {
	const n = 500
	ctx, db, now := followSetup(t)
	rel := &countingReleases{records: map[string][]api.Record{}}
	stillRunning(t, db, rel, n, now.Add(-time.Hour))
	rel.tasks = append(rel.tasks, api.ReleaseTask{ID: "p1", Name: "p1", Status: release.StatusAwaitingApproval, LastTriggerAt: now.Add(-time.Hour)})
	rel.records["p1"] = []api.Record{{ID: "A", Status: release.StatusAwaitingApproval}}
	// Followed at 5 with its prompt not posted, as another replica that
	// could not post it leaves it.
	require.NoError(t, db.Follow(ctx, release.Followed{PipelineID: "p1", ExecutionID: "A", TaskName: "p1", Channel: "C1", TS: "1.1",
		Status: release.StatusAwaitingApproval, CreatedAt: now.Add(-time.Hour)}))
	cs, rep := &countingStore{Store: db}, &countingReporter{}
	rt := newPoller(cs, rel, rep, "a", &now)
	// This replica polled a second ago and saw every release task as listed
	// now: none moved since.
	rt.polled, rt.fullAt, rt.leased = now.Add(-time.Second), now.Add(-time.Second), now.Add(time.Hour)
	for _, task := range rel.tasks {
		rt.seen[task.ID] = task
	}

	require.NoError(t, rt.Poll(ctx))
	assert.Equal(t, 1, cs.read(), "only the unprompted execution")
	assert.Equal(t, 1, rep.asks)
	assert.Equal(t, 1, rep.posts, "its prompt is posted")
	assert.True(t, followed(t, db, "p1", "A").Prompted)

	now = now.Add(time.Second)
	require.NoError(t, rt.Poll(ctx))
	assert.Zero(t, cs.read())
	assert.Equal(t, 1, rep.asks, "asked once")
}

func TestAPromptThatCouldNotBePostedIsTriedAgain(t *testing.T) {
	ctx, db, now, rel := oneAmongStill(t, 100)
	rep := &countingReporter{askErr: errors.New("slack is down")}
	rt := newPoller(db, rel, rep, "a", &now)
	require.NoError(t, rt.Poll(ctx))

	// A reaches the gate; posting its prompt fails twice, then works.
	rel.tasks[len(rel.tasks)-1].Status = release.StatusAwaitingApproval
	rel.records["p1"] = []api.Record{{ID: "A", Status: release.StatusAwaitingApproval}}
	for range 2 {
		now = now.Add(time.Minute)
		require.NoError(t, rt.Poll(ctx))
	}
	assert.Equal(t, 2, rep.asks)
	assert.Zero(t, rep.posts)
	rep.mu.Lock()
	rep.askErr = nil
	rep.mu.Unlock()
	for range 2 {
		now = now.Add(time.Minute)
		require.NoError(t, rt.Poll(ctx))
	}
	assert.Equal(t, 3, rep.asks, "asked until posted, then no more")
	assert.Equal(t, 1, rep.posts)
}

func TestRecordsBehindTheListAreReadAgain(t *testing.T) {
	ctx, db, now, rel := oneAmongStill(t, 100)
	cs, rep := &countingStore{Store: db}, &countingReporter{}
	rt := newPoller(cs, rel, rep, "a", &now)
	require.NoError(t, rt.Poll(ctx))
	cs.read()

	// The list says A waits at the gate; its records do not yet.
	rel.tasks[len(rel.tasks)-1].Status = release.StatusAwaitingApproval
	rel.records["p1"] = []api.Record{{ID: "A", Status: release.StatusReleasing}}
	now = now.Add(time.Second)
	require.NoError(t, rt.Poll(ctx))
	assert.Equal(t, 1, rel.reads)
	assert.Zero(t, rep.asks)

	rel.records["p1"] = []api.Record{{ID: "A", Status: release.StatusAwaitingApproval}}
	for range 2 {
		now = now.Add(time.Second)
		require.NoError(t, rt.Poll(ctx))
	}
	assert.Equal(t, 2, rel.reads, "read again once, although the list entry did not change again")
	assert.Equal(t, 1, rep.asks, "A's prompt is posted")
	assert.Equal(t, 2, cs.read(), "A, on the two polls after the list moved")
}

func TestAChangeThatCouldNotBeRecordedIsReadAgain(t *testing.T) {
	ctx, db, now, rel := oneAmongStill(t, 100)
	cs, rep := &countingStore{Store: db}, &countingReporter{}
	rt := newPoller(cs, rel, rep, "a", &now)
	require.NoError(t, rt.Poll(ctx))

	rel.tasks[len(rel.tasks)-1].Status = release.StatusReleased
	rel.records["p1"] = []api.Record{{ID: "A", Status: release.StatusReleased}}
	cs.updateErr = errors.New("database is locked")
	now = now.Add(time.Minute)
	require.NoError(t, rt.Poll(ctx), "one execution's trouble is not the poll's")
	assert.Zero(t, rep.posts+rep.updates)

	cs.updateErr = nil
	now = now.Add(time.Minute)
	require.NoError(t, rt.Poll(ctx))
	assert.Equal(t, 1, rep.posts, "A's finish is replied to, although the list did not change again")
	n, err := db.CountActive(ctx)
	require.NoError(t, err)
	assert.Equal(t, 100, n)
}

func TestAReleaseTaskBackInTheListCountsAsMoved(t *testing.T) {
	ctx, db, now := followSetup(t)
	rel := &countingReleases{records: map[string][]api.Record{}}
	stillRunning(t, db, rel, 100, now.Add(-time.Hour))
	cs := &countingStore{Store: db}
	rt := newPoller(cs, rel, &countingReporter{}, "a", &now)
	require.NoError(t, rt.Poll(ctx))
	cs.read()

	listed := rel.tasks
	rel.tasks = listed[1:]
	now = now.Add(time.Second)
	require.NoError(t, rt.Poll(ctx))
	assert.Zero(t, cs.read())
	assert.NotContains(t, rt.seen, listed[0].ID, "a release task that left the list is forgotten")

	rel.tasks = listed
	now = now.Add(time.Second)
	require.NoError(t, rt.Poll(ctx))
	assert.Equal(t, 10, cs.read(), "its executions are read when it is back")
	now = now.Add(time.Second)
	require.NoError(t, rt.Poll(ctx))
	assert.Zero(t, cs.read())
}

package handlers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/bot"
	"github.com/releasebot/releasebot/store"
	"github.com/releasebot/releasebot/store/storetest"
)

// countingReleases serves a fixed list and records, counting requests.
type countingReleases struct {
	mu      sync.Mutex
	tasks   []api.ReleaseTask
	records map[string][]api.Record
	listErr error
	lists   int
	reads   int
}

func (c *countingReleases) Operate(context.Context, string, api.Action, *api.OperateOptions) (*api.Execution, error) {
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
	return c.records[id], nil
}

func (c *countingReleases) GetReleaseTask(context.Context, string) (*api.ReleaseTaskDetail, error) {
	return &api.ReleaseTaskDetail{}, nil
}

// countingSlack counts what the handlers send.
type countingSlack struct {
	mu                        sync.Mutex
	posts, updates, privately int
	modals                    int
}

func (s *countingSlack) Post(context.Context, string, bot.Message) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.posts++
	return fmt.Sprintf("1700000000.%06d", s.posts), nil
}

func (s *countingSlack) PostEphemeral(context.Context, string, string, bot.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.privately++
	return nil
}

func (s *countingSlack) Update(context.Context, string, string, bot.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updates++
	return nil
}

func (s *countingSlack) OpenModal(context.Context, string, slack.ModalViewRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.modals++
	return nil
}

func (s *countingSlack) Respond(context.Context, string, bot.Message) error { return nil }

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
				rel.tasks = append(rel.tasks, api.ReleaseTask{ID: id, Name: id, Status: api.StatusReleasing})
				require.NoError(t, db.Follow(ctx, store.Followed{PipelineID: id, ExecutionID: fmt.Sprint(i), TaskName: id,
					Channel: "C1", TS: "1.1", StartedBy: "U1", Status: api.StatusReleasing, CreatedAt: now}))
			}
			sl := &countingSlack{}
			rt := New(Deps{Log: zerolog.Nop(), Releases: rel, Slack: sl, Store: db, PollInterval: time.Second,
				Now: func() time.Time { return now }})

			require.NoError(t, rt.Poll(ctx))
			assert.Equal(t, 1, rel.lists, "one list for %d followed executions", n)
			assert.Equal(t, 0, rel.reads, "no records while nothing moved")
			assert.Zero(t, sl.posts+sl.updates)

			for i := range rel.tasks {
				rel.tasks[i].Status = api.StatusReleased
				rel.records[rel.tasks[i].ID] = []api.Record{{ID: fmt.Sprint(i), Status: api.StatusReleased}}
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
	require.NoError(t, db.Follow(ctx, store.Followed{PipelineID: "p1", ExecutionID: "1", TaskName: "p1", Channel: "C1", TS: "1.1",
		Status: api.StatusReleasing, CreatedAt: now}))
	rel := &countingReleases{listErr: &api.Error{StatusCode: 503}}
	sl := &countingSlack{}
	rt := New(Deps{Log: zerolog.Nop(), Releases: rel, Slack: sl, Store: db, PollInterval: time.Second, Now: func() time.Time { return now }})
	require.Error(t, rt.Poll(ctx))
	assert.Zero(t, sl.posts+sl.updates)
	active, err := db.Active(ctx)
	require.NoError(t, err)
	assert.Len(t, active, 1, "still followed")

	// After the bound, following ends with a note in the thread.
	rel.listErr = nil
	now = now.Add(followBound + time.Minute)
	require.NoError(t, rt.Poll(ctx))
	assert.Equal(t, 1, sl.posts)
	active, err = db.Active(ctx)
	require.NoError(t, err)
	assert.Empty(t, active)
}

func TestOnlyTheLeaseHolderPolls(t *testing.T) {
	ctx, db, now := followSetup(t)
	require.NoError(t, db.Follow(ctx, store.Followed{PipelineID: "p1", ExecutionID: "1", TaskName: "p1", Channel: "C1", TS: "1.1",
		Status: api.StatusReleasing, CreatedAt: now}))
	rel := &countingReleases{tasks: []api.ReleaseTask{{ID: "p1", Status: api.StatusReleasing}}}
	clock := func() time.Time { return now }
	a := New(Deps{Log: zerolog.Nop(), Releases: rel, Slack: &countingSlack{}, Store: db, PollInterval: time.Second, Replica: "a", Now: clock})
	b := New(Deps{Log: zerolog.Nop(), Releases: rel, Slack: &countingSlack{}, Store: db, PollInterval: time.Second, Replica: "b", Now: clock})

	require.NoError(t, a.Poll(ctx))
	require.NoError(t, b.Poll(ctx))
	assert.Equal(t, 1, rel.lists, "b does not poll while a holds the lease")
	now = now.Add(10 * time.Second) // a died: its lease ran out
	require.NoError(t, b.Poll(ctx))
	assert.Equal(t, 2, rel.lists, "b takes over")
}

func TestFollowerNoticesAFinishBehindANewRun(t *testing.T) {
	ctx, db, now := followSetup(t)
	require.NoError(t, db.Follow(ctx, store.Followed{PipelineID: "p1", ExecutionID: "A", TaskName: "p1", Channel: "C1", TS: "1.1",
		Status: api.StatusReleasing, CreatedAt: now}))
	rel := &countingReleases{tasks: []api.ReleaseTask{{ID: "p1", Name: "p1", Status: api.StatusReleasing, LastTriggerAt: now}},
		records: map[string][]api.Record{}}
	sl := &countingSlack{}
	rt := New(Deps{Log: zerolog.Nop(), Releases: rel, Slack: sl, Store: db, PollInterval: time.Second, Now: func() time.Time { return now }})
	require.NoError(t, rt.Poll(ctx))
	assert.Zero(t, rel.reads)

	// A finished, and someone started B, which runs: the list still says 4.
	rel.tasks[0].LastTriggerAt = now.Add(time.Minute)
	rel.records["p1"] = []api.Record{{ID: "B", Status: api.StatusReleasing}, {ID: "A", Status: api.StatusReleased}}
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
	fe := store.Followed{PipelineID: "p1", ExecutionID: "A", TaskName: "p1", Channel: "C1", TS: "1.1", Status: api.StatusReleasing, CreatedAt: now}
	require.NoError(t, db.Follow(ctx, fe))
	rel := &countingReleases{tasks: []api.ReleaseTask{{ID: "p1", Status: api.StatusReleased}},
		records: map[string][]api.Record{"p1": {{ID: "A", Status: api.StatusReleased}}}}
	sl := &countingSlack{}
	rt := New(Deps{Log: zerolog.Nop(), Releases: rel, Slack: sl, Store: db, PollInterval: time.Second, Now: func() time.Time { return now }})
	tasks := map[string]api.ReleaseTask{"p1": rel.tasks[0]}
	// Two pollers that both saw the execution at 4 (a lease that ran out
	// mid-poll): only the first records the change and posts.
	require.NoError(t, rt.follower.check(ctx, fe, tasks, map[string][]api.Record{}, now))
	require.NoError(t, rt.follower.check(ctx, fe, tasks, map[string][]api.Record{}, now))
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

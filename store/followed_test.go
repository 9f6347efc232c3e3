package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/release"
	"github.com/releasebot/releasebot/store"
)

// MustFollow follows execution of pipeline, begun at created, at status,
// then records prompted and whether it finished, as the poller does.
func MustFollow(tb testing.TB, s *store.Store, pipeline, execution string, created time.Time, status release.Status, prompted, finished bool) {
	tb.Helper()
	ctx := context.Background()
	f := release.Followed{PipelineID: pipeline, ExecutionID: execution, TaskName: "web", Channel: "C1", TS: "1.1", StartedBy: "U1",
		Status: status, CreatedAt: created}
	require.NoError(tb, s.Follow(ctx, f))
	if !prompted && !finished {
		return
	}
	f.Prompted, f.UpdatedAt = prompted, created
	if finished {
		f.FinishedAt = created
	}
	won, err := s.UpdateFollowed(ctx, status, f)
	require.NoError(tb, err)
	require.True(tb, won)
}

// ids lists pipeline/execution of each followed execution, in order.
func ids(fs []release.Followed) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.PipelineID+"/"+f.ExecutionID)
	}
	return out
}

func TestActiveSince(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		since, bound := t0.Add(-time.Minute), t0.Add(-release.FollowBound)
		for _, f := range []struct {
			pipeline, execution string
			created             time.Time
			status              release.Status
			prompted, finished  bool
		}{
			{"p1", "new", t0, release.StatusReleasing, false, false},
			{"p1", "at-since", since, release.StatusReleasing, false, false},
			{"p1", "before-since", since.Add(-time.Millisecond), release.StatusReleasing, false, false},
			{"p2", "new-finished", t0, release.StatusReleased, false, true},
			{"p2", "new-unprompted", t0, release.StatusAwaitingApproval, false, false},
			{"p3", "running", t0.Add(-time.Hour), release.StatusReleasing, false, false},
			{"p3", "unprompted", t0.Add(-time.Hour), release.StatusAwaitingApproval, false, false},
			{"p3", "prompted", t0.Add(-time.Hour), release.StatusAwaitingApproval, true, false},
			{"p3", "unprompted-finished", t0.Add(-time.Hour), release.StatusAwaitingApproval, false, true},
			{"p4", "at-bound", bound, release.StatusReleasing, false, false},
			{"p4", "after-bound", bound.Add(time.Millisecond), release.StatusReleasing, false, false},
			{"p4", "old-finished", bound.Add(-time.Hour), release.StatusReleasing, false, true},
		} {
			MustFollow(t, s, f.pipeline, f.execution, f.created, f.status, f.prompted, f.finished)
		}

		got, err := s.ActiveSince(ctx, since, bound)
		require.NoError(t, err)
		assert.Equal(t, []string{"p4/at-bound", "p3/unprompted", "p1/at-since", "p1/new", "p2/new-unprompted"}, ids(got),
			"oldest first, each once; not those begun between bound and since, waiting with their prompt posted, or finished")
		assert.Equal(t, ms(t0), got[3].CreatedAt)
		assert.Equal(t, release.StatusAwaitingApproval, got[1].Status)

		n, err := s.CountActive(ctx)
		require.NoError(t, err)
		assert.Equal(t, 9, n)
	})
}

func TestActiveOf(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		before := t0.Add(-time.Minute)
		const tasks = 1200 // more IDs than one query takes
		var all []string
		for i := range tasks {
			id := fmt.Sprintf("p%04d", i)
			all = append(all, id)
			MustFollow(t, s, id, "old", t0.Add(-time.Hour).Add(time.Duration(tasks-i)*time.Millisecond), release.StatusReleasing, false, false)
		}
		MustFollow(t, s, "p0007", "new", before, release.StatusReleasing, false, false)
		MustFollow(t, s, "p0007", "finished", t0.Add(-time.Hour), release.StatusReleased, false, true)
		MustFollow(t, s, "it's", "old", t0.Add(-time.Hour), release.StatusReleasing, false, false)

		got, err := s.ActiveOf(ctx, all, before)
		require.NoError(t, err)
		require.Len(t, got, tasks, "every release task's unfinished execution begun before before, whatever the number of IDs")
		assert.Equal(t, "p1199/old", ids(got)[0], "oldest first")
		assert.Equal(t, "p0000/old", ids(got)[tasks-1])

		got, err = s.ActiveOf(ctx, []string{"p0007", "it's", "p0001' OR '1' = '1", "unknown"}, before)
		require.NoError(t, err)
		assert.Equal(t, []string{"it's/old", "p0007/old"}, ids(got), "IDs are values, never SQL")

		got, err = s.ActiveOf(ctx, nil, before)
		require.NoError(t, err)
		assert.Empty(t, got)
	})
}

// TestPollReadsGoThroughIndexes: on SQLite (PostgreSQL plans by the data
// it holds), no read the poller makes of the followed executions visits
// every unfinished row.
func TestPollReadsGoThroughIndexes(t *testing.T) {
	s, _ := MustNew(t, "sqlite")
	plans, err := s.PollPlans(context.Background())
	require.NoError(t, err)
	require.Len(t, plans, 3)
	for name, plan := range plans {
		for _, step := range plan {
			if strings.Contains(step, "followed") {
				assert.Regexp(t, `USING (COVERING )?INDEX followed_(active_task|active|unprompted)\b`, step, "%s: %q", name, plan)
			}
		}
	}
	assert.Contains(t, plans["ActiveOf"], "SEARCH followed USING INDEX followed_active_task (pipeline_id=? AND created_at<?)")
	assert.Contains(t, plans["ActiveSince"], "SCAN followed USING INDEX followed_unprompted", "only the unprompted rows")
}

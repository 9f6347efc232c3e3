package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/release"
)

func TestActors(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		got, err := s.Actors(ctx, "pipe-1", "E1")
		require.NoError(t, err)
		assert.Empty(t, got, "Actors of an unknown execution")

		require.NoError(t, s.AddActor(ctx, "pipe-1", "E1", "U2", t0.Add(time.Second)))
		require.NoError(t, s.AddActor(ctx, "pipe-1", "E1", "U1", t0))
		require.NoError(t, s.AddActor(ctx, "pipe-1", "E1", "U2", t0.Add(time.Hour)), "the same actor again")
		require.NoError(t, s.AddActor(ctx, "pipe-1", "E2", "U3", t0))
		require.NoError(t, s.AddActor(ctx, "pipe-2", "E1", "U4", t0))
		cases := []struct {
			pipeline, execution string
			want                []string
		}{
			{"pipe-1", "E1", []string{"U1", "U2"}},
			{"pipe-1", "E2", []string{"U3"}},
			{"pipe-2", "E1", []string{"U4"}},
			{"pipe-2", "E2", nil},
		}
		for _, c := range cases {
			got, err := s.Actors(ctx, c.pipeline, c.execution)
			require.NoError(t, err)
			assert.Equal(t, c.want, got, "Actors(%s, %s), in the order they acted", c.pipeline, c.execution)
		}
	})
}

func TestAudit(t *testing.T) {
	entry := func(i int, pipeline string, at time.Time) release.AuditEntry {
		return release.AuditEntry{At: at, User: fmt.Sprintf("U%d", i), Channel: "C1", Verb: "start", TaskName: "task " + pipeline,
			PipelineID: pipeline, Sent: fmt.Sprintf(`{"action":"start","n":%d}`, i), Execution: fmt.Sprintf("E%d", i), Outcome: "Releasing (4)"}
	}
	// Added out of time order; entries 3 and 4 share a millisecond.
	added := []release.AuditEntry{
		entry(0, "pipe-1", t0),
		entry(1, "pipe-2", t0.Add(2*time.Second)),
		entry(2, "pipe-1", t0.Add(time.Second)),
		entry(3, "pipe-1", t0.Add(3*time.Second)),
		entry(4, "pipe-2", t0.Add(3*time.Second+100)),
	}
	stored := func(i int) release.AuditEntry {
		e := added[i]
		e.At = ms(e.At)
		return e
	}
	cases := []struct {
		name     string
		n        int
		pipeline string
		want     []release.AuditEntry
	}{
		{"all", 20, "", []release.AuditEntry{stored(4), stored(3), stored(1), stored(2), stored(0)}},
		{"limit", 2, "", []release.AuditEntry{stored(4), stored(3)}},
		{"one task", 20, "pipe-1", []release.AuditEntry{stored(3), stored(2), stored(0)}},
		{"one task, limit", 1, "pipe-2", []release.AuditEntry{stored(4)}},
		{"unknown task", 20, "pipe-9", nil},
	}
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		got, err := s.LastAudit(ctx, 20, "")
		require.NoError(t, err)
		assert.Empty(t, got, "an empty log")
		for _, e := range added {
			require.NoError(t, s.AddAudit(ctx, e))
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				got, err := s.LastAudit(ctx, c.n, c.pipeline)
				require.NoError(t, err)
				assert.Equal(t, c.want, got, "LastAudit(%d, %q)", c.n, c.pipeline)
			})
		}
	})
}

func TestRecordWritesAuditFollowAndActorTogether(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		e := release.AuditEntry{At: t0, User: "U1", Channel: "C1", Verb: "start", TaskName: "web", PipelineID: "pipe-1",
			Sent: "action start", Execution: "E1", Outcome: "Releasing (4)"}
		f := &release.Followed{PipelineID: "pipe-1", ExecutionID: "E1", TaskName: "web", Channel: "C1", TS: "1.1",
			StartedBy: "U1", Action: release.ActionStart, Status: release.StatusReleasing, CreatedAt: t0}
		require.NoError(t, s.Record(ctx, e, f, true))

		audit, err := s.LastAudit(ctx, 5, "")
		require.NoError(t, err)
		require.Len(t, audit, 1)
		assert.Equal(t, "E1", audit[0].Execution)
		active, err := s.Active(ctx)
		require.NoError(t, err)
		require.Len(t, active, 1)
		assert.Equal(t, "1.1", active[0].TS)
		assert.Equal(t, release.ActionStart, active[0].Action)
		who, err := s.Actors(ctx, "pipe-1", "E1")
		require.NoError(t, err)
		assert.Equal(t, []string{"U1"}, who)

		require.NoError(t, s.Record(ctx, release.AuditEntry{At: t0, User: "U2", Verb: "status", PipelineID: "pipe-1", Execution: "E1"}, nil, false))
		require.NoError(t, s.Record(ctx, release.AuditEntry{At: t0, User: "U3", Verb: "retry", PipelineID: "pipe-1", Execution: "E1"}, nil, true))
		require.NoError(t, s.Record(ctx, release.AuditEntry{At: t0, User: "U1", Verb: "continue", PipelineID: "pipe-1", Execution: "E1"}, nil, true))
		audit, err = s.LastAudit(ctx, 5, "")
		require.NoError(t, err)
		assert.Len(t, audit, 4)
		who, err = s.Actors(ctx, "pipe-1", "E1")
		require.NoError(t, err)
		assert.Equal(t, []string{"U1", "U3"}, who, "only actions that run record an actor, each once")
	})
}

// TestRecordIsOneCommit: when one part of a record fails, none of it is
// written.
func TestRecordIsOneCommit(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, dsn := MustNew(t, driver)
		_, err := MustRaw(t, driver, dsn).ExecContext(ctx, `DROP TABLE actors`)
		require.NoError(t, err)
		e := release.AuditEntry{At: t0, User: "U1", Verb: "start", PipelineID: "pipe-1", Execution: "E1"}
		f := &release.Followed{PipelineID: "pipe-1", ExecutionID: "E1", Channel: "C1", TS: "1.1", Status: release.StatusReleasing, CreatedAt: t0}
		err = s.Record(ctx, e, f, true)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "record: actor: ")
		audit, err := s.LastAudit(ctx, 5, "")
		require.NoError(t, err)
		assert.Empty(t, audit, "the audit entry of a failed record")
		active, err := s.Active(ctx)
		require.NoError(t, err)
		assert.Empty(t, active, "the execution of a failed record is not followed")
	})
}

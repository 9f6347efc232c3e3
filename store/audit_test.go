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

func TestStartedBy(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		got, err := s.StartedBy(ctx, "pipe-1")
		require.NoError(t, err)
		assert.Equal(t, "", got, "StartedBy of an unknown release task")

		require.NoError(t, s.SetStartedBy(ctx, "pipe-1", "U1", t0))
		require.NoError(t, s.SetStartedBy(ctx, "pipe-2", "U2", t0))
		require.NoError(t, s.SetStartedBy(ctx, "pipe-1", "U3", t0.Add(time.Hour)))
		for pipeline, want := range map[string]string{"pipe-1": "U3", "pipe-2": "U2", "pipe-3": ""} {
			got, err := s.StartedBy(ctx, pipeline)
			require.NoError(t, err)
			assert.Equal(t, want, got, "StartedBy(%s)", pipeline)
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

func TestRecordWritesAuditFollowAndStartTogether(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		e := release.AuditEntry{At: t0, User: "U1", Channel: "C1", Verb: "start", TaskName: "web", PipelineID: "pipe-1",
			Sent: "action start", Execution: "E1", Outcome: "Releasing (4)"}
		f := &release.Followed{PipelineID: "pipe-1", ExecutionID: "E1", TaskName: "web", Channel: "C1", TS: "1.1",
			StartedBy: "U1", Status: release.StatusReleasing, CreatedAt: t0}
		require.NoError(t, s.Record(ctx, e, f, true))

		audit, err := s.LastAudit(ctx, 5, "")
		require.NoError(t, err)
		require.Len(t, audit, 1)
		assert.Equal(t, "E1", audit[0].Execution)
		active, err := s.Active(ctx)
		require.NoError(t, err)
		require.Len(t, active, 1)
		assert.Equal(t, "1.1", active[0].TS)
		who, err := s.StartedBy(ctx, "pipe-1")
		require.NoError(t, err)
		assert.Equal(t, "U1", who)

		require.NoError(t, s.Record(ctx, release.AuditEntry{At: t0, User: "U2", Verb: "status"}, nil, false))
		audit, err = s.LastAudit(ctx, 5, "")
		require.NoError(t, err)
		assert.Len(t, audit, 2)
		who, err = s.StartedBy(ctx, "pipe-1")
		require.NoError(t, err)
		assert.Equal(t, "U1", who, "only a start records who started")
	})
}

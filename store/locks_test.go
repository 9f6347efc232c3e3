package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/release"
	"github.com/releasebot/releasebot/store"
)

func newLock(id, target, holder string, at time.Time, d time.Duration) release.Lock {
	return release.Lock{ID: id, Target: target, TaskName: "task " + target, Holder: holder, Reason: "why <!here>",
		Channel: "C1", CreatedAt: at, Until: at.Add(d)}
}

func TestTakeLock(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		now := ms(t0)

		got, err := s.TakeLock(ctx, newLock("L1", "P1", "U0ALICE", now, time.Hour))
		require.NoError(t, err)
		assert.Equal(t, newLock("L1", "P1", "U0ALICE", now, time.Hour), got)

		_, err = s.TakeLock(ctx, newLock("L2", "P1", "U0BOB", now.Add(time.Minute), time.Hour))
		var held *store.LockHeldError
		require.ErrorAs(t, err, &held, "someone else holds P1")
		assert.Equal(t, "L1", held.Lock.ID)

		again := newLock("L3", "P1", "U0ALICE", now.Add(time.Minute), 3*time.Hour)
		again.Reason = "longer"
		got, err = s.TakeLock(ctx, again)
		require.NoError(t, err)
		assert.Equal(t, "L1", got.ID, "the holder's second lock replaces the first")
		assert.Equal(t, now, got.CreatedAt)

		_, err = s.TakeLock(ctx, newLock("L4", release.AllTasks, "U0BOB", now, time.Hour))
		require.NoError(t, err, "a lock on all beside someone's lock on one")
		_, err = s.TakeLock(ctx, newLock("L5", "P2", "U0ALICE", now, time.Hour))
		require.ErrorAs(t, err, &held, "P2 is under Bob's all lock")
		assert.Equal(t, "L4", held.Lock.ID)

		locks, err := s.HeldLocks(ctx, now.Add(2*time.Minute))
		require.NoError(t, err)
		require.Len(t, locks, 2)
		assert.Equal(t, "longer", locks[0].Reason)
		assert.Equal(t, now.Add(time.Minute+3*time.Hour), locks[0].Until)
		assert.Equal(t, "why <!here>", locks[1].Reason, "reasons are kept as typed")
	})
}

func TestLockEnds(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		now := ms(t0)
		_, err := s.TakeLock(ctx, newLock("L1", "P1", "U0ALICE", now, time.Hour))
		require.NoError(t, err)
		_, err = s.TakeLock(ctx, newLock("L2", "P2", "U0ALICE", now, time.Minute))
		require.NoError(t, err)

		l, ended, err := s.EndLock(ctx, "L1", "U0BOB", now.Add(time.Second))
		require.NoError(t, err)
		assert.True(t, ended)
		assert.Equal(t, "U0BOB", l.EndedBy)
		_, ended, err = s.EndLock(ctx, "L1", "U0CAROL", now.Add(2*time.Second))
		require.NoError(t, err)
		assert.False(t, ended, "a lock ends once")
		_, _, err = s.EndLock(ctx, "nope", "U0BOB", now)
		require.ErrorIs(t, err, store.ErrNotFound)

		none, err := s.ExpireLocks(ctx, now.Add(59*time.Second))
		require.NoError(t, err)
		assert.Empty(t, none, "before its time")
		due, err := s.ExpireLocks(ctx, now.Add(2*time.Hour))
		require.NoError(t, err)
		require.Len(t, due, 1, "the broken lock's end is not announced as an expiry")
		assert.Equal(t, "L2", due[0].ID)
		assert.Equal(t, now.Add(time.Minute), due[0].EndedAt)
		again, err := s.ExpireLocks(ctx, now.Add(3*time.Hour))
		require.NoError(t, err)
		assert.Empty(t, again, "announced once")
		_, ended, err = s.EndLock(ctx, "L2", "U0ALICE", now.Add(3*time.Hour))
		require.NoError(t, err)
		assert.False(t, ended, "an expired lock cannot be ended again")
	})
}

// TestHeldLocksFollowWrites: what HeldLocks answers changes with every lock
// write at once (SQLite answers from a cache that lock writes clear).
func TestHeldLocksFollowWrites(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		now := ms(t0)
		ids := func(at time.Time) []string {
			held, err := s.HeldLocks(ctx, at)
			require.NoError(t, err)
			var out []string
			for _, l := range held {
				out = append(out, l.ID+" "+l.Reason)
			}
			return out
		}
		assert.Empty(t, ids(now))
		_, err := s.TakeLock(ctx, newLock("L1", "P1", "U0ALICE", now, time.Minute))
		require.NoError(t, err)
		assert.Equal(t, []string{"L1 why <!here>"}, ids(now))
		assert.Empty(t, ids(now.Add(time.Minute)), "over at its end")

		again := newLock("L9", "P1", "U0ALICE", now.Add(time.Second), time.Hour)
		again.Reason = "longer"
		_, err = s.TakeLock(ctx, again)
		require.NoError(t, err)
		assert.Equal(t, []string{"L1 longer"}, ids(now.Add(time.Minute)), "the holder renewed it")

		_, err = s.TakeLock(ctx, newLock("L2", "P2", "U0BOB", now.Add(2*time.Second), time.Minute))
		require.NoError(t, err)
		assert.Equal(t, []string{"L1 longer", "L2 why <!here>"}, ids(now.Add(3*time.Second)))

		_, ended, err := s.EndLock(ctx, "L1", "U0BOB", now.Add(4*time.Second))
		require.NoError(t, err)
		require.True(t, ended)
		assert.Equal(t, []string{"L2 why <!here>"}, ids(now.Add(5*time.Second)))

		_, err = s.ExpireLocks(ctx, now.Add(2*time.Hour))
		require.NoError(t, err)
		assert.Empty(t, ids(now.Add(5*time.Second)), "expired at its end: ended for good")
	})
}

// TestExpiredLockReplaced: a new lock on a target whose lock ran out ends
// the old one, whose end is still announced.
func TestExpiredLockReplaced(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		now := ms(t0)
		_, err := s.TakeLock(ctx, newLock("L1", "P1", "U0ALICE", now, time.Minute))
		require.NoError(t, err)
		_, err = s.TakeLock(ctx, newLock("L2", "P1", "U0BOB", now.Add(time.Hour), time.Hour))
		require.NoError(t, err)
		due, err := s.ExpireLocks(ctx, now.Add(time.Hour))
		require.NoError(t, err)
		require.Len(t, due, 1)
		assert.Equal(t, "L1", due[0].ID)
	})
}

// TestExpireLocksOnce: replicas expiring at once announce each lock once.
func TestExpireLocksOnce(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, dsn := MustNew(t, driver)
		other := MustOpen(t, driver, dsn)
		now := ms(t0)
		for i := range 20 {
			_, err := s.TakeLock(ctx, newLock(fmt.Sprintf("L%02d", i), fmt.Sprintf("P%02d", i), "U0ALICE", now, time.Minute))
			require.NoError(t, err)
		}
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for _, st := range []*store.Store{s, other, s, other} {
			wg.Go(func() {
				due, err := st.ExpireLocks(ctx, now.Add(time.Hour))
				assert.NoError(t, err)
				mu.Lock()
				defer mu.Unlock()
				for _, l := range due {
					seen[l.ID]++
				}
			})
		}
		wg.Wait()
		require.Len(t, seen, 20)
		for id, n := range seen {
			assert.Equal(t, 1, n, "lock %s announced", id)
		}
	})
}

func TestGuarded(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		c := release.Confirmation{ID: "G1", Action: release.ActionStart, PipelineID: "P1", TaskName: "web", RequestedBy: "U0DAVE",
			Channel: "C1", CreatedAt: ms(t0)}
		require.NoError(t, s.PutGuarded(ctx, "override", &c, `{"reason":"hotfix"}`))
		require.NoError(t, s.SetGuardedMessage(ctx, "G1", "1.2"))

		_, _, err := s.TakeGuarded(ctx, "G1", "break", "U0DAVE", true, ms(t0), time.Minute)
		require.ErrorIs(t, err, store.ErrNotFound, "a confirmation of another kind")
		got, detail, err := s.TakeGuarded(ctx, "G1", "override", "U0DAVE", true, ms(t0).Add(time.Second), time.Minute)
		require.NoError(t, err)
		assert.Equal(t, `{"reason":"hotfix"}`, detail)
		assert.Equal(t, "1.2", got.TS)
		assert.True(t, got.Confirmed)
		_, _, err = s.TakeGuarded(ctx, "G1", "override", "U0DAVE", true, ms(t0).Add(time.Second), time.Minute)
		var ce *store.ConfirmationError
		require.ErrorAs(t, err, &ce, "used once")
		assert.False(t, ce.Expired)

		require.NoError(t, s.PutGuarded(ctx, "break", &release.Confirmation{ID: "G2", CreatedAt: ms(t0)}, "L1"))
		_, _, err = s.TakeGuarded(ctx, "G2", "break", "U0DAVE", false, ms(t0).Add(time.Hour), time.Minute)
		require.ErrorAs(t, err, &ce)
		assert.True(t, ce.Expired)
	})
}

func TestAuditExportQueries(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		for i := range 5 {
			pipe := "P1"
			if i%2 == 1 {
				pipe = "P2"
			}
			require.NoError(t, s.AddAudit(ctx, release.AuditEntry{At: ms(t0).Add(time.Duration(i) * time.Hour), User: "U1", Verb: "start",
				PipelineID: pipe, Outcome: fmt.Sprint(i)}))
		}
		n, err := s.CountAudit(ctx, "", time.Time{})
		require.NoError(t, err)
		assert.Equal(t, 5, n)
		n, err = s.CountAudit(ctx, "P1", ms(t0).Add(time.Hour))
		require.NoError(t, err)
		assert.Equal(t, 2, n, "P1 at 2h and 4h")
		got, err := s.AuditSince(ctx, "", ms(t0).Add(time.Hour), 3)
		require.NoError(t, err)
		require.Len(t, got, 3)
		assert.Equal(t, []string{"1", "2", "3"}, []string{got[0].Outcome, got[1].Outcome, got[2].Outcome}, "oldest first")
	})
}

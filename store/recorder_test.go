package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/release"
	"github.com/releasebot/releasebot/store"
	"github.com/releasebot/releasebot/store/storetest"
)

// holdWrites takes the database's write lock (SQLite) or the audit table's
// (PostgreSQL) from outside the store, so that Record's writer waits; the
// returned func lets it go. SQLite's busy timeout (10 s) bounds the wait.
func holdWrites(t *testing.T, driver, dsn string) (release func()) {
	t.Helper()
	ctx := context.Background()
	raw := MustRaw(t, driver, dsn)
	if driver == "postgres" {
		tx, err := raw.BeginTx(ctx, nil)
		require.NoError(t, err)
		_, err = tx.ExecContext(ctx, `LOCK TABLE audit IN EXCLUSIVE MODE`)
		require.NoError(t, err)
		return func() { require.NoError(t, tx.Rollback()) }
	}
	conn, err := raw.Conn(ctx)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, `BEGIN IMMEDIATE`)
	require.NoError(t, err)
	return func() {
		_, err := conn.ExecContext(ctx, `ROLLBACK`)
		require.NoError(t, err)
		require.NoError(t, conn.Close())
	}
}

// waitQueued waits until n records wait for s's writer.
func waitQueued(t *testing.T, s *store.Store, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return s.Queued() == n }, 5*time.Second, time.Millisecond, "%d records queued", n)
}

func count(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM `+table).Scan(&n))
	return n
}

func startEntry(i int) release.AuditEntry {
	return release.AuditEntry{At: t0, User: fmt.Sprintf("U%d", i), Channel: "C1", Verb: "start", TaskName: "web",
		PipelineID: "pipe-1", Execution: fmt.Sprintf("E%d", i), Outcome: "Releasing (4)"}
}

// TestConcurrentRecordsAllLand: every one of many concurrent Records, from
// several replicas on PostgreSQL, is committed once Record returns nil —
// some following the same execution, as two replicas may.
func TestConcurrentRecordsAllLand(t *testing.T) {
	const n, executions = 300, 200
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		stores := replicas(t, driver, 3)
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				e := startEntry(i % executions)
				f := &release.Followed{PipelineID: e.PipelineID, ExecutionID: e.Execution, Channel: "C1", TS: "1.1",
					StartedBy: e.User, Status: release.StatusReleasing, CreatedAt: t0}
				errs[i] = stores[i%len(stores)].Record(ctx, e, f, true)
			})
		}
		wg.Wait()
		for i, err := range errs {
			require.NoError(t, err, "record %d", i)
		}
		audit, err := stores[0].LastAudit(ctx, n+1, "")
		require.NoError(t, err)
		assert.Len(t, audit, n, "audit entries")
		active, err := stores[0].Active(ctx)
		require.NoError(t, err)
		assert.Len(t, active, executions, "executions followed, each once")
		for i := range executions {
			who, err := stores[0].Actors(ctx, "pipe-1", fmt.Sprintf("E%d", i))
			require.NoError(t, err)
			assert.Equal(t, []string{fmt.Sprintf("U%d", i)}, who, "actors of E%d", i)
		}
	})
}

// TestCloseWritesQueuedRecords: Close waits for the records queued before
// it, and Record refuses what comes after.
func TestCloseWritesQueuedRecords(t *testing.T) {
	const n = 40
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		dsn := storetest.DSN(t, driver)
		s, err := store.Open(ctx, driver, dsn)
		require.NoError(t, err)
		let := holdWrites(t, driver, dsn)
		errs := make(chan error, n)
		for i := range n {
			go func() { errs <- s.Record(ctx, startEntry(i), nil, true) }()
		}
		waitQueued(t, s, n)
		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		require.Eventually(t, s.Closing, 5*time.Second, time.Millisecond, "Close begun")
		err = s.Record(ctx, startEntry(n), nil, false)
		assert.EqualError(t, err, "record: store closed", "a Record after Close")
		let()
		require.NoError(t, <-closed)
		for range n {
			assert.NoError(t, <-errs)
		}
		raw := MustRaw(t, driver, dsn)
		assert.Equal(t, n, count(t, raw, "audit"), "audit entries after Close")
		assert.Equal(t, n, count(t, raw, "actors"), "actors after Close")
	})
}

// TestRecordOutlivesItsCaller: a caller whose ctx ends stops waiting, and
// Record says whether its entry was queued; a queued one is still written.
func TestRecordOutlivesItsCaller(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		s, dsn := MustNew(t, driver)
		ended, cancel := context.WithCancel(context.Background())
		cancel()
		assert.ErrorIs(t, s.Record(ended, startEntry(0), nil, false), context.Canceled, "a Record whose ctx ended before")

		let := holdWrites(t, driver, dsn)
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan error, 1)
		go func() { got <- s.Record(ctx, startEntry(1), nil, false) }()
		waitQueued(t, s, 1)
		cancel()
		err := <-got
		require.ErrorIs(t, err, context.Canceled)
		assert.Contains(t, err.Error(), "record: queued, not yet written")
		let()
		waitQueued(t, s, 0)
		audit, err := s.LastAudit(context.Background(), 5, "")
		require.NoError(t, err)
		require.Len(t, audit, 1, "only the queued entry is written")
		assert.Equal(t, "E1", audit[0].Execution)
	})
}

// poison makes the database refuse an audit entry whose outcome is
// "poison", as a constraint would.
var poison = map[string][]string{
	"sqlite": {`CREATE TRIGGER poison BEFORE INSERT ON audit WHEN NEW.outcome = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned entry'); END`},
	"postgres": {`CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			IF NEW.outcome = 'poison' THEN RAISE EXCEPTION 'poisoned entry'; END IF; RETURN NEW; END $$`,
		`CREATE TRIGGER poison BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION poison()`},
}

// TestRecordFailsAlone: when one record of a batch fails, only its caller
// gets an error; the others of its transaction are committed.
func TestRecordFailsAlone(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, dsn := MustNew(t, driver)
		raw := MustRaw(t, driver, dsn)
		for _, q := range poison[driver] {
			_, err := raw.ExecContext(ctx, q)
			require.NoError(t, err)
		}
		let := holdWrites(t, driver, dsn)
		errs := make([]chan error, 5)
		record := func(i int) {
			e := startEntry(i)
			if i == 2 {
				e.Outcome = "poison"
			}
			errs[i] = make(chan error, 1)
			go func() { errs[i] <- s.Record(ctx, e, nil, true) }()
		}
		// The writer takes record 0 and waits; 1 to 4 then make one batch.
		record(0)
		waitQueued(t, s, 1)
		for i := 1; i < len(errs); i++ {
			record(i)
		}
		waitQueued(t, s, len(errs))
		let()
		for i, ch := range errs {
			err := <-ch
			if i != 2 {
				assert.NoError(t, err, "record %d", i)
				continue
			}
			require.Error(t, err, "the poisoned record")
			assert.Contains(t, err.Error(), "record: audit: ")
			assert.Contains(t, err.Error(), "poisoned entry")
		}
		assert.Equal(t, len(errs)-1, count(t, raw, "audit"), "audit entries")
		assert.Equal(t, len(errs)-1, count(t, raw, "actors"), "actors: the poisoned record's is rolled back")
	})
}

// BenchmarkRecord: a start's Record (entry, follow, actor) from many
// goroutines at once, as commands arrive; compare -cpu 1 with the default.
func BenchmarkRecord(b *testing.B) {
	s, _ := MustNew(b, "sqlite")
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			e := startEntry(i)
			f := &release.Followed{PipelineID: e.PipelineID, ExecutionID: e.Execution, Channel: "C1", TS: "1.1",
				StartedBy: e.User, Status: release.StatusReleasing, CreatedAt: t0}
			if err := s.Record(ctx, e, f, true); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestBatchIsWrittenInOrder: a batch is written a table at a time, many
// rows per statement, yet ends as the records one by one would: entries
// numbered in the batch's order, a rollback taking over an execution
// followed earlier in the same batch, a second start of a followed one
// leaving it as it was, and each actor once. PostgreSQL refuses a statement
// that upserts one row twice; the batch must not fail for it.
func TestBatchIsWrittenInOrder(t *testing.T) {
	const n = 13 // 8 + 4 + 1 rows: three statements for the entries
	follows := map[int]release.Followed{
		1: {ExecutionID: "X1", TS: "1.0", Action: release.ActionStart},
		5: {ExecutionID: "X1", TS: "5.0", Action: release.ActionRollback},
		7: {ExecutionID: "X2", TS: "7.0", Action: release.ActionStart},
		9: {ExecutionID: "X2", TS: "9.0", Action: release.ActionStart},
	}
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, dsn := MustNew(t, driver)
		require.NoError(t, s.AddAudit(ctx, startEntry(-1)), "an entry before the batch")
		recs := make([]store.Rec, n)
		for i := range recs {
			e := startEntry(i)
			recs[i] = store.Rec{Entry: e, Actor: i%2 == 0 || i == 5}
			if spec, ok := follows[i]; ok {
				spec.PipelineID, spec.Channel, spec.StartedBy, spec.Status, spec.CreatedAt = e.PipelineID, "C1", e.User, release.StatusReleasing, t0
				recs[i].Follow = &spec
			}
		}
		require.NoError(t, s.WriteBatch(ctx, recs))
		require.NoError(t, s.AddAudit(ctx, startEntry(n)), "an entry after the batch")

		audit, err := s.LastAudit(ctx, n+3, "")
		require.NoError(t, err)
		require.Len(t, audit, n+2)
		for i, e := range audit { // newest first; all share a millisecond
			assert.Equal(t, fmt.Sprintf("E%d", n-i), e.Execution, "entry %d from the newest", i)
		}
		active, err := s.Active(ctx)
		require.NoError(t, err)
		got := map[string]string{}
		for _, f := range active {
			got[f.ExecutionID] = f.TS + " " + string(f.Action) + " " + f.StartedBy
		}
		assert.Equal(t, map[string]string{"X1": "5.0 rollback U5", "X2": "7.0 start U7"}, got)
		raw := MustRaw(t, driver, dsn)
		assert.Equal(t, n/2+1+1, count(t, raw, "actors"), "the even records' actors and record 5's")
		who, err := s.Actors(ctx, "pipe-1", "E5")
		require.NoError(t, err)
		assert.Equal(t, []string{"U5"}, who)
	})
}

// TestWriterLingersOnlyUnderLoad: records that came while a batch was
// committed make the writer wait for more before the next commit; a caller
// recording one at a time, waiting for each, is never kept waiting.
func TestWriterLingersOnlyUnderLoad(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, dsn := MustNew(t, driver)
		for i := range 5 {
			require.NoError(t, s.Record(ctx, startEntry(i), nil, true))
		}
		assert.Zero(t, s.Lingered(), "one record at a time")

		let := holdWrites(t, driver, dsn)
		errs := make(chan error, 5)
		for i := range 5 {
			go func() { errs <- s.Record(ctx, startEntry(10+i), nil, true) }()
			if i == 0 { // the writer takes it and waits for the held writes
				require.Eventually(t, func() bool { return s.Queued() == 1 && s.Waiting() == 0 }, 5*time.Second, time.Millisecond)
			}
		}
		waitQueued(t, s, 5)
		let()
		for range 5 {
			require.NoError(t, <-errs)
		}
		assert.Positive(t, s.Lingered(), "records queued behind a commit")
	})
}

// Each row's placeholders match the arguments the writer gives a row: a
// batch's flat argument list is cut into rows by these widths.
func TestRowWidths(t *testing.T) {
	for name, rw := range store.RowWidths {
		assert.Equal(t, strings.Count(rw.Row, "?"), rw.Width, "%s: placeholders", name)
		assert.Equal(t, rw.Width, rw.Args, "%s: arguments appended", name)
	}
}

// BenchmarkWriteBatch writes batches of /release starts (audit entry,
// follow, actor) as the writer does, for the batch sizes the linger makes
// at the end-to-end benchmark's rate: a commit costs as much as many rows.
func BenchmarkWriteBatch(b *testing.B) {
	for _, n := range []int{1, 20, 40, 60, 80, 120} {
		b.Run(fmt.Sprintf("%d records", n), func(b *testing.B) {
			s, _ := MustNew(b, "sqlite")
			ctx := context.Background()
			next := 0
			for b.Loop() {
				if err := s.WriteStarts(ctx, next, n); err != nil {
					b.Fatal(err)
				}
				next += n
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(next), "µs/record")
		})
	}
}

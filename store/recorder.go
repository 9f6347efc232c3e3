package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/releasebot/releasebot/release"
)

// Group commit for Record. Every command writes one audit entry (and maybe
// a follow and an actor); one transaction each made the commands queue for
// SQLite's only connection and pay a commit apiece. One writer goroutine
// takes every record waiting, and under load those that come within
// lingerFor, and commits them together, a table at a time, through
// multi-row statements prepared once.

const (
	// maxBatch bounds one transaction, and so how long it holds SQLite's
	// connection from the other queries.
	maxBatch = 128
	// queueSize bounds the records waiting for the writer; Record blocks
	// (honouring its ctx) when it is full.
	queueSize = 1024
	// writeBound bounds the writing of one batch, its retries included:
	// a record queued by a caller that gave up is still written, or fails,
	// within it.
	writeBound = 10 * time.Second
	// lingerFor is how long the writer waits for more records once one
	// came: a commit costs as much as many rows (it writes each page it
	// changed to the WAL, two system calls a page). BenchmarkWriteBatch,
	// per record: 235 µs alone, 39 µs in 20, 27 in 40, 24 in 80 (on a
	// slower day of the machine); 18–21 µs in 60 against 16–18 in 120,
	// interleaved. At the end-to-end benchmark's 3,000 commands a second, 2
	// ms made batches of 19 on average, 5 ms of 38 and 10 ms of 61; at the
	// 6,000 of a faster machine, 20 ms gathers about 120 (maxBatch is 128).
	// It delays the record (a
	// command's reply is posted before it; the poller posts some messages
	// after theirs), and only while records come faster than commits (run):
	// one caller recording one at a time never waits.
	lingerFor = 20 * time.Millisecond
)

// errClosed is Record's error once Close has begun.
var errClosed = errors.New("store closed")

// record is one Record call waiting for the writer.
type record struct {
	entry  release.AuditEntry
	follow *release.Followed
	actor  bool
	done   chan error // buffered: the writer never waits for the caller
}

// statements are the hot paths' statements, prepared once: a row at a time
// for AddAudit, Follow and AddActor, and many rows at a time for the
// recorder's batches.
type statements struct {
	audit, follow, actor *sql.Stmt
	lastSeq              *sql.Stmt
	batch                struct{ audit, follow, actor *multiRow }
}

func (s *Store) prepare(ctx context.Context) error {
	var err error
	for _, p := range []struct {
		to **sql.Stmt
		q  string
	}{{&s.stmts.audit, insertAudit}, {&s.stmts.follow, upsertFollowed}, {&s.stmts.actor, insertActor}, {&s.stmts.lastSeq, lastSeq}} {
		if *p.to, err = s.db.PrepareContext(ctx, s.rebind(p.q)); err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
	}
	b := &s.stmts.batch
	for _, p := range []struct {
		to              **multiRow
		head, row, tail string
	}{
		{&b.audit, insertAuditRows, auditRow, ""},
		{&b.follow, upsertFollowedRows, followedRow, upsertFollowedTail},
		{&b.actor, insertActorRows, actorRow, insertActorTail},
	} {
		if *p.to, err = s.prepareMultiRow(ctx, p.head, p.row, p.tail); err != nil {
			return err
		}
	}
	return nil
}

func (st *statements) close() {
	for _, p := range []*sql.Stmt{st.audit, st.follow, st.actor, st.lastSeq} {
		if p != nil {
			_ = p.Close()
		}
	}
	for _, m := range []*multiRow{st.batch.audit, st.batch.follow, st.batch.actor} {
		if m != nil {
			m.close()
		}
	}
}

// followKey is a followed execution's primary key.
type followKey struct{ pipelineID, executionID string }

// distinctPrefix returns how many of keys, from the first, are distinct.
func distinctPrefix(keys []followKey) int {
	seen := make(map[followKey]bool, len(keys))
	for i, k := range keys {
		if seen[k] {
			return i
		}
		seen[k] = true
	}
	return len(keys)
}

// lastSeq reads the number of the last audit entry.
const lastSeq = `SELECT COALESCE(MAX(seq), 0) FROM audit`

// multiRow is one INSERT of many rows (head, then row's placeholders once
// per row, then tail), prepared for 1, 2, 4 … maxBatch rows: a batch of
// 20 runs as 16 and 4. One statement per table and batch, instead of one
// per row, spares the statements' set-up and the driver's work per row:
// BenchmarkRecord went from 35.6 to 27.4 µs a record on SQLite; on
// PostgreSQL it spares a network round trip per row. All are prepared up front:
// preparing one while a batch's transaction holds SQLite's only
// connection would wait for it.
type multiRow struct {
	stmts []*sql.Stmt // stmts[k] inserts 1<<k rows
}

func (s *Store) prepareMultiRow(ctx context.Context, head, row, tail string) (*multiRow, error) {
	m := &multiRow{}
	for n := 1; n <= maxBatch; n *= 2 {
		var q strings.Builder
		q.WriteString(head)
		for i := range n {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString(row)
		}
		q.WriteString(tail)
		st, err := s.db.PrepareContext(ctx, s.rebind(q.String()))
		if err != nil {
			m.close()
			return nil, fmt.Errorf("prepare: %w", err)
		}
		m.stmts = append(m.stmts, st)
	}
	return m, nil
}

// exec inserts the rows whose arguments args holds, width to a row, in
// tx: one flat list, so that a batch boxes each value once and copies none.
func (m *multiRow) exec(ctx context.Context, tx *sql.Tx, args []any, width int) error {
	if len(args)%width != 0 {
		return fmt.Errorf("%d arguments are not rows of %d", len(args), width)
	}
	for len(args) > 0 {
		k := min(bits.Len(uint(len(args)/width))-1, len(m.stmts)-1)
		n := (1 << k) * width
		if _, err := tx.StmtContext(ctx, m.stmts[k]).ExecContext(ctx, args[:n]...); err != nil {
			return err
		}
		args = args[n:]
	}
	return nil
}

func (m *multiRow) close() {
	for _, st := range m.stmts {
		_ = st.Close()
	}
}

// recorder is the group-commit writer: Record queues, run writes.
type recorder struct {
	mu      sync.RWMutex // held to read by senders, to write by close
	closed  bool
	queue   chan *record
	stopped chan struct{} // closed when run has written the last record
	queued  atomic.Int64  // records queued and not yet answered
	// lingered counts the batches that waited for more records (tests).
	lingered atomic.Int64
	write    func(ctx context.Context, batch []*record) error
}

func newRecorder(write func(ctx context.Context, batch []*record) error) *recorder {
	r := &recorder{queue: make(chan *record, queueSize), stopped: make(chan struct{}), write: write}
	go r.run()
	return r
}

// submit queues rec and waits until it is committed or ctx ends. Once
// queued, rec is written even when the caller stops waiting.
func (r *recorder) submit(ctx context.Context, rec *record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("not written: %w", err)
	}
	r.mu.RLock()
	if r.closed {
		r.mu.RUnlock()
		return errClosed
	}
	r.queued.Add(1)
	select {
	case r.queue <- rec:
		r.mu.RUnlock()
	case <-ctx.Done():
		r.mu.RUnlock()
		r.queued.Add(-1)
		return fmt.Errorf("not written: %w", ctx.Err())
	}
	select {
	case err := <-rec.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("queued, not yet written (it will be, or fail, within %s): %w", writeBound, ctx.Err())
	}
}

// close stops new records, waits until every queued one is written and
// stops the writer. It is idempotent.
func (r *recorder) close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		// No sender holds the read lock: nothing is being queued.
		close(r.queue)
	}
	r.mu.Unlock()
	<-r.stopped
}

// run writes what is queued, a batch at a time, until the queue is closed
// and empty. It lingers for more records only while they come faster than
// it commits: some came during the last commit, or the last wait gathered
// more than one. A caller that records one at a time, waiting for each (the
// poller), so never waits lingerFor per record.
func (r *recorder) run() {
	defer close(r.stopped)
	batch := make([]*record, 0, maxBatch)
	linger := time.NewTimer(lingerFor)
	linger.Stop()
	lingering := false
	for rec := range r.queue {
		batch = append(batch[:0], rec)
		if lingering {
			r.lingered.Add(1)
			linger.Reset(lingerFor)
		}
	more:
		for len(batch) < maxBatch {
			var rec *record
			ok := true
			if lingering {
				select {
				case rec, ok = <-r.queue:
				case <-linger.C:
					break more
				}
			} else {
				select {
				case rec, ok = <-r.queue:
				default: // take only what is queued
					break more
				}
			}
			if !ok {
				break more
			}
			batch = append(batch, rec)
		}
		linger.Stop()
		arrived := r.commit(batch)
		lingering = arrived > 0 || (lingering && len(batch) > 1)
		clear(batch)
	}
}

// commit writes batch in one transaction. When that fails, each record is
// retried in a transaction of its own, so that one bad record (or, on
// PostgreSQL, a deadlock with another replica's batch) fails only itself.
//
// It returns how many records were queued once the batch was written,
// before any caller was answered: those that came meanwhile, not the next
// one of a caller that records one at a time.
func (r *recorder) commit(batch []*record) (arrived int) {
	ctx, cancel := context.WithTimeout(context.Background(), writeBound)
	defer cancel()
	err := r.write(ctx, batch)
	arrived = len(r.queue)
	if err == nil || len(batch) == 1 {
		for _, rec := range batch {
			r.answer(rec, err)
		}
		return arrived
	}
	for i, rec := range batch {
		r.answer(rec, r.write(ctx, batch[i:i+1]))
	}
	return arrived
}

func (r *recorder) answer(rec *record, err error) {
	r.queued.Add(-1)
	rec.done <- err
}

// writeRecords commits batch in one transaction. Its errors are Record's
// without the "record: " prefix.
func (s *Store) writeRecords(ctx context.Context, batch []*record) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	// On SQLite the rows are written without ctx's cancellation: its driver
	// starts a goroutine per statement to watch a cancellable context, a
	// fifth of what a record cost, while a local write is bounded by the busy
	// timeout anyway. ctx still bounds the transaction's begin and commit.
	rowCtx := ctx
	if !s.postgres {
		rowCtx = context.WithoutCancel(ctx)
	}
	// Entries are numbered after the last one, in the batch's order, as
	// AddAudit numbers one; on SQLite nothing else writes meanwhile.
	var last int64
	if err := tx.StmtContext(rowCtx, s.stmts.lastSeq).QueryRowContext(rowCtx).Scan(&last); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	// One list per table, sized for the batch: each value boxed once, and
	// the rows cut from it by width (exec), not copied.
	audits := make([]any, 0, len(batch)*auditWidth)
	follows := make([]any, 0, len(batch)*followWidth)
	actors := make([]any, 0, len(batch)*actorWidth)
	followed := make([]followKey, 0, len(batch))
	for i, rec := range batch {
		e := &rec.entry
		audits = appendAuditArgs(append(audits, last+int64(i)+1), e)
		if f := rec.follow; f != nil {
			follows = appendFollowArgs(follows, f)
			followed = append(followed, followKey{f.PipelineID, f.ExecutionID})
		}
		if rec.actor {
			actors = appendActorArgs(actors, e)
		}
	}
	b := &s.stmts.batch
	if err := b.audit.exec(rowCtx, tx, audits, auditWidth); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	// PostgreSQL refuses a statement that upserts one row twice: a second
	// follow of an execution in the batch starts the next statement.
	for len(follows) > 0 {
		n := distinctPrefix(followed)
		if err := b.follow.exec(rowCtx, tx, follows[:n*followWidth], followWidth); err != nil {
			return fmt.Errorf("follow: %w", err)
		}
		follows, followed = follows[n*followWidth:], followed[n:]
	}
	if err := b.actor.exec(rowCtx, tx, actors, actorWidth); err != nil {
		return fmt.Errorf("actor: %w", err)
	}
	return tx.Commit()
}

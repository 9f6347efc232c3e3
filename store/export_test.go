package store

import (
	"context"
	"strconv"
	"time"

	"github.com/releasebot/releasebot/release"
)

// Queued returns how many records wait for the writer or are being
// written.
func (s *Store) Queued() int { return int(s.rec.queued.Load()) }

// Closing reports whether Close has begun: Record takes no more records.
func (s *Store) Closing() bool {
	s.rec.mu.RLock()
	defer s.rec.mu.RUnlock()
	return s.rec.closed
}

// PollPlans returns SQLite's plan of each read the poller makes of the
// followed executions, by name.
func (s *Store) PollPlans(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	for name, q := range map[string]struct {
		q    string
		args []any
	}{
		"CountActive": {countActive, nil},
		"ActiveSince": {activeSince, []any{1, 2}},
		"ActiveOf":    {activeOf(3), []any{"a", "b", "c", 4}},
	} {
		rows, err := s.db.QueryContext(ctx, `EXPLAIN QUERY PLAN `+q.q, q.args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				rows.Close()
				return nil, err
			}
			out[name] = append(out[name], detail)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Waiting returns how many records wait in the queue, not yet taken by
// the writer.
func (s *Store) Waiting() int { return len(s.rec.queue) }

// Lingered counts the writer's batches that waited for more records.
func (s *Store) Lingered() int64 { return s.rec.lingered.Load() }

// Rec is one record for WriteBatch.
type Rec struct {
	Entry  release.AuditEntry
	Follow *release.Followed
	Actor  bool
}

// WriteBatch writes recs as one batch of the writer.
func (s *Store) WriteBatch(ctx context.Context, recs []Rec) error {
	batch := make([]*record, len(recs))
	for i, r := range recs {
		batch[i] = &record{entry: r.Entry, follow: r.Follow, actor: r.Actor}
	}
	return s.writeRecords(ctx, batch)
}

// WriteStarts writes n records of /release start (audit entry, follow and
// actor), numbered from first, as one batch of the writer.
func (s *Store) WriteStarts(ctx context.Context, first, n int) error {
	recs := make([]Rec, n)
	for i := range recs {
		id := first + i
		e := release.AuditEntry{At: time.UnixMilli(1_700_000_000_000), User: "U0ALICE", Channel: "C0REL", Verb: "start",
			TaskName: "web", PipelineID: "pipe-1", Sent: "action start", Execution: strconv.Itoa(id), Outcome: "Releasing (4)"}
		f := &release.Followed{PipelineID: e.PipelineID, ExecutionID: e.Execution, TaskName: "web", Channel: "C0REL",
			TS: "1700000000.000100", StartedBy: e.User, Action: release.ActionStart, Status: release.StatusReleasing, CreatedAt: e.At}
		recs[i] = Rec{Entry: e, Follow: f, Actor: true}
	}
	return s.WriteBatch(ctx, recs)
}

// RowWidths pairs each multi-row statement's row placeholders with the
// number of arguments the writer gives a row: Width as declared, Args as
// its append function makes them (an audit row's seq comes first).
var RowWidths = map[string]struct {
	Row         string
	Width, Args int
}{
	"audit":  {auditRow, auditWidth, 1 + len(appendAuditArgs(nil, &release.AuditEntry{}))},
	"follow": {followedRow, followWidth, len(appendFollowArgs(nil, &release.Followed{}))},
	"actor":  {actorRow, actorWidth, len(appendActorArgs(nil, &release.AuditEntry{}))},
}

// Pragmas reads SQLite settings through the store's own connection.
func (s *Store) Pragmas(ctx context.Context, names ...string) (map[string]string, error) {
	out := map[string]string{}
	for _, n := range names {
		var v string
		if err := s.db.QueryRowContext(ctx, "PRAGMA "+n).Scan(&v); err != nil {
			return nil, err
		}
		out[n] = v
	}
	return out, nil
}

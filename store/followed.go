package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/releasebot/releasebot/release"
)

// Follow starts following an execution. One still followed keeps its
// message, except that a rollback takes it over (it is a new phase, and
// its progress is credited to whoever rolled back); one followed to its end
// before (a retried execution keeps its ID) is followed again, through the
// new message.
func (s *Store) Follow(ctx context.Context, f release.Followed) error {
	if _, err := s.stmts.follow.ExecContext(ctx, appendFollowArgs(nil, &f)...); err != nil {
		return fmt.Errorf("follow: %w", err)
	}
	return nil
}

const upsertFollowed = upsertFollowedRows + followedRow + upsertFollowedTail

// upsertFollowed, for one row or many.
const (
	upsertFollowedRows = `INSERT INTO followed (pipeline_id, execution_id, task_name, channel, ts, started_by, status, created_at, updated_at, action)
	VALUES `
	followedRow        = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	upsertFollowedTail = `
	ON CONFLICT (pipeline_id, execution_id) DO UPDATE SET channel = excluded.channel, ts = excluded.ts,
		started_by = excluded.started_by, action = excluded.action, status = excluded.status, created_at = excluded.created_at,
		updated_at = excluded.updated_at, finished_at = 0, prompted = 0, hinted = 0, trigger_at = 0
	WHERE followed.finished_at <> 0 OR (excluded.action = 'rollback' AND followed.action <> 'rollback')`
)

// followWidth is followedRow's number of arguments.
const followWidth = 10

func appendFollowArgs(dst []any, f *release.Followed) []any {
	return append(dst, f.PipelineID, f.ExecutionID, f.TaskName, f.Channel, f.TS, f.StartedBy, int(f.Status), millis(f.CreatedAt), millis(f.CreatedAt), string(f.Action))
}

// IsFollowed reports whether an execution is followed (or was, to its end).
func (s *Store) IsFollowed(ctx context.Context, pipelineID, executionID string) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*) FROM followed WHERE pipeline_id = ? AND execution_id = ?`),
		pipelineID, executionID).Scan(&n); err != nil {
		return false, fmt.Errorf("is followed: %w", err)
	}
	return n > 0, nil
}

// Active lists the executions still followed, oldest first.
func (s *Store) Active(ctx context.Context) ([]release.Followed, error) {
	return s.followed(ctx, `WHERE finished_at = 0 ORDER BY created_at, pipeline_id, execution_id`)
}

// CountActive returns how many executions are still followed, counted in
// an index of the unfinished ones.
func (s *Store) CountActive(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, countActive).Scan(&n); err != nil {
		return 0, fmt.Errorf("count followed: %w", err)
	}
	return n, nil
}

const countActive = `SELECT COUNT(*) FROM followed WHERE finished_at = 0`

// activeSince has three parts, each read through an index (an OR would
// make SQLite scan every unfinished row). The last picks the executions
// waiting at approval whose automatic prompt was not posted; its constants
// are literals, for SQLite to see that the partial index followed_unprompted
// applies.
var activeSince = `SELECT ` + followedColumns + ` FROM followed WHERE finished_at = 0 AND created_at >= ?
	UNION ALL SELECT ` + followedColumns + ` FROM followed WHERE finished_at = 0 AND created_at <= ?
	UNION ALL SELECT ` + followedColumns + ` FROM followed WHERE finished_at = 0 AND status = ` +
	strconv.Itoa(int(release.StatusAwaitingApproval)) + ` AND prompted = 0`

// activeOf reads the executions of n release tasks, through the index
// followed_active_task.
func activeOf(n int) string {
	return `SELECT ` + followedColumns + ` FROM followed WHERE finished_at = 0 AND pipeline_id IN (` +
		strings.Repeat("?, ", n-1) + `?) AND created_at < ?`
}

// ActiveSince lists the executions still followed whose follow began at or
// after since (a poll may not have seen them yet) or at or before bound
// (following them ends), and those waiting at approval whose automatic
// prompt was not posted; oldest first, each once. Each part is read through
// an index: the other executions followed cost no read.
func (s *Store) ActiveSince(ctx context.Context, since, bound time.Time) ([]release.Followed, error) {
	out, err := s.queryFollowed(ctx, activeSince, millis(since), millis(bound))
	if err != nil {
		return nil, err
	}
	return release.OldestFirst(out), nil
}

// idsPerQuery bounds the IDs of one IN list, far below SQLite's and
// PostgreSQL's limits on parameters.
const idsPerQuery = 500

// ActiveOf lists the executions still followed of the release tasks
// pipelineIDs whose follow began before before, oldest first. The IDs are
// read a few hundred at a time, each through the index of the unfinished
// executions by release task; a row may be read as of two moments, and the
// poller's updates are compare-and-sets anyway.
func (s *Store) ActiveOf(ctx context.Context, pipelineIDs []string, before time.Time) ([]release.Followed, error) {
	var out []release.Followed
	for ids := range slices.Chunk(pipelineIDs, idsPerQuery) {
		args := make([]any, 0, len(ids)+1)
		for _, id := range ids {
			args = append(args, id)
		}
		args = append(args, millis(before))
		part, err := s.queryFollowed(ctx, activeOf(len(ids)), args...)
		if err != nil {
			return nil, err
		}
		out = append(out, part...)
	}
	return release.OldestFirst(out), nil
}

const followedColumns = `pipeline_id, execution_id, task_name, channel, ts, started_by, status,
		created_at, updated_at, finished_at, prompted, hinted, trigger_at, action`

// followed reads the followed executions a WHERE … ORDER BY … clause picks.
func (s *Store) followed(ctx context.Context, clause string, args ...any) ([]release.Followed, error) {
	return s.queryFollowed(ctx, `SELECT `+followedColumns+` FROM followed `+clause, args...)
}

// queryFollowed reads the followed executions q selects (followedColumns).
func (s *Store) queryFollowed(ctx context.Context, q string, args ...any) ([]release.Followed, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("followed executions: %w", err)
	}
	defer rows.Close()
	var out []release.Followed
	for rows.Next() {
		var f release.Followed
		var status, prompted, hinted int
		var created, updated, finished, trigger int64
		var action string
		if err := rows.Scan(&f.PipelineID, &f.ExecutionID, &f.TaskName, &f.Channel, &f.TS, &f.StartedBy, &status,
			&created, &updated, &finished, &prompted, &hinted, &trigger, &action); err != nil {
			return nil, fmt.Errorf("followed executions: %w", err)
		}
		f.Status, f.CreatedAt, f.UpdatedAt, f.FinishedAt = release.Status(status), fromMillis(created), fromMillis(updated), fromMillis(finished)
		f.Prompted, f.Hinted, f.TriggerAt, f.Action = prompted == 1, hinted == 1, fromMillis(trigger), release.Action(action)
		out = append(out, f)
	}
	return out, rows.Err()
}

// UpdateFollowed records what the poller saw, if the execution is still as
// was says (its status, unfinished): a compare-and-set, so that when two
// pollers race only one acts on a change. It reports whether it won.
func (s *Store) UpdateFollowed(ctx context.Context, was release.Status, f release.Followed) (bool, error) {
	n, err := s.exec(ctx, `UPDATE followed SET status = ?, updated_at = ?, finished_at = ?, prompted = ?, hinted = ?, trigger_at = ?
		WHERE pipeline_id = ? AND execution_id = ? AND status = ? AND finished_at = 0`, int(f.Status), millis(f.UpdatedAt),
		millis(f.FinishedAt), b2i(f.Prompted), b2i(f.Hinted), millis(f.TriggerAt), f.PipelineID, f.ExecutionID, int(was))
	if err != nil {
		return false, fmt.Errorf("update followed: %w", err)
	}
	return n == 1, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// AcquireLease takes or renews the lease name for owner until until, if it
// is free, expired or already owner's. It reports whether owner holds it:
// with several replicas, one at a time does the leased work, and another
// takes over once a dead holder's lease runs out.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, now, until time.Time) (bool, error) {
	if _, err := s.exec(ctx, `INSERT INTO leases (name, owner, until) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
		name, owner, millis(until)); err != nil {
		return false, fmt.Errorf("lease: %w", err)
	}
	n, err := s.exec(ctx, `UPDATE leases SET owner = ?, until = ? WHERE name = ? AND (owner = ? OR until < ?)`,
		owner, millis(until), name, owner, millis(now))
	if err != nil {
		return false, fmt.Errorf("lease: %w", err)
	}
	return n == 1, nil
}

// ReleaseLease gives the lease up, so that another replica need not wait
// for it to run out.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	if _, err := s.exec(ctx, `UPDATE leases SET until = 0 WHERE name = ? AND owner = ?`, name, owner); err != nil {
		return fmt.Errorf("release lease: %w", err)
	}
	return nil
}

// ExpireConfirmations marks the unused confirmations of action on a release
// task as no longer needed (a Continue hint once the run moved on) and
// returns them, so that their messages can say so.
func (s *Store) ExpireConfirmations(ctx context.Context, pipelineID string, action release.Action, now time.Time) ([]release.Confirmation, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT id FROM confirmations WHERE pipeline_id = ? AND action = ? AND used_by = ''`),
		pipelineID, string(action))
	if err != nil {
		return nil, fmt.Errorf("expire confirmations: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("expire confirmations: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	var out []release.Confirmation
	for _, id := range ids {
		n, err := s.exec(ctx, `UPDATE confirmations SET used_by = ?, used_at = ? WHERE id = ? AND used_by = ''`, release.Withdrawn, millis(now), id)
		if err != nil {
			return nil, fmt.Errorf("expire confirmations: %w", err)
		}
		if n == 1 {
			c, err := s.getConfirmation(ctx, id)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// ActiveStartedBy lists the executions user made run that are still
// followed, newest first, at most n.
func (s *Store) ActiveStartedBy(ctx context.Context, user string, n int) ([]release.Followed, error) {
	return s.followed(ctx, `WHERE finished_at = 0 AND started_by = ? ORDER BY created_at DESC, pipeline_id, execution_id LIMIT ?`, user, n)
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/releasebot/releasebot/release"
)

// LockHeldError says a lock cannot be taken: someone else holds Lock.
type LockHeldError struct{ Lock release.Lock }

func (e *LockHeldError) Error() string { return "locked by " + e.Lock.Holder }

const lockColumns = `id, target, task_name, holder, reason, channel, created_at, until, ended_at, ended_by`

// TakeLock stores l, held from l.CreatedAt until l.Until, unless someone
// else holds a lock that release.Conflicting names (a *LockHeldError). The
// holder taking a lock on the same target again replaces its reason and
// end. A lock whose time ran out on that target ends here, and its end is
// still announced by ExpireLocks. It returns the lock as stored.
func (s *Store) TakeLock(ctx context.Context, l release.Lock) (release.Lock, error) {
	defer s.unended.clear()
	got, err := s.takeLock(ctx, l)
	var held *LockHeldError
	if err != nil && !errors.As(err, &held) {
		// Two replicas inserting at once: one wins the unique index, and
		// the other, trying again, sees its lock.
		got, err = s.takeLock(ctx, l)
	}
	return got, err
}

func (s *Store) takeLock(ctx context.Context, l release.Lock) (release.Lock, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		now := millis(l.CreatedAt)
		if _, err := execTx(ctx, tx, s, `UPDATE locks SET ended_at = until
			WHERE target IN (?, ?) AND ended_at = 0 AND until <= ?`, l.Target, release.AllTasks, now); err != nil {
			return err
		}
		q := `SELECT ` + lockColumns + ` FROM locks WHERE target IN (?, ?) AND ended_at = 0`
		if s.postgres {
			q += ` FOR UPDATE`
		}
		held, err := s.locksWhere(ctx, tx, q, l.Target, release.AllTasks)
		if err != nil {
			return err
		}
		if other, ok := release.Conflicting(held, l.Target, l.Holder, l.CreatedAt); ok {
			return &LockHeldError{Lock: other}
		}
		for _, h := range held {
			if h.Target == l.Target {
				l.ID, l.CreatedAt = h.ID, h.CreatedAt
				_, err := execTx(ctx, tx, s, `UPDATE locks SET reason = ?, until = ?, channel = ?, task_name = ? WHERE id = ?`,
					l.Reason, millis(l.Until), l.Channel, l.TaskName, l.ID)
				return err
			}
		}
		_, err = execTx(ctx, tx, s, `INSERT INTO locks (`+lockColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, '')`,
			l.ID, l.Target, l.TaskName, l.Holder, l.Reason, l.Channel, now, millis(l.Until))
		return err
	})
	var held *LockHeldError
	if err != nil && !errors.As(err, &held) {
		return release.Lock{}, fmt.Errorf("take lock: %w", err)
	}
	return l, err
}

// HeldLocks returns the locks that hold at now, oldest first.
func (s *Store) HeldLocks(ctx context.Context, now time.Time) ([]release.Lock, error) {
	if s.postgres {
		locks, err := s.locksWhere(ctx, s.db, `SELECT `+lockColumns+` FROM locks WHERE ended_at = 0 AND until > ? ORDER BY created_at, id`, millis(now))
		if err != nil {
			return nil, fmt.Errorf("read locks: %w", err)
		}
		return locks, nil
	}
	unended, err := s.unended.get(func() ([]release.Lock, error) {
		return s.locksWhere(ctx, s.db, `SELECT `+lockColumns+` FROM locks WHERE ended_at = 0 ORDER BY created_at, id`)
	})
	if err != nil {
		return nil, fmt.Errorf("read locks: %w", err)
	}
	var held []release.Lock
	for _, l := range unended {
		if l.Until.After(now) {
			held = append(held, l)
		}
	}
	return held, nil
}

// lockCache keeps the unended locks between two lock writes. Every start and
// rollback checks the locks, and a query apiece was a tenth of a command's
// CPU. It serves SQLite only: there one process writes (replicas need
// PostgreSQL), so every change to the locks goes through this Store, which
// clears the cache once the change is committed. PostgreSQL is always asked,
// since another replica may have written.
type lockCache struct {
	mu    sync.Mutex
	gen   uint64 // counts clears: a read that began before one is not kept
	valid bool
	locks []release.Lock
}

// get returns the cached locks, or reads and keeps them.
func (c *lockCache) get(read func() ([]release.Lock, error)) ([]release.Lock, error) {
	c.mu.Lock()
	if c.valid {
		defer c.mu.Unlock()
		return c.locks, nil
	}
	gen := c.gen
	c.mu.Unlock()
	locks, err := read()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gen == gen {
		c.valid, c.locks = true, locks
	}
	c.mu.Unlock()
	return locks, nil
}

// clear forgets the cached locks; lock writes call it after they commit (or
// fail: whether a failed write changed anything is not known).
func (c *lockCache) clear() {
	c.mu.Lock()
	c.gen++
	c.valid, c.locks = false, nil
	c.mu.Unlock()
}

// EndLock ends lock id at now on behalf of by (its holder unlocking, or
// someone breaking it), if it still holds; it returns the lock and whether
// this call ended it.
func (s *Store) EndLock(ctx context.Context, id, by string, now time.Time) (release.Lock, bool, error) {
	defer s.unended.clear()
	n, err := s.exec(ctx, `UPDATE locks SET ended_at = ?, ended_by = ?, expiry_noted = 1
		WHERE id = ? AND ended_at = 0 AND until > ?`, millis(now), by, id, millis(now))
	if err != nil {
		return release.Lock{}, false, fmt.Errorf("end lock: %w", err)
	}
	locks, err := s.locksWhere(ctx, s.db, `SELECT `+lockColumns+` FROM locks WHERE id = ?`, id)
	if err != nil {
		return release.Lock{}, false, fmt.Errorf("end lock: %w", err)
	}
	if len(locks) == 0 {
		return release.Lock{}, false, ErrNotFound
	}
	return locks[0], n == 1, nil
}

// ExpireLocks claims the locks whose time is up at now and whose end was
// not announced yet, each once across replicas (a compare-and-set), and
// returns them, ended.
func (s *Store) ExpireLocks(ctx context.Context, now time.Time) ([]release.Lock, error) {
	defer s.unended.clear()
	due, err := s.locksWhere(ctx, s.db, `SELECT `+lockColumns+` FROM locks WHERE expiry_noted = 0 AND until <= ? ORDER BY until, id`, millis(now))
	if err != nil {
		return nil, fmt.Errorf("expire locks: %w", err)
	}
	var mine []release.Lock
	for _, l := range due {
		n, err := s.exec(ctx, `UPDATE locks SET expiry_noted = 1, ended_at = CASE WHEN ended_at = 0 THEN until ELSE ended_at END
			WHERE id = ? AND expiry_noted = 0`, l.ID)
		if err != nil {
			return mine, fmt.Errorf("expire lock: %w", err)
		}
		if n == 1 {
			l.EndedAt = l.Until
			mine = append(mine, l)
		}
	}
	return mine, nil
}

func (s *Store) locksWhere(ctx context.Context, q querier, query string, args ...any) ([]release.Lock, error) {
	rows, err := q.QueryContext(ctx, s.rebind(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []release.Lock
	for rows.Next() {
		var l release.Lock
		var created, until, ended int64
		if err := rows.Scan(&l.ID, &l.Target, &l.TaskName, &l.Holder, &l.Reason, &l.Channel, &created, &until, &ended, &l.EndedBy); err != nil {
			return nil, err
		}
		l.CreatedAt, l.Until, l.EndedAt = fromMillis(created), fromMillis(until), fromMillis(ended)
		out = append(out, l)
	}
	return out, rows.Err()
}

// PutGuarded stores the confirmation of a guarded action of kind (breaking
// a lock, acting during a freeze), with what its handler needs in detail.
func (s *Store) PutGuarded(ctx context.Context, kind string, c *release.Confirmation, detail string) error {
	if _, err := s.exec(ctx, `INSERT INTO guarded (id, kind, action, pipeline_id, task_name, detail, requested_by, channel, ts, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, c.ID, kind, string(c.Action), c.PipelineID, c.TaskName, detail, c.RequestedBy,
		c.Channel, c.TS, millis(c.CreatedAt)); err != nil {
		return fmt.Errorf("store confirmation: %w", err)
	}
	return nil
}

// SetGuardedMessage records where a guarded action's confirmation was posted.
func (s *Store) SetGuardedMessage(ctx context.Context, id, ts string) error {
	if _, err := s.exec(ctx, `UPDATE guarded SET ts = ? WHERE id = ?`, ts, id); err != nil {
		return fmt.Errorf("set confirmation message: %w", err)
	}
	return nil
}

// TakeGuarded uses the confirmation id of kind once, across every replica,
// as TakeConfirmation does: ErrNotFound (also for another kind), or a
// *ConfirmationError when it is used or older than ttl.
func (s *Store) TakeGuarded(ctx context.Context, id, kind, user string, confirmed bool, now time.Time, ttl time.Duration) (release.Confirmation, string, error) {
	n, err := s.exec(ctx, `UPDATE guarded SET used_by = ?, used_at = ?, confirmed = ?
		WHERE id = ? AND kind = ? AND used_by = '' AND created_at >= ?`, user, millis(now), b2i(confirmed), id, kind, millis(now.Add(-ttl)))
	if err != nil {
		return release.Confirmation{}, "", fmt.Errorf("use confirmation: %w", err)
	}
	var c release.Confirmation
	var action, detail string
	var created, used int64
	var flag int
	err = s.db.QueryRowContext(ctx, s.rebind(`SELECT id, action, pipeline_id, task_name, detail, requested_by, channel, ts, created_at,
		used_by, used_at, confirmed FROM guarded WHERE id = ? AND kind = ?`), id, kind).Scan(&c.ID, &action, &c.PipelineID, &c.TaskName,
		&detail, &c.RequestedBy, &c.Channel, &c.TS, &created, &c.UsedBy, &used, &flag)
	if errors.Is(err, sql.ErrNoRows) {
		return release.Confirmation{}, "", ErrNotFound
	}
	if err != nil {
		return release.Confirmation{}, "", fmt.Errorf("get confirmation: %w", err)
	}
	c.Action, c.CreatedAt, c.UsedAt, c.Confirmed = release.Action(action), fromMillis(created), fromMillis(used), flag == 1
	if n == 0 {
		return c, detail, &ConfirmationError{Expired: c.UsedBy == "", Confirmation: c}
	}
	return c, detail, nil
}

// CountAudit counts the audit entries at or after since (zero: all) for
// pipelineID ("" = all).
func (s *Store) CountAudit(ctx context.Context, pipelineID string, since time.Time) (int, error) {
	where, args := auditFilter(pipelineID, since)
	var n int
	if err := s.db.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*) FROM audit`+where), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count audit: %w", err)
	}
	return n, nil
}

// AuditSince returns up to limit audit entries at or after since (zero:
// all) for pipelineID ("" = all), oldest first.
func (s *Store) AuditSince(ctx context.Context, pipelineID string, since time.Time, limit int) ([]release.AuditEntry, error) {
	where, args := auditFilter(pipelineID, since)
	return s.auditRows(ctx, `SELECT at, user_id, channel, verb, task_name, pipeline_id, sent, execution, outcome
		FROM audit`+where+` ORDER BY at, seq LIMIT ?`, append(args, limit)...)
}

func auditFilter(pipelineID string, since time.Time) (string, []any) {
	where, args := ` WHERE at >= ?`, []any{millis(since)}
	if pipelineID != "" {
		where += ` AND pipeline_id = ?`
		args = append(args, pipelineID)
	}
	return where, args
}

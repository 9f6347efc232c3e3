package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/releasebot/releasebot/release"
)

// ConfirmationError says why a confirmation cannot be used.
type ConfirmationError struct {
	Expired      bool // too old; otherwise already used
	Confirmation release.Confirmation
}

func (e *ConfirmationError) Error() string {
	if e.Expired {
		return "confirmation expired"
	}
	return "confirmation already used"
}

// PutConfirmation stores a new confirmation.
func (s *Store) PutConfirmation(ctx context.Context, c *release.Confirmation) error {
	if _, err := s.exec(ctx, `INSERT INTO confirmations (id, action, pipeline_id, task_name, requested_by, channel, ts, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, c.ID, string(c.Action), c.PipelineID, c.TaskName, c.RequestedBy, c.Channel, c.TS, millis(c.CreatedAt)); err != nil {
		return fmt.Errorf("store confirmation: %w", err)
	}
	return nil
}

// SetConfirmationMessage records where the confirmation was posted.
func (s *Store) SetConfirmationMessage(ctx context.Context, id, ts string) error {
	if _, err := s.exec(ctx, `UPDATE confirmations SET ts = ? WHERE id = ?`, ts, id); err != nil {
		return fmt.Errorf("set confirmation message: %w", err)
	}
	return nil
}

// TakeConfirmation uses confirmation id once, across every replica. It
// returns ErrNotFound, or a *ConfirmationError when it is used or older
// than ttl.
func (s *Store) TakeConfirmation(ctx context.Context, id, user string, confirmed bool, now time.Time, ttl time.Duration) (release.Confirmation, error) {
	flag := 0
	if confirmed {
		flag = 1
	}
	n, err := s.exec(ctx, `UPDATE confirmations SET used_by = ?, used_at = ?, confirmed = ?
		WHERE id = ? AND used_by = '' AND created_at >= ?`, user, millis(now), flag, id, millis(now.Add(-ttl)))
	if err != nil {
		return release.Confirmation{}, fmt.Errorf("use confirmation: %w", err)
	}
	c, err := s.getConfirmation(ctx, id)
	if err != nil {
		return release.Confirmation{}, err
	}
	if n == 0 {
		return c, &ConfirmationError{Expired: c.UsedBy == "", Confirmation: c}
	}
	return c, nil
}

// GetConfirmation returns confirmation id, or ErrNotFound.
func (s *Store) GetConfirmation(ctx context.Context, id string) (release.Confirmation, error) {
	return s.getConfirmation(ctx, id)
}

func (s *Store) getConfirmation(ctx context.Context, id string) (release.Confirmation, error) {
	var c release.Confirmation
	var action string
	var created, used int64
	var confirmed int
	err := s.db.QueryRowContext(ctx, s.rebind(`SELECT id, action, pipeline_id, task_name, requested_by, channel, ts, created_at,
		used_by, used_at, confirmed FROM confirmations WHERE id = ?`), id).Scan(&c.ID, &action, &c.PipelineID, &c.TaskName,
		&c.RequestedBy, &c.Channel, &c.TS, &created, &c.UsedBy, &used, &confirmed)
	if errors.Is(err, sql.ErrNoRows) {
		return release.Confirmation{}, ErrNotFound
	}
	if err != nil {
		return release.Confirmation{}, fmt.Errorf("get confirmation: %w", err)
	}
	c.Action, c.CreatedAt, c.UsedAt, c.Confirmed = release.Action(action), fromMillis(created), fromMillis(used), confirmed == 1
	return c, nil
}

// AddAudit appends e to the audit log.
func (s *Store) AddAudit(ctx context.Context, e release.AuditEntry) error {
	// seq orders entries of the same millisecond; replicas may tie, which
	// only makes their order within that millisecond arbitrary.
	if _, err := s.stmts.audit.ExecContext(ctx, appendAuditArgs(nil, &e)...); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

const insertAudit = `INSERT INTO audit (seq, at, user_id, channel, verb, task_name, pipeline_id, sent, execution, outcome)
	VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM audit), ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// insertAuditRows and auditRow insert many entries, numbered by the caller.
const (
	insertAuditRows = `INSERT INTO audit (seq, at, user_id, channel, verb, task_name, pipeline_id, sent, execution, outcome) VALUES `
	auditRow        = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// auditWidth is auditRow's number of arguments: seq, then appendAuditArgs's.
const auditWidth = 10

func appendAuditArgs(dst []any, e *release.AuditEntry) []any {
	return append(dst, millis(e.At), e.User, e.Channel, e.Verb, e.TaskName, e.PipelineID, e.Sent, e.Execution, e.Outcome)
}

// LastAudit returns up to n entries, newest first, for pipelineID ("" = all).
func (s *Store) LastAudit(ctx context.Context, n int, pipelineID string) ([]release.AuditEntry, error) {
	if n <= 0 {
		return nil, nil
	}
	q := `SELECT at, user_id, channel, verb, task_name, pipeline_id, sent, execution, outcome FROM audit`
	args := []any{}
	if pipelineID != "" {
		q += ` WHERE pipeline_id = ?`
		args = append(args, pipelineID)
	}
	q += ` ORDER BY at DESC, seq DESC LIMIT ?`
	args = append(args, n)
	return s.auditRows(ctx, q, args...)
}

// auditRows runs a query of audit entries' columns (at, user_id, channel,
// verb, task_name, pipeline_id, sent, execution, outcome) and reads them.
func (s *Store) auditRows(ctx context.Context, q string, args ...any) ([]release.AuditEntry, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	defer rows.Close()
	var out []release.AuditEntry
	for rows.Next() {
		var e release.AuditEntry
		var at int64
		if err := rows.Scan(&at, &e.User, &e.Channel, &e.Verb, &e.TaskName, &e.PipelineID, &e.Sent, &e.Execution, &e.Outcome); err != nil {
			return nil, fmt.Errorf("read audit: %w", err)
		}
		e.At = fromMillis(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Record appends e to the audit log and, in the same transaction, starts
// following f (when not nil) and remembers that e.User made execution
// e.Execution run (when actor): all that one command did, committed
// together. Records that arrive together share a transaction (group
// commit); a nil error means this one is committed. When ctx ends first,
// Record returns an error saying whether the record was queued: a queued
// one is still written, within writeBound.
func (s *Store) Record(ctx context.Context, e release.AuditEntry, f *release.Followed, actor bool) error {
	rec := &record{entry: e, actor: actor, done: make(chan error, 1)}
	if f != nil {
		copied := *f
		rec.follow = &copied
	}
	if err := s.rec.submit(ctx, rec); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	return nil
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/releasebot/releasebot/release"
)

const promptColumns = `id, pipeline_id, task_name, approval_task, execution_id, channel, ts, thread_ts, asked_by, asked_at, note,
	started_by, required, deciding, deciding_since, uncertain, last_error, decision, decided_by, decided_at, status,
	deadline, reminders, escalated`

// OpenPrompt returns the undecided prompt about the same execution at the
// same approval task as p, or stores p when there is none, in one step
// across replicas (a unique index on undecided prompts). Storing p closes
// the open prompts of older executions at that gate as superseded, in the
// same transaction, and returns them so that their messages can say so.
func (s *Store) OpenPrompt(ctx context.Context, p *release.Prompt) (got release.Prompt, created bool, superseded []release.Prompt, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		got, created, superseded, err = s.openPrompt(ctx, tx, p)
		return err
	})
	if err != nil {
		return release.Prompt{}, false, nil, fmt.Errorf("open prompt: %w", err)
	}
	return got, created, superseded, nil
}

func (s *Store) openPrompt(ctx context.Context, tx *sql.Tx, p *release.Prompt) (release.Prompt, bool, []release.Prompt, error) {
	n, err := execTx(ctx, tx, s, `INSERT INTO prompts (id, pipeline_id, task_name, approval_task, execution_id, channel, ts, thread_ts,
		asked_by, asked_at, note, started_by, required, deadline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		p.ID, p.PipelineID, p.TaskName, p.ApprovalTask, p.ExecutionID, p.Channel, p.TS, p.ThreadTS, p.AskedBy, millis(p.AskedAt),
		p.Note, strings.Join(p.Actors, ","), p.Required, millis(p.Deadline))
	if err != nil {
		return release.Prompt{}, false, nil, err
	}
	if n == 0 {
		row := tx.QueryRowContext(ctx, s.rebind(`SELECT `+promptColumns+` FROM prompts
			WHERE pipeline_id = ? AND approval_task = ? AND execution_id = ? AND decision = ''`), p.PipelineID, p.ApprovalTask, p.ExecutionID)
		got, err := s.scanPrompt(ctx, tx, row)
		if err == nil && got.TS == "" && got.Deciding == "" && p.AskedAt.Sub(got.AskedAt) > abandonedAfter {
			// Its poster died before it was posted: it must not hold the
			// gate. It goes, with its votes, and p takes its place.
			if err := s.dropUnposted(ctx, tx, got.ID); err != nil {
				return release.Prompt{}, false, nil, err
			}
			return s.openPrompt(ctx, tx, p)
		}
		return got, false, nil, err
	}
	older, err := s.promptsWhere(ctx, tx, `pipeline_id = ? AND approval_task = ? AND execution_id <> ? AND decision = ''`,
		p.PipelineID, p.ApprovalTask, p.ExecutionID)
	if err != nil {
		return release.Prompt{}, false, nil, err
	}
	var superseded []release.Prompt
	for _, o := range older {
		was := o
		if !o.Supersede(p.ExecutionID, p.AskedAt) {
			continue
		}
		// A vote may have claimed it since it was read: then it is not
		// superseded, and its message must not say so.
		won, err := s.savePrompt(ctx, tx, &was, &o)
		if err == nil && won {
			o, err = s.getPrompt(ctx, tx, o.ID, false)
			superseded = append(superseded, o)
		}
		if err != nil {
			return release.Prompt{}, false, nil, err
		}
	}
	got, err := s.getPrompt(ctx, tx, p.ID, false)
	return got, true, superseded, err
}

// GetPrompt returns prompt id, or ErrNotFound.
func (s *Store) GetPrompt(ctx context.Context, id string) (release.Prompt, error) {
	return s.getPrompt(ctx, s.db, id, false)
}

// UndecidedPrompts lists every prompt that is posted and not decided yet,
// oldest first: open, deciding or uncertain.
func (s *Store) UndecidedPrompts(ctx context.Context) ([]release.Prompt, error) {
	ps, err := s.promptsWhere(ctx, s.db, `decision = '' AND ts <> ''`)
	if err != nil {
		return nil, fmt.Errorf("undecided prompts: %w", err)
	}
	return ps, nil
}

// OpenPromptOf returns the newest undecided prompt about an execution, at
// any approval task, or ErrNotFound.
func (s *Store) OpenPromptOf(ctx context.Context, pipelineID, executionID string) (release.Prompt, error) {
	ps, err := s.promptsWhere(ctx, s.db, `pipeline_id = ? AND execution_id = ? AND decision = '' AND ts <> ''`, pipelineID, executionID)
	if err != nil {
		return release.Prompt{}, fmt.Errorf("open prompt of an execution: %w", err)
	}
	if len(ps) == 0 {
		return release.Prompt{}, ErrNotFound
	}
	return ps[len(ps)-1], nil
}

func (s *Store) promptsWhere(ctx context.Context, q querier, where string, args ...any) ([]release.Prompt, error) {
	return s.promptsByID(ctx, q, `SELECT id FROM prompts WHERE `+where+` ORDER BY asked_at, id`, args...)
}

// promptsByID reads the prompts whose IDs query returns, in its order.
func (s *Store) promptsByID(ctx context.Context, q querier, query string, args ...any) ([]release.Prompt, error) {
	rows, err := q.QueryContext(ctx, s.rebind(query), args...)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]release.Prompt, 0, len(ids))
	for _, id := range ids {
		p, err := s.getPrompt(ctx, q, id, false)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// getPrompt reads prompt id with its votes; forUpdate locks its row until
// the transaction q ends (PostgreSQL; SQLite's single writer needs no lock).
func (s *Store) getPrompt(ctx context.Context, q querier, id string, forUpdate bool) (release.Prompt, error) {
	query := `SELECT ` + promptColumns + ` FROM prompts WHERE id = ?`
	if forUpdate && s.postgres {
		query += ` FOR UPDATE`
	}
	p, err := s.scanPrompt(ctx, q, q.QueryRowContext(ctx, s.rebind(query), id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return release.Prompt{}, fmt.Errorf("get prompt: %w", err)
	}
	return p, err
}

func (s *Store) scanPrompt(ctx context.Context, q querier, row *sql.Row) (release.Prompt, error) {
	var p release.Prompt
	var askedAt, decidingSince, decidedAt, deadline int64
	var decision, actors, uncertain string
	var status, escalated int
	err := row.Scan(&p.ID, &p.PipelineID, &p.TaskName, &p.ApprovalTask, &p.ExecutionID, &p.Channel, &p.TS, &p.ThreadTS, &p.AskedBy,
		&askedAt, &p.Note, &actors, &p.Required, &p.Deciding, &decidingSince, &uncertain, &p.LastError, &decision, &p.DecidedBy,
		&decidedAt, &status, &deadline, &p.Reminders, &escalated)
	if errors.Is(err, sql.ErrNoRows) {
		return release.Prompt{}, ErrNotFound
	}
	if err != nil {
		return release.Prompt{}, err
	}
	p.AskedAt, p.DecidingSince, p.DecidedAt = fromMillis(askedAt), fromMillis(decidingSince), fromMillis(decidedAt)
	p.Deadline, p.Escalated = fromMillis(deadline), escalated == 1
	p.Decision, p.Status, p.Uncertain = release.Decision(decision), release.Status(status), uncertain != ""
	if actors != "" {
		p.Actors = strings.Split(actors, ",")
	}
	rows, err := q.QueryContext(ctx, s.rebind(`SELECT user_id, decision, comment, at FROM votes WHERE prompt_id = ? ORDER BY seq, at, user_id`), p.ID)
	if err != nil {
		return release.Prompt{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var b release.Ballot
		var vote string
		var at int64
		if err := rows.Scan(&b.User, &vote, &b.Comment, &at); err != nil {
			return release.Prompt{}, err
		}
		b.Vote, b.At = release.Decision(vote), fromMillis(at)
		p.Votes = append(p.Votes, b)
	}
	return p, rows.Err()
}

// SetPromptMessage records where the prompt was posted: its message and the
// thread it is in, if any.
func (s *Store) SetPromptMessage(ctx context.Context, id, channel, ts, threadTS string) error {
	if _, err := s.exec(ctx, `UPDATE prompts SET channel = ?, ts = ?, thread_ts = ? WHERE id = ?`, channel, ts, threadTS, id); err != nil {
		return fmt.Errorf("set prompt message: %w", err)
	}
	return nil
}

// abandonedAfter is how long a prompt may stay unposted before another
// one for the same question replaces it.
const abandonedAfter = time.Minute

// DropPrompt forgets a prompt that was never posted and is not being
// decided; a posted or claimed prompt, and its votes, stay.
func (s *Store) DropPrompt(ctx context.Context, id string) error {
	if err := s.inTx(ctx, func(tx *sql.Tx) error { return s.dropUnposted(ctx, tx, id) }); err != nil {
		return fmt.Errorf("drop prompt: %w", err)
	}
	return nil
}

func (s *Store) dropUnposted(ctx context.Context, tx *sql.Tx, id string) error {
	n, err := execTx(ctx, tx, s, `DELETE FROM prompts WHERE id = ? AND ts = '' AND decision = '' AND deciding = ''`, id)
	if err == nil && n == 1 {
		_, err = execTx(ctx, tx, s, `DELETE FROM votes WHERE prompt_id = ?`, id)
	}
	return err
}

// Vote records user's vote on prompt id by the rules of release.Prompt
// (CheckVote, CastVote, Claim). It returns the prompt as it then is and
// whether this caller holds the claim to send the decision upstream: across
// every replica exactly one caller gets it, the others get a
// *release.VoteError saying who decided. Whoever started, retried or
// continued the prompt's execution through releasebot counts as one of its
// actors, also when that was recorded after the prompt was opened.
func (s *Store) Vote(ctx context.Context, id, user string, vote release.Decision, comment string, allowSelf bool, now time.Time) (release.Prompt, bool, error) {
	var p release.Prompt
	var claimed bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// The row lock (PostgreSQL) or the single connection (SQLite) makes
		// the check, the vote and the claim one step.
		var err error
		if p, err = s.getPrompt(ctx, tx, id, true); err != nil {
			return err
		}
		actors, err := s.actors(ctx, tx, p.PipelineID, p.ExecutionID)
		if err != nil {
			return err
		}
		p.AddActors(actors...)
		if err := p.CheckVote(user, vote, allowSelf); err != nil {
			return err
		}
		was := p
		if claimed = p.CastVote(user, vote, comment, now); claimed {
			p.Claim(user, now)
		}
		_, err = s.savePrompt(ctx, tx, &was, &p)
		return err
	})
	var ve *release.VoteError
	switch {
	case errors.As(err, &ve):
		return ve.Prompt, false, err
	case err != nil && !errors.Is(err, ErrNotFound):
		return release.Prompt{}, false, fmt.Errorf("vote: %w", err)
	}
	return p, claimed, err
}

// UpdatePrompt stores p, changed by the rules of release.Prompt from was,
// if the prompt is still as was says (undecided, same claim taken at the
// same time, same certainty): a compare-and-set, so that of two replicas
// that act on the same prompt only one wins. It reports whether it won.
func (s *Store) UpdatePrompt(ctx context.Context, was, p *release.Prompt) (bool, error) {
	var won bool
	err := s.inTx(ctx, func(tx *sql.Tx) (err error) {
		won, err = s.savePrompt(ctx, tx, was, p)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("update prompt: %w", err)
	}
	return won, nil
}

func (s *Store) savePrompt(ctx context.Context, tx *sql.Tx, was, p *release.Prompt) (bool, error) {
	n, err := execTx(ctx, tx, s, `UPDATE prompts SET deciding = ?, deciding_since = ?, uncertain = ?, last_error = ?, decision = ?,
		decided_by = ?, decided_at = ?, status = ?, started_by = ?
		WHERE id = ? AND decision = '' AND deciding = ? AND deciding_since = ? AND uncertain = ?`,
		p.Deciding, millis(p.DecidingSince), flag(p.Uncertain), p.LastError, string(p.Decision), p.DecidedBy, millis(p.DecidedAt),
		int(p.Status), strings.Join(p.Actors, ","), p.ID, was.Deciding, millis(was.DecidingSince), flag(was.Uncertain))
	if err != nil || n == 0 {
		return false, err
	}
	for _, b := range was.Votes {
		if !slices.ContainsFunc(p.Votes, func(v release.Ballot) bool { return v.User == b.User }) {
			if _, err := execTx(ctx, tx, s, `DELETE FROM votes WHERE prompt_id = ? AND user_id = ?`, p.ID, b.User); err != nil {
				return false, err
			}
		}
	}
	for _, b := range p.Votes {
		if i := slices.IndexFunc(was.Votes, func(v release.Ballot) bool { return v.User == b.User }); i >= 0 && was.Votes[i] == b {
			continue
		}
		// seq orders votes by arrival, also within one millisecond.
		if _, err := execTx(ctx, tx, s, `INSERT INTO votes (prompt_id, user_id, decision, comment, at, seq)
			VALUES (?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM votes WHERE prompt_id = ?))
			ON CONFLICT (prompt_id, user_id) DO UPDATE SET decision = excluded.decision, comment = excluded.comment,
				at = excluded.at, seq = excluded.seq`,
			p.ID, b.User, string(b.Vote), b.Comment, millis(b.At), p.ID); err != nil {
			return false, err
		}
	}
	return true, nil
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return ""
}

// AddActor records that user made an execution run through releasebot
// (start, retry, continue): they may not approve it.
func (s *Store) AddActor(ctx context.Context, pipelineID, executionID, user string, at time.Time) error {
	if _, err := s.stmts.actor.ExecContext(ctx, pipelineID, executionID, user, millis(at)); err != nil {
		return fmt.Errorf("add actor: %w", err)
	}
	return nil
}

const insertActor = insertActorRows + actorRow + insertActorTail

// insertActor, for one row or many.
const (
	insertActorRows = `INSERT INTO actors (pipeline_id, execution_id, user_id, at) VALUES `
	actorRow        = `(?, ?, ?, ?)`
	// actorWidth is actorRow's number of arguments.
	actorWidth      = 4
	insertActorTail = ` ON CONFLICT DO NOTHING`
)

// appendActorArgs appends the actor row of e: its user made its execution run.
func appendActorArgs(dst []any, e *release.AuditEntry) []any {
	return append(dst, e.PipelineID, e.Execution, e.User, millis(e.At))
}

// Actors lists who made an execution run through releasebot.
func (s *Store) Actors(ctx context.Context, pipelineID, executionID string) ([]string, error) {
	a, err := s.actors(ctx, s.db, pipelineID, executionID)
	if err != nil {
		return nil, fmt.Errorf("actors: %w", err)
	}
	return a, nil
}

func (s *Store) actors(ctx context.Context, q querier, pipelineID, executionID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, s.rebind(`SELECT user_id FROM actors WHERE pipeline_id = ? AND execution_id = ? ORDER BY at, user_id`),
		pipelineID, executionID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// NudgePrompt records that an undecided prompt's reminders or escalation
// went out, if nobody recorded it first (a compare-and-set on the count and
// the flag): each happens once, whatever the number of replicas and
// restarts. It reports whether this caller won.
func (s *Store) NudgePrompt(ctx context.Context, was *release.Prompt, reminders int, escalated bool) (bool, error) {
	n, err := s.exec(ctx, `UPDATE prompts SET reminders = ?, escalated = ? WHERE id = ? AND decision = '' AND reminders = ? AND escalated = ?`,
		reminders, b2i(escalated), was.ID, was.Reminders, b2i(was.Escalated))
	if err != nil {
		return false, fmt.Errorf("nudge prompt: %w", err)
	}
	return n == 1, nil
}

// DecisionsBy returns the last n prompts user voted on, newest vote first,
// whatever became of them.
func (s *Store) DecisionsBy(ctx context.Context, user string, n int) ([]release.Prompt, error) {
	ps, err := s.promptsVotedBy(ctx, user, n)
	if err != nil {
		return nil, fmt.Errorf("decisions by a user: %w", err)
	}
	return ps, nil
}

func (s *Store) promptsVotedBy(ctx context.Context, user string, n int) ([]release.Prompt, error) {
	return s.promptsByID(ctx, s.db, `SELECT prompt_id FROM votes WHERE user_id = ? ORDER BY at DESC, seq DESC LIMIT ?`, user, n)
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/releasebot/releasebot/api"
)

// Prompt is an approval question with its votes and, once made, its decision.
type Prompt struct {
	ID           string
	PipelineID   string
	TaskName     string
	ApprovalTask string
	Channel      string
	TS           string
	AskedBy      string // empty when an approve or refuse command opened it
	AskedAt      time.Time
	Note         string
	StartedBy    string // who started the execution through releasebot, if known
	Required     int

	Approvals []string          // who approved, in order
	Comments  map[string]string // voter → comment, as typed
	Deciding  string            // who holds the claim while the decision is sent upstream
	// Uncertain is set when the decision may have reached ServiceStage but
	// its answer was lost: the claim is kept, so nothing is resent.
	Uncertain string
	LastError string

	Decision    api.ApprovalType
	DecidedBy   string
	DecidedAt   time.Time
	ExecutionID string
	Status      api.Status

	refusedBy []string
}

// Voters lists who voted, approvers first, then whoever refused or holds
// the claim.
func (p *Prompt) Voters() []string {
	vs := append([]string(nil), p.Approvals...)
	for _, u := range append(append([]string(nil), p.refusedBy...), p.DecidedBy, p.Deciding) {
		if u != "" && !contains(vs, u) {
			vs = append(vs, u)
		}
	}
	return vs
}

// Message is what is sent upstream as the comment of decision: for agree,
// the approvers' comments (the one, or each with its author); for refuse,
// the refuser's reason. A refusal that failed upstream never rides along
// with a later approval.
func (p *Prompt) Message(decision api.ApprovalType) string {
	voters := p.Approvals
	if decision == api.ApprovalRefuse {
		voters = []string{p.Deciding}
	}
	var authors, parts []string
	for _, u := range voters {
		if c := p.Comments[u]; c != "" {
			authors, parts = append(authors, u), append(parts, c)
		}
	}
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	for i := range parts {
		parts[i] = authors[i] + ": " + parts[i]
	}
	return strings.Join(parts, "\n")
}

// StartedByAny reports whether user started the release, as recorded in
// StartedBy (a comma-separated list: the first start and any retry).
func (p *Prompt) StartedByAny(user string) bool {
	return user != "" && contains(strings.Split(p.StartedBy, ","), user)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// VoteError says why a vote was not taken. Prompt is the prompt as it is.
type VoteError struct {
	Kind   VoteErrorKind
	Prompt Prompt
}

// VoteErrorKind is why a vote was not taken.
type VoteErrorKind int

// The reasons a vote is not taken.
const (
	VoteDecided   VoteErrorKind = iota + 1 // someone decided already
	VoteUncertain                          // a decision may have reached ServiceStage
	VoteDeciding                           // someone's decision is being sent right now
	VoteSelf                               // the voter asked for it or started the release
)

func (e *VoteError) Error() string {
	return [...]string{"", "already decided", "outcome unknown", "being decided", "self-approval"}[e.Kind]
}

const promptColumns = `id, pipeline_id, task_name, approval_task, channel, ts, asked_by, asked_at, note, started_by, required,
	deciding, uncertain, last_error, decision, decided_by, decided_at, execution_id, status`

// OpenPrompt returns the undecided prompt for the same question as p (its
// release task and approval task), or stores p when there is none, in one
// step across replicas (a unique index on open prompts).
func (s *Store) OpenPrompt(ctx context.Context, p *Prompt) (Prompt, bool, error) {
	// A few tries: the open prompt found by the insert may be decided
	// before it can be read, and then there is room for p.
	for range 3 {
		n, err := s.exec(ctx, `INSERT INTO prompts (id, pipeline_id, task_name, approval_task, channel, ts, asked_by, asked_at, note, started_by, required)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			p.ID, p.PipelineID, p.TaskName, p.ApprovalTask, p.Channel, p.TS, p.AskedBy, millis(p.AskedAt), p.Note, p.StartedBy, p.Required)
		if err != nil {
			return Prompt{}, false, fmt.Errorf("open prompt: %w", err)
		}
		if n == 1 {
			got, err := s.GetPrompt(ctx, p.ID)
			return got, err == nil, err
		}
		row := s.db.QueryRowContext(ctx, s.rebind(`SELECT `+promptColumns+` FROM prompts
			WHERE pipeline_id = ? AND approval_task = ? AND decision = ''`), p.PipelineID, p.ApprovalTask)
		got, err := s.scanPrompt(ctx, s.db, row)
		if err == nil {
			return got, false, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return Prompt{}, false, fmt.Errorf("open prompt: %w", err)
		}
	}
	return Prompt{}, false, fmt.Errorf("open prompt: prompt id %s is taken, or the question keeps being decided", p.ID)
}

// GetPrompt returns prompt id, or ErrNotFound.
func (s *Store) GetPrompt(ctx context.Context, id string) (Prompt, error) {
	return s.getPrompt(ctx, s.db, id, false)
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// getPrompt reads prompt id with its votes; forUpdate locks its row until
// the transaction q ends (PostgreSQL; SQLite's single writer needs no lock).
func (s *Store) getPrompt(ctx context.Context, q querier, id string, forUpdate bool) (Prompt, error) {
	query := `SELECT ` + promptColumns + ` FROM prompts WHERE id = ?`
	if forUpdate && s.postgres {
		query += ` FOR UPDATE`
	}
	p, err := s.scanPrompt(ctx, q, q.QueryRowContext(ctx, s.rebind(query), id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Prompt{}, fmt.Errorf("get prompt: %w", err)
	}
	return p, err
}

func (s *Store) scanPrompt(ctx context.Context, q querier, row *sql.Row) (Prompt, error) {
	var p Prompt
	var askedAt, decidedAt int64
	var decision string
	var status int
	err := row.Scan(&p.ID, &p.PipelineID, &p.TaskName, &p.ApprovalTask, &p.Channel, &p.TS, &p.AskedBy, &askedAt, &p.Note,
		&p.StartedBy, &p.Required, &p.Deciding, &p.Uncertain, &p.LastError, &decision, &p.DecidedBy, &decidedAt, &p.ExecutionID, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return Prompt{}, ErrNotFound
	}
	if err != nil {
		return Prompt{}, err
	}
	p.AskedAt, p.DecidedAt = fromMillis(askedAt), fromMillis(decidedAt)
	p.Decision, p.Status = api.ApprovalType(decision), api.Status(status)
	p.Comments = map[string]string{}
	rows, err := q.QueryContext(ctx, s.rebind(`SELECT user_id, decision, comment FROM votes WHERE prompt_id = ? ORDER BY seq, at, user_id`), p.ID)
	if err != nil {
		return Prompt{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var user, d, comment string
		if err := rows.Scan(&user, &d, &comment); err != nil {
			return Prompt{}, err
		}
		if api.ApprovalType(d) == api.ApprovalAgree {
			p.Approvals = append(p.Approvals, user)
		} else {
			p.refusedBy = append(p.refusedBy, user)
		}
		if comment != "" {
			p.Comments[user] = comment
		}
	}
	return p, rows.Err()
}

// SetPromptMessage records where the prompt was posted.
func (s *Store) SetPromptMessage(ctx context.Context, id, channel, ts string) error {
	if _, err := s.exec(ctx, `UPDATE prompts SET channel = ?, ts = ? WHERE id = ?`, channel, ts, id); err != nil {
		return fmt.Errorf("set prompt message: %w", err)
	}
	return nil
}

// DropPrompt forgets a prompt that was never posted.
func (s *Store) DropPrompt(ctx context.Context, id string) error {
	if _, err := s.exec(ctx, `DELETE FROM votes WHERE prompt_id IN (SELECT id FROM prompts WHERE id = ? AND ts = '')`, id); err != nil {
		return fmt.Errorf("drop prompt: %w", err)
	}
	if _, err := s.exec(ctx, `DELETE FROM prompts WHERE id = ? AND ts = ''`, id); err != nil {
		return fmt.Errorf("drop prompt: %w", err)
	}
	return nil
}

// Vote records user's decision and comment on prompt id. It returns the
// prompt as it then is and whether this caller holds the claim to send the
// decision upstream: across every replica exactly one caller gets it (a
// conditional update), the others get a *VoteError saying who decided.
// Separation of duties applies to approvals only: anyone allowed to refuse
// may stop a release.
func (s *Store) Vote(ctx context.Context, id, user string, decision api.ApprovalType, comment string, allowSelf bool, now time.Time) (Prompt, bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Prompt{}, false, fmt.Errorf("vote: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// The row lock (PostgreSQL) or the single connection (SQLite) makes the
	// check, the vote and the claim one step: a vote is stored only when
	// it is taken, and only one vote claims.
	p, err := s.getPrompt(ctx, tx, id, true)
	if err != nil {
		return Prompt{}, false, err
	}
	// Whoever started the release task since the prompt was opened counts
	// too: the start may be recorded after the prompt was.
	var starter string
	err = tx.QueryRowContext(ctx, s.rebind(`SELECT user_id FROM starts WHERE pipeline_id = ?`), p.PipelineID).Scan(&starter)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Prompt{}, false, fmt.Errorf("vote: %w", err)
	}
	check := p
	if starter != "" && !check.StartedByAny(starter) {
		check.StartedBy = strings.TrimPrefix(check.StartedBy+","+starter, ",")
	}
	if err := voteAllowed(&check, user, decision, allowSelf); err != nil {
		return check, false, err
	}
	// seq orders votes by arrival, also within one millisecond.
	if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO votes (prompt_id, user_id, decision, comment, at, seq)
		VALUES (?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM votes WHERE prompt_id = ?))
		ON CONFLICT (prompt_id, user_id) DO UPDATE SET decision = excluded.decision,
			comment = CASE WHEN excluded.comment = '' THEN votes.comment ELSE excluded.comment END, at = excluded.at`),
		id, user, string(decision), comment, millis(now), id); err != nil {
		return Prompt{}, false, fmt.Errorf("vote: %w", err)
	}
	claimed := true
	if decision == api.ApprovalAgree {
		var approvals int
		if err := tx.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*) FROM votes WHERE prompt_id = ? AND decision = ?`),
			id, string(api.ApprovalAgree)).Scan(&approvals); err != nil {
			return Prompt{}, false, fmt.Errorf("vote: %w", err)
		}
		claimed = approvals >= p.Required
	}
	if claimed {
		if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE prompts SET deciding = ? WHERE id = ?`), user, id); err != nil {
			return Prompt{}, false, fmt.Errorf("vote: claim: %w", err)
		}
	}
	if p, err = s.getPrompt(ctx, tx, id, false); err != nil {
		return Prompt{}, false, err
	}
	if err := tx.Commit(); err != nil {
		return Prompt{}, false, fmt.Errorf("vote: %w", err)
	}
	return p, claimed, nil
}

// voteAllowed returns a *VoteError when p takes no vote from user now.
func voteAllowed(p *Prompt, user string, decision api.ApprovalType, allowSelf bool) error {
	switch {
	case p.Decision != "":
		return &VoteError{Kind: VoteDecided, Prompt: *p}
	case p.Uncertain != "":
		return &VoteError{Kind: VoteUncertain, Prompt: *p}
	case p.Deciding != "":
		return &VoteError{Kind: VoteDeciding, Prompt: *p}
	case decision == api.ApprovalAgree && !allowSelf && (user == p.AskedBy || p.StartedByAny(user)):
		return &VoteError{Kind: VoteSelf, Prompt: *p}
	}
	return nil
}

// Decided records the outcome of the claimed decision.
func (s *Store) Decided(ctx context.Context, id string, decision api.ApprovalType, by string, at time.Time, e *api.Execution) (Prompt, error) {
	if e == nil {
		e = &api.Execution{}
	}
	if _, err := s.exec(ctx, `UPDATE prompts SET deciding = '', uncertain = '', last_error = '', decision = ?, decided_by = ?, decided_at = ?,
		execution_id = ?, status = ? WHERE id = ?`, string(decision), by, millis(at), e.ID, int(e.Status), id); err != nil {
		return Prompt{}, fmt.Errorf("record decision: %w", err)
	}
	return s.GetPrompt(ctx, id)
}

// Failed releases the claim after the upstream call failed for sure, so
// that the decision can be tried again.
func (s *Store) Failed(ctx context.Context, id, reason string) (Prompt, error) {
	if _, err := s.exec(ctx, `UPDATE prompts SET deciding = '', last_error = ? WHERE id = ?`, reason, id); err != nil {
		return Prompt{}, fmt.Errorf("record failure: %w", err)
	}
	return s.GetPrompt(ctx, id)
}

// Uncertain keeps the claim after a call whose outcome is unknown.
func (s *Store) Uncertain(ctx context.Context, id, reason string) (Prompt, error) {
	if _, err := s.exec(ctx, `UPDATE prompts SET uncertain = deciding, last_error = ? WHERE id = ?`, reason, id); err != nil {
		return Prompt{}, fmt.Errorf("record unknown outcome: %w", err)
	}
	return s.GetPrompt(ctx, id)
}

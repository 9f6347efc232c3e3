// Package store keeps releasebot's state in SQLite or PostgreSQL: approval prompts and votes, confirmations, followed executions and the audit log.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver, pure Go
)

// Store is releasebot's database. It is safe for concurrent use, and
// several processes may share one PostgreSQL database.
type Store struct {
	db       *sql.DB
	postgres bool
	stmts    statements
	rec      *recorder // Record's group-commit writer
	unended  lockCache // SQLite only: the locks not ended, between lock writes
}

// Open connects to the database and applies the migrations it lacks.
// driver is "sqlite" (dsn is a file path) or "postgres" (dsn is a URL).
// The caller must call Close.
func Open(ctx context.Context, driver, dsn string) (*Store, error) {
	var s *Store
	switch driver {
	case "sqlite":
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		// A multi-row upsert keeps a statement journal (to undo just that
		// statement); past 64 KiB SQLite spilled it to a temporary file,
		// created, written and deleted per batch: 17 % of a batch's
		// pwrite calls and all its open and close calls, by strace.
		q.Add("_pragma", "temp_store(MEMORY)")
		// A transaction takes the write lock as it begins, waiting for it
		// up to the busy timeout. Begun as a reader, one that then writes
		// (a batch of records reads the last audit number first) would get
		// SQLITE_BUSY at once, without waiting, were another process
		// writing: SQLite's guard against two upgrading readers deadlocking.
		// With one connection, nothing in this process waits longer.
		q.Add("_txlock", "immediate")
		// The path is part of a URI: '%', '?' and '#' in it must be escaped.
		path := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(dsn)
		db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		// One connection: SQLite has one writer anyway, and this makes every
		// conditional update below atomic without retry loops.
		db.SetMaxOpenConns(1)
		s = &Store{db: db}
	case "postgres":
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		db.SetMaxOpenConns(16)
		db.SetConnMaxIdleTime(5 * time.Minute)
		s = &Store{db: db, postgres: true}
	default:
		return nil, fmt.Errorf("unknown database driver %q", driver)
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.db.Close()
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		s.stmts.close()
		_ = s.db.Close()
		return nil, err
	}
	s.rec = newRecorder(s.writeRecords)
	return s, nil
}

// Close writes the records still queued, then closes the database.
func (s *Store) Close() error {
	s.rec.close()
	s.stmts.close()
	return s.db.Close()
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// migrations are applied in order, each once; never edit a published one.
var migrations = []string{
	`CREATE TABLE prompts (
		id            TEXT PRIMARY KEY,
		pipeline_id   TEXT NOT NULL,
		task_name     TEXT NOT NULL,
		approval_task TEXT NOT NULL,
		channel       TEXT NOT NULL,
		ts            TEXT NOT NULL DEFAULT '',
		asked_by      TEXT NOT NULL DEFAULT '',
		asked_at      BIGINT NOT NULL,
		note          TEXT NOT NULL DEFAULT '',
		started_by    TEXT NOT NULL DEFAULT '',
		required      INTEGER NOT NULL,
		deciding      TEXT NOT NULL DEFAULT '',
		uncertain     TEXT NOT NULL DEFAULT '',
		last_error    TEXT NOT NULL DEFAULT '',
		decision      TEXT NOT NULL DEFAULT '',
		decided_by    TEXT NOT NULL DEFAULT '',
		decided_at    BIGINT NOT NULL DEFAULT 0,
		execution_id  TEXT NOT NULL DEFAULT '',
		status        INTEGER NOT NULL DEFAULT 0
	)`,
	// One open prompt per question, whichever replica asks.
	`CREATE UNIQUE INDEX prompts_open ON prompts (pipeline_id, approval_task) WHERE decision = ''`,
	`CREATE TABLE votes (
		prompt_id TEXT NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
		user_id   TEXT NOT NULL,
		decision  TEXT NOT NULL,
		comment   TEXT NOT NULL DEFAULT '',
		at        BIGINT NOT NULL,
		seq       BIGINT NOT NULL,
		PRIMARY KEY (prompt_id, user_id)
	)`,
	`CREATE TABLE confirmations (
		id           TEXT PRIMARY KEY,
		action       TEXT NOT NULL,
		pipeline_id  TEXT NOT NULL,
		task_name    TEXT NOT NULL,
		requested_by TEXT NOT NULL,
		channel      TEXT NOT NULL,
		ts           TEXT NOT NULL DEFAULT '',
		created_at   BIGINT NOT NULL,
		used_by      TEXT NOT NULL DEFAULT '',
		used_at      BIGINT NOT NULL DEFAULT 0,
		confirmed    INTEGER NOT NULL DEFAULT 0
	)`,
	`CREATE TABLE starts (
		pipeline_id TEXT PRIMARY KEY,
		user_id     TEXT NOT NULL,
		at          BIGINT NOT NULL
	)`,
	`CREATE TABLE audit (
		seq         BIGINT NOT NULL,
		at          BIGINT NOT NULL,
		user_id     TEXT NOT NULL,
		channel     TEXT NOT NULL,
		verb        TEXT NOT NULL,
		task_name   TEXT NOT NULL,
		pipeline_id TEXT NOT NULL,
		sent        TEXT NOT NULL,
		execution   TEXT NOT NULL,
		outcome     TEXT NOT NULL
	)`,
	`CREATE INDEX audit_by_time ON audit (at, seq)`,
	`CREATE INDEX audit_by_task ON audit (pipeline_id, at, seq)`,
	// Followed executions: written when an execution starts being followed,
	// read by the poller (owner and lease let one replica follow each).
	`CREATE TABLE followed (
		pipeline_id  TEXT NOT NULL,
		execution_id TEXT NOT NULL,
		task_name    TEXT NOT NULL,
		channel      TEXT NOT NULL,
		ts           TEXT NOT NULL,
		started_by   TEXT NOT NULL,
		status       INTEGER NOT NULL,
		created_at   BIGINT NOT NULL,
		updated_at   BIGINT NOT NULL,
		finished_at  BIGINT NOT NULL DEFAULT 0,
		owner        TEXT NOT NULL DEFAULT '',
		lease_until  BIGINT NOT NULL DEFAULT 0,
		PRIMARY KEY (pipeline_id, execution_id)
	)`,
	`ALTER TABLE followed ADD COLUMN prompted INTEGER NOT NULL DEFAULT 0`,
	`ALTER TABLE followed ADD COLUMN hinted INTEGER NOT NULL DEFAULT 0`,
	// One replica at a time polls for followed executions.
	`CREATE TABLE leases (
		name  TEXT PRIMARY KEY,
		owner TEXT NOT NULL,
		until BIGINT NOT NULL
	)`,
	`ALTER TABLE followed ADD COLUMN trigger_at BIGINT NOT NULL DEFAULT 0`,
	// MAX(seq) for each new entry must not scan the whole log.
	`CREATE INDEX audit_seq ON audit (seq)`,
	`CREATE INDEX votes_seq ON votes (prompt_id, seq)`,
	// A prompt is about one execution: one undecided prompt per execution
	// and approval task, and votes never cross executions.
	`DROP INDEX prompts_open`,
	`CREATE UNIQUE INDEX prompts_open_execution ON prompts (pipeline_id, approval_task, execution_id) WHERE decision = ''`,
	`ALTER TABLE prompts ADD COLUMN thread_ts TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE prompts ADD COLUMN deciding_since BIGINT NOT NULL DEFAULT 0`,
	// Who started, retried or continued an execution through releasebot.
	`CREATE TABLE actors (
		pipeline_id  TEXT NOT NULL,
		execution_id TEXT NOT NULL,
		user_id      TEXT NOT NULL,
		at           BIGINT NOT NULL,
		PRIMARY KEY (pipeline_id, execution_id, user_id)
	)`,
	`ALTER TABLE followed ADD COLUMN action TEXT NOT NULL DEFAULT ''`,
	// The poller reads the unfinished ones every interval: no scan of
	// every execution ever followed, no sort.
	`CREATE INDEX followed_active ON followed (created_at, pipeline_id, execution_id) WHERE finished_at = 0`,
	// Reminders, escalation and deadline of a prompt (SPEC §8).
	`ALTER TABLE prompts ADD COLUMN deadline BIGINT NOT NULL DEFAULT 0`,
	`ALTER TABLE prompts ADD COLUMN reminders INTEGER NOT NULL DEFAULT 0`,
	`ALTER TABLE prompts ADD COLUMN escalated INTEGER NOT NULL DEFAULT 0`,
	// Locks (SPEC §9): one unended lock per release task, and one on all
	// ('*'); expiry_noted says the end at its time was announced (or that it
	// ended otherwise and there is nothing to announce).
	`CREATE TABLE locks (
		id           TEXT PRIMARY KEY,
		target       TEXT NOT NULL,
		task_name    TEXT NOT NULL,
		holder       TEXT NOT NULL,
		reason       TEXT NOT NULL,
		channel      TEXT NOT NULL,
		created_at   BIGINT NOT NULL,
		until        BIGINT NOT NULL,
		ended_at     BIGINT NOT NULL DEFAULT 0,
		ended_by     TEXT NOT NULL DEFAULT '',
		expiry_noted INTEGER NOT NULL DEFAULT 0
	)`,
	`CREATE UNIQUE INDEX locks_open ON locks (target) WHERE ended_at = 0`,
	`CREATE INDEX locks_unnoted ON locks (until) WHERE expiry_noted = 0`,
	// Confirmations of guarded actions (breaking a lock, acting during a
	// freeze), apart from stop and rollback's so that no button of one kind
	// can use the other.
	`CREATE TABLE guarded (
		id           TEXT PRIMARY KEY,
		kind         TEXT NOT NULL,
		action       TEXT NOT NULL,
		pipeline_id  TEXT NOT NULL,
		task_name    TEXT NOT NULL,
		detail       TEXT NOT NULL,
		requested_by TEXT NOT NULL,
		channel      TEXT NOT NULL,
		ts           TEXT NOT NULL DEFAULT '',
		created_at   BIGINT NOT NULL,
		used_by      TEXT NOT NULL DEFAULT '',
		used_at      BIGINT NOT NULL DEFAULT 0,
		confirmed    INTEGER NOT NULL DEFAULT 0
	)`,
	// The poller reads the unfinished executions of the release tasks that
	// moved, and those whose automatic prompt must be asked again; not
	// every execution followed.
	`CREATE INDEX followed_active_task ON followed (pipeline_id, created_at) WHERE finished_at = 0`,
	`CREATE INDEX followed_unprompted ON followed (created_at) WHERE finished_at = 0 AND status = 5 AND prompted = 0`,
}

// migrate applies what is missing, in one transaction; on PostgreSQL an
// advisory lock keeps replicas starting together from racing.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if s.postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7252019)`); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("migrate: the database is at version %d, newer than this releasebot (%d)", have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			return fmt.Errorf("migrate: version %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO schema_migrations (version) VALUES (?)`), v); err != nil {
			return fmt.Errorf("migrate: version %d: %w", v, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// rebind turns ? placeholders into PostgreSQL's $1, $2, ...
func (s *Store) rebind(q string) string {
	if !s.postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *Store) exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.rebind(q), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// inTx runs f in a transaction, committed when f returns nil.
func (s *Store) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func execTx(ctx context.Context, tx *sql.Tx, s *Store, q string, args ...any) (int64, error) {
	res, err := tx.ExecContext(ctx, s.rebind(q), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// ErrNotFound is returned for an unknown prompt or confirmation.
var ErrNotFound = errors.New("not found")

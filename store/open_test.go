package store_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/release"
	"github.com/releasebot/releasebot/store"
	"github.com/releasebot/releasebot/store/storetest"
)

func TestOpen(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		dsn := storetest.DSN(t, driver)

		s, err := store.Open(ctx, driver, dsn)
		require.NoError(t, err)
		require.NoError(t, s.Ping(ctx))
		MustOpenPrompt(t, s, question("P1", "pipe-1"))
		require.NoError(t, s.Close())

		raw := MustRaw(t, driver, dsn)
		var versions, top int
		require.NoError(t, raw.QueryRowContext(ctx, `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&versions, &top))
		require.Positive(t, versions)
		assert.Equal(t, top, versions, "schema_migrations: got %d rows up to version %d, want one per version", versions, top)

		t.Run("again is a no-op", func(t *testing.T) {
			s := MustOpen(t, driver, dsn)
			var n int
			require.NoError(t, raw.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n))
			assert.Equal(t, versions, n, "schema_migrations rows after a second Open")
			p, err := s.GetPrompt(ctx, "P1")
			require.NoError(t, err, "a prompt written before the second Open")
			assert.Equal(t, "pipe-1", p.PipelineID)
		})

		t.Run("newer schema is refused", func(t *testing.T) {
			dsn := storetest.DSN(t, driver)
			require.NoError(t, MustOpen(t, driver, dsn).Close())
			_, err := MustRaw(t, driver, dsn).ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (1000)`)
			require.NoError(t, err)
			s, err := store.Open(ctx, driver, dsn)
			if s != nil {
				_ = s.Close()
			}
			require.Error(t, err, "Open of a database at version 1000")
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), "version 1000, newer than this releasebot")
		})
	})
}

// The store's SQLite connection has the settings its DSN asks for: WAL,
// NORMAL syncs, a busy timeout, and statement journals kept in memory.
func TestSQLitePragmas(t *testing.T) {
	s, _ := MustNew(t, "sqlite")
	got, err := s.Pragmas(context.Background(), "journal_mode", "synchronous", "busy_timeout", "temp_store")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"journal_mode": "wal", "synchronous": "1", "busy_timeout": "10000", "temp_store": "2"}, got)
}

func TestOpenUnknownDriver(t *testing.T) {
	s, err := store.Open(context.Background(), "mysql", "whatever")
	require.Error(t, err)
	assert.Nil(t, s)
	assert.Contains(t, err.Error(), `unknown database driver "mysql"`)
}

func TestOpenConcurrentlyOnFreshPostgres(t *testing.T) {
	if !slices.Contains(storetest.Drivers(), "postgres") {
		t.Skipf("%s is not set", storetest.PostgresEnv)
	}
	dsn := storetest.DSN(t, "postgres")
	const n = 4
	stores := make([]*store.Store, n)
	errs := make([]error, n)
	together(n, func(i int) { stores[i], errs[i] = store.Open(context.Background(), "postgres", dsn) })
	for i := range n {
		if assert.NoError(t, errs[i], "Open #%d", i) {
			assert.NoError(t, stores[i].Close())
		}
	}
	var rows, top int
	require.NoError(t, MustRaw(t, "postgres", dsn).QueryRow(`SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&rows, &top))
	assert.Equal(t, top, rows, "schema_migrations: got %d rows up to version %d, want each version once", rows, top)
}

func TestRestart(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		dsn := storetest.DSN(t, driver)
		s, err := store.Open(ctx, driver, dsn)
		require.NoError(t, err)
		q := question("P1", "pipe-1")
		q.Required = 2
		MustOpenPrompt(t, s, q)
		require.NoError(t, s.SetPromptMessage(ctx, "P1", "C1", "1700000000.000100", ""))
		require.NoError(t, s.AddActor(ctx, "pipe-1", "E1", "URETRY", t0))
		require.False(t, MustVote(t, s, "P1", "U1", release.Agree, "a"))
		require.NoError(t, s.PutConfirmation(ctx, &release.Confirmation{ID: "K1", Action: release.ActionStop, PipelineID: "pipe-1",
			TaskName: "payments-api", RequestedBy: "UOP", Channel: "C1", CreatedAt: t0}))
		audit := release.AuditEntry{At: ms(t0), User: "U1", Channel: "C1", Verb: "approve", TaskName: "payments-api", PipelineID: "pipe-1", Outcome: "vote recorded"}
		require.NoError(t, s.AddAudit(ctx, audit))
		before := MustGet(t, s, "P1")
		require.NoError(t, s.Close())

		s = MustOpen(t, driver, dsn)
		assert.Equal(t, before, MustGet(t, s, "P1"), "the prompt after a restart")
		_, _, err = s.Vote(ctx, "P1", "URETRY", release.Agree, "", false, t0)
		assert.Equal(t, release.VoteSelf, voteErr(t, err).Kind, "an actor recorded before the restart approves")
		p, claimed, err := s.Vote(ctx, "P1", "U2", release.Agree, "b", false, t0)
		require.NoError(t, err)
		assert.True(t, claimed, "the quorum's second vote after a restart: claimed")
		assert.Equal(t, "U1: a\nU2: b", p.Message(release.Agree))

		c, err := s.TakeConfirmation(ctx, "K1", "U1", true, t0.Add(time.Minute), 5*time.Minute)
		require.NoError(t, err, "a confirmation after a restart")
		assert.Equal(t, "U1", c.UsedBy)

		entries, err := s.LastAudit(ctx, 20, "")
		require.NoError(t, err)
		assert.Equal(t, []release.AuditEntry{audit}, entries, "the audit log after a restart")
	})
}

func TestClosedStore(t *testing.T) {
	ctx := context.Background()
	p := question("P1", "pipe-1")
	cases := []struct {
		name       string
		call       func(s *store.Store) error
		wantPrefix string
	}{
		{"Ping", func(s *store.Store) error { return s.Ping(ctx) }, "sql: "},
		{"OpenPrompt", func(s *store.Store) error { _, _, _, err := s.OpenPrompt(ctx, question("P2", "pipe-2")); return err }, "open prompt: "},
		{"GetPrompt", func(s *store.Store) error { _, err := s.GetPrompt(ctx, "P1"); return err }, "get prompt: "},
		{"SetPromptMessage", func(s *store.Store) error { return s.SetPromptMessage(ctx, "P1", "C1", "1.2", "") }, "set prompt message: "},
		{"DropPrompt", func(s *store.Store) error { return s.DropPrompt(ctx, "P1") }, "drop prompt: "},
		{"Vote", func(s *store.Store) error {
			_, _, err := s.Vote(ctx, "P1", "U1", release.Agree, "", false, t0)
			return err
		}, "vote: "},
		{"UpdatePrompt", func(s *store.Store) error { _, err := s.UpdatePrompt(ctx, p, p); return err }, "update prompt: "},
		{"UndecidedPrompts", func(s *store.Store) error { _, err := s.UndecidedPrompts(ctx); return err }, "undecided prompts: "},
		{"OpenPromptOf", func(s *store.Store) error { _, err := s.OpenPromptOf(ctx, "pipe-1", "E1"); return err }, "open prompt of an execution: "},
		{"PutConfirmation", func(s *store.Store) error {
			return s.PutConfirmation(ctx, &release.Confirmation{ID: "K1", Action: release.ActionStop, CreatedAt: t0})
		}, "store confirmation: "},
		{"SetConfirmationMessage", func(s *store.Store) error { return s.SetConfirmationMessage(ctx, "K1", "1.2") }, "set confirmation message: "},
		{"TakeConfirmation", func(s *store.Store) error {
			_, err := s.TakeConfirmation(ctx, "K1", "U1", true, t0, time.Minute)
			return err
		}, "use confirmation: "},
		{"AddActor", func(s *store.Store) error { return s.AddActor(ctx, "pipe-1", "E1", "U1", t0) }, "add actor: "},
		{"Actors", func(s *store.Store) error { _, err := s.Actors(ctx, "pipe-1", "E1"); return err }, "actors: "},
		{"Record", func(s *store.Store) error { return s.Record(ctx, release.AuditEntry{At: t0}, nil, true) }, "record: "},
		{"AddAudit", func(s *store.Store) error { return s.AddAudit(ctx, release.AuditEntry{At: t0}) }, "audit: "},
		{"LastAudit", func(s *store.Store) error { _, err := s.LastAudit(ctx, 20, ""); return err }, "read audit: "},
	}
	eachDriver(t, func(t *testing.T, driver string) {
		s, err := store.Open(ctx, driver, storetest.DSN(t, driver))
		require.NoError(t, err)
		MustOpenPrompt(t, s, question("P1", "pipe-1"))
		require.NoError(t, s.Close())
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				err := c.call(s)
				require.Error(t, err, "%s on a closed store", c.name)
				assert.True(t, strings.HasPrefix(err.Error(), c.wantPrefix), "%s: got error %q, want it to start with %q", c.name, err, c.wantPrefix)
			})
		}
	})
}

// TestSQLitePathIsEscaped: a database path with URI characters (#, %, ?)
// names exactly that file.
func TestSQLitePathIsEscaped(t *testing.T) {
	for sub, name := range map[string]string{"hash": "release#bot.db", "percent": "release%41bot.db", "question mark": "release?bot.db"} {
		// The subtest's name is plain: t.TempDir would copy it into the folder.
		t.Run(sub, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, name)
			s, err := store.Open(context.Background(), "sqlite", path)
			if err == nil {
				require.NoError(t, s.Close())
			}
			require.NoError(t, err, "Open(sqlite, %q)", path)
			_, err = os.Stat(path)
			assert.NoError(t, err, "the database file at the path given")
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			assert.Contains(t, names, name, "files made in %s", dir)
		})
	}
}

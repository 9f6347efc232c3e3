package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/store"
	"github.com/releasebot/releasebot/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// t0 has nanoseconds and a zone so that round trips show the truncation to
// milliseconds and the conversion to UTC.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("CET", 3600))

// ms is t as the store gives it back.
func ms(t time.Time) time.Time { return t.Truncate(time.Millisecond).UTC() }

// eachDriver runs f as one subtest per driver in storetest.Drivers.
func eachDriver(t *testing.T, f func(t *testing.T, driver string)) {
	t.Helper()
	for _, driver := range storetest.Drivers() {
		t.Run(driver, func(t *testing.T) { f(t, driver) })
	}
}

// MustOpen opens the store at dsn and closes it at cleanup.
func MustOpen(tb testing.TB, driver, dsn string) *store.Store {
	tb.Helper()
	s, err := store.Open(context.Background(), driver, dsn)
	require.NoError(tb, err, "open %s", driver)
	tb.Cleanup(func() { assert.NoError(tb, s.Close(), "close %s", driver) })
	return s
}

// MustNew opens a store on a fresh database and returns it with its DSN.
func MustNew(tb testing.TB, driver string) (*store.Store, string) {
	tb.Helper()
	dsn := storetest.DSN(tb, driver)
	return MustOpen(tb, driver, dsn), dsn
}

// MustRaw opens the database behind dsn without the store, for what the
// store's API cannot reach. It is closed at cleanup.
func MustRaw(tb testing.TB, driver, dsn string) *sql.DB {
	tb.Helper()
	name := map[string]string{"sqlite": "sqlite", "postgres": "pgx"}[driver]
	db, err := sql.Open(name, dsn)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

// replicas returns n stores sharing one database: separate Store instances
// on PostgreSQL, as replicas would be, and the one store on SQLite, which
// serves a single process.
func replicas(tb testing.TB, driver string, n int) []*store.Store {
	tb.Helper()
	s, dsn := MustNew(tb, driver)
	out := []*store.Store{s}
	for len(out) < n {
		if driver == "postgres" {
			s = MustOpen(tb, driver, dsn)
		}
		out = append(out, s)
	}
	return out
}

// question returns a prompt for approval task "gate" of release task
// pipeline, with every field set.
func question(id, pipeline string) *store.Prompt {
	return &store.Prompt{
		ID: id, PipelineID: pipeline, TaskName: "payments-api", ApprovalTask: "gate", Channel: "C1",
		AskedBy: "UASK", AskedAt: t0, Note: "please <@here>", StartedBy: "USTART", Required: 1,
	}
}

// MustOpenPrompt stores p, which must be new.
func MustOpenPrompt(tb testing.TB, s *store.Store, p *store.Prompt) store.Prompt {
	tb.Helper()
	got, created, err := s.OpenPrompt(context.Background(), p)
	require.NoError(tb, err)
	require.True(tb, created, "OpenPrompt(%s) created = false, want true", p.ID)
	return got
}

// voteErr returns err as a *store.VoteError, failing the test otherwise.
func voteErr(tb testing.TB, err error) *store.VoteError {
	tb.Helper()
	var ve *store.VoteError
	require.ErrorAs(tb, err, &ve, "got error %v, want a *store.VoteError", err)
	return ve
}

// confErr returns err as a *store.ConfirmationError, failing the test otherwise.
func confErr(tb testing.TB, err error) *store.ConfirmationError {
	tb.Helper()
	var ce *store.ConfirmationError
	require.ErrorAs(tb, err, &ce, "got error %v, want a *store.ConfirmationError", err)
	return ce
}

// together runs f(0..n-1) in n goroutines released at once and waits.
func together(n int, f func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			f(i)
		})
	}
	close(start)
	wg.Wait()
}

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

func TestOpenUnknownDriver(t *testing.T) {
	s, err := store.Open(context.Background(), "mysql", "whatever")
	require.Error(t, err)
	assert.Nil(t, s)
	assert.Contains(t, err.Error(), `unknown database driver "mysql"`)
}

func TestOpenConcurrentlyOnFreshPostgres(t *testing.T) {
	if !contains(storetest.Drivers(), "postgres") {
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestOpenPrompt(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)

		first, created, err := s.OpenPrompt(ctx, question("P1", "pipe-1"))
		require.NoError(t, err)
		assert.True(t, created, "first OpenPrompt: created")
		assert.Equal(t, "P1", first.ID)

		again := question("P2", "pipe-1")
		again.AskedBy, again.Note = "UOTHER", "other note"
		got, created, err := s.OpenPrompt(ctx, again)
		require.NoError(t, err)
		assert.False(t, created, "second OpenPrompt for the same question: created")
		assert.Equal(t, first, got, "second OpenPrompt returns the open prompt as it was stored")
		_, err = s.GetPrompt(ctx, "P2")
		assert.ErrorIs(t, err, store.ErrNotFound, "the second question was not stored")

		other := question("P3", "pipe-1")
		other.ApprovalTask = "gate-2"
		MustOpenPrompt(t, s, other)
		MustOpenPrompt(t, s, question("P4", "pipe-2"))

		// A claimed, undecided prompt is still the open one.
		_, claimed, err := s.Vote(ctx, "P1", "U1", api.ApprovalRefuse, "no", false, t0)
		require.NoError(t, err)
		require.True(t, claimed)
		got, created, err = s.OpenPrompt(ctx, question("P5", "pipe-1"))
		require.NoError(t, err)
		assert.False(t, created, "OpenPrompt while the open prompt is being decided: created")
		assert.Equal(t, "P1", got.ID)

		_, err = s.Decided(ctx, "P1", api.ApprovalRefuse, "U1", t0, &api.Execution{ID: "E1", Status: api.StatusFailed})
		require.NoError(t, err)
		got, created, err = s.OpenPrompt(ctx, question("P6", "pipe-1"))
		require.NoError(t, err)
		assert.True(t, created, "OpenPrompt after the decision: created")
		assert.Equal(t, "P6", got.ID)
		old, err := s.GetPrompt(ctx, "P1")
		require.NoError(t, err)
		assert.Equal(t, api.ApprovalRefuse, old.Decision, "the decided prompt is kept")
	})
}

func TestOpenPromptConcurrently(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		const n = 20
		stores := replicas(t, driver, 4)
		ids := make([]string, n)
		createdBy := make([]bool, n)
		errs := make([]error, n)
		together(n, func(i int) {
			p, created, err := stores[i%len(stores)].OpenPrompt(context.Background(), question(fmt.Sprintf("P%02d", i), "pipe-1"))
			ids[i], createdBy[i], errs[i] = p.ID, created, err
		})
		creators := 0
		for i := range n {
			require.NoError(t, errs[i], "OpenPrompt #%d", i)
			assert.Equal(t, ids[0], ids[i], "OpenPrompt #%d: got prompt %s, want the one prompt %s", i, ids[i], ids[0])
			if createdBy[i] {
				creators++
				assert.Equal(t, fmt.Sprintf("P%02d", i), ids[i], "the creator gets its own prompt")
			}
		}
		assert.Equal(t, 1, creators, "callers told created=true")
	})
}

func TestGetPromptRoundTrip(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		q := question("P1", "pipe-1")
		q.Required = 2
		MustOpenPrompt(t, s, q)
		require.NoError(t, s.SetPromptMessage(ctx, "P1", "C2", "1700000000.000100"))
		_, claimed, err := s.Vote(ctx, "P1", "U1", api.ApprovalAgree, "lgtm", false, t0)
		require.NoError(t, err)
		require.False(t, claimed)
		_, claimed, err = s.Vote(ctx, "P1", "U2", api.ApprovalAgree, "", false, t0.Add(time.Second))
		require.NoError(t, err)
		require.True(t, claimed)
		uncertain, err := s.Uncertain(ctx, "P1", "timeout")
		require.NoError(t, err)

		want := store.Prompt{
			ID: "P1", PipelineID: "pipe-1", TaskName: "payments-api", ApprovalTask: "gate", Channel: "C2",
			TS: "1700000000.000100", AskedBy: "UASK", AskedAt: ms(t0), Note: "please <@here>", StartedBy: "USTART",
			Required: 2, Approvals: []string{"U1", "U2"}, Comments: map[string]string{"U1": "lgtm"},
			Deciding: "U2", Uncertain: "U2", LastError: "timeout",
		}
		got, err := s.GetPrompt(ctx, "P1")
		require.NoError(t, err)
		assert.Equal(t, want, got, "GetPrompt while uncertain")
		assert.Equal(t, want, uncertain, "Uncertain's prompt")
		assert.Equal(t, time.UTC, got.AskedAt.Location())

		decidedAt := t0.Add(time.Minute)
		decided, err := s.Decided(ctx, "P1", api.ApprovalAgree, "U2", decidedAt, &api.Execution{ID: "E9", Status: api.StatusReleasing})
		require.NoError(t, err)
		want.Deciding, want.Uncertain, want.LastError = "", "", ""
		want.Decision, want.DecidedBy, want.DecidedAt, want.ExecutionID, want.Status = api.ApprovalAgree, "U2", ms(decidedAt), "E9", api.StatusReleasing
		got, err = s.GetPrompt(ctx, "P1")
		require.NoError(t, err)
		assert.Equal(t, want, got, "GetPrompt after Decided")
		assert.Equal(t, want, decided, "Decided's prompt")

		_, err = s.GetPrompt(ctx, "nope")
		assert.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestPromptZeroTimesAndEmptyFields(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		s, _ := MustNew(t, driver)
		p := MustOpenPrompt(t, s, &store.Prompt{ID: "P1", PipelineID: "pipe-1", ApprovalTask: "gate", Required: 1})
		assert.True(t, p.AskedAt.IsZero(), "AskedAt: got %v, want zero", p.AskedAt)
		assert.True(t, p.DecidedAt.IsZero(), "DecidedAt: got %v, want zero", p.DecidedAt)
		assert.Empty(t, p.Approvals)
		assert.Empty(t, p.Voters())
		assert.Equal(t, "", p.Message(api.ApprovalAgree))
		assert.NotNil(t, p.Comments, "Comments is a map, ready to read")
	})
}

func TestSetPromptMessageAndDropPrompt(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)

		MustOpenPrompt(t, s, question("UNPOSTED", "pipe-1"))
		_, _, err := s.Vote(ctx, "UNPOSTED", "U1", api.ApprovalAgree, "x", false, t0)
		require.NoError(t, err)
		require.NoError(t, s.DropPrompt(ctx, "UNPOSTED"))
		_, err = s.GetPrompt(ctx, "UNPOSTED")
		assert.ErrorIs(t, err, store.ErrNotFound, "an unposted prompt is dropped")
		p := MustOpenPrompt(t, s, question("NEXT", "pipe-1"))
		assert.Empty(t, p.Approvals, "a dropped prompt's votes are gone")

		MustOpenPrompt(t, s, question("POSTED", "pipe-2"))
		require.NoError(t, s.SetPromptMessage(ctx, "POSTED", "C9", "1700000000.000200"))
		require.NoError(t, s.DropPrompt(ctx, "POSTED"))
		p, err = s.GetPrompt(ctx, "POSTED")
		require.NoError(t, err, "a posted prompt is kept")
		assert.Equal(t, "C9", p.Channel)
		assert.Equal(t, "1700000000.000200", p.TS)

		require.NoError(t, s.DropPrompt(ctx, "nope"), "dropping an unknown prompt")
		require.NoError(t, s.SetPromptMessage(ctx, "nope", "C1", "1.2"), "posting an unknown prompt")
	})
}

// TestDropPromptKeepsVotesOfPostedPrompt: DropPrompt forgets only a prompt
// that was never posted; a posted prompt keeps its approvals.
func TestDropPromptKeepsVotesOfPostedPrompt(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		q := question("P1", "pipe-1")
		q.Required = 2
		MustOpenPrompt(t, s, q)
		require.NoError(t, s.SetPromptMessage(ctx, "P1", "C1", "1700000000.000100"))
		_, _, err := s.Vote(ctx, "P1", "U1", api.ApprovalAgree, "lgtm", false, t0)
		require.NoError(t, err)

		require.NoError(t, s.DropPrompt(ctx, "P1"))

		p, err := s.GetPrompt(ctx, "P1")
		require.NoError(t, err)
		assert.Equal(t, []string{"U1"}, p.Approvals, "approvals of a posted prompt after DropPrompt")
		assert.Equal(t, map[string]string{"U1": "lgtm"}, p.Comments, "comments of a posted prompt after DropPrompt")
	})
}

func TestVoteQuorum(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		q := question("P1", "pipe-1")
		q.Required = 2
		MustOpenPrompt(t, s, q)

		p, claimed, err := s.Vote(ctx, "P1", "U1", api.ApprovalAgree, "a", false, t0)
		require.NoError(t, err)
		assert.False(t, claimed, "first approval of two: claimed")
		assert.Equal(t, []string{"U1"}, p.Approvals)
		assert.Empty(t, p.Deciding)

		p, claimed, err = s.Vote(ctx, "P1", "U1", api.ApprovalAgree, "", false, t0)
		require.NoError(t, err)
		assert.False(t, claimed, "the same approver again: claimed")
		assert.Equal(t, []string{"U1"}, p.Approvals, "a second approval by the same user counts once")
		assert.Equal(t, map[string]string{"U1": "a"}, p.Comments, "an empty comment keeps the earlier one")

		p, claimed, err = s.Vote(ctx, "P1", "U2", api.ApprovalAgree, "b", false, t0)
		require.NoError(t, err)
		assert.True(t, claimed, "second distinct approver: claimed")
		assert.Equal(t, "U2", p.Deciding)
		assert.Equal(t, []string{"U1", "U2"}, p.Voters())
		assert.Equal(t, "U1: a\nU2: b", p.Message(api.ApprovalAgree))
	})
}

func TestVoteRefusalClaimsAtOnce(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		q := question("P1", "pipe-1")
		q.Required = 3
		MustOpenPrompt(t, s, q)
		_, claimed, err := s.Vote(ctx, "P1", "U2", api.ApprovalAgree, "", false, t0)
		require.NoError(t, err)
		require.False(t, claimed)
		_, claimed, err = s.Vote(ctx, "P1", "U1", api.ApprovalAgree, "ok", false, t0)
		require.NoError(t, err)
		require.False(t, claimed)

		p, claimed, err := s.Vote(ctx, "P1", "U9", api.ApprovalRefuse, "broken", false, t0)
		require.NoError(t, err)
		assert.True(t, claimed, "a refusal with 2 of 3 approvals: claimed")
		assert.Equal(t, "U9", p.Deciding)
		assert.Equal(t, []string{"U2", "U1"}, p.Approvals, "approvals in the order they came")
		assert.Equal(t, []string{"U2", "U1", "U9"}, p.Voters(), "approvers first, then the refuser")
		assert.Equal(t, "broken", p.Message(api.ApprovalRefuse), "a refusal sends the refuser's reason only")
		assert.Equal(t, "ok", p.Message(api.ApprovalAgree), "only voters with a comment; one is sent bare")
	})
}

func TestVoteChangeOfMind(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		q := question("P1", "pipe-1")
		q.Required = 2
		MustOpenPrompt(t, s, q)
		_, _, err := s.Vote(ctx, "P1", "U1", api.ApprovalAgree, "fine", false, t0)
		require.NoError(t, err)
		p, claimed, err := s.Vote(ctx, "P1", "U1", api.ApprovalRefuse, "no, broken", false, t0)
		require.NoError(t, err)
		assert.True(t, claimed)
		assert.Empty(t, p.Approvals, "an approver who then refuses no longer approves")
		assert.Equal(t, []string{"U1"}, p.Voters())
		assert.Equal(t, "no, broken", p.Message(api.ApprovalRefuse), "one comment is sent bare")
	})
}

func TestVoteSelfApproval(t *testing.T) {
	cases := []struct {
		name        string
		user        string
		decision    api.ApprovalType
		allowSelf   bool
		wantClaimed bool
		wantKind    store.VoteErrorKind
	}{
		{"asker approves", "UASK", api.ApprovalAgree, false, false, store.VoteSelf},
		{"starter approves", "USTART", api.ApprovalAgree, false, false, store.VoteSelf},
		{"asker approves, self allowed", "UASK", api.ApprovalAgree, true, true, 0},
		{"starter approves, self allowed", "USTART", api.ApprovalAgree, true, true, 0},
		{"asker refuses", "UASK", api.ApprovalRefuse, false, true, 0},
		{"starter refuses", "USTART", api.ApprovalRefuse, false, true, 0},
		{"someone else approves", "U1", api.ApprovalAgree, false, true, 0},
	}
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				id := fmt.Sprintf("P%d", i)
				MustOpenPrompt(t, s, question(id, "pipe-"+id))
				p, claimed, err := s.Vote(ctx, id, c.user, c.decision, "c", c.allowSelf, t0)
				assert.Equal(t, c.wantClaimed, claimed, "claimed")
				assert.Equal(t, id, p.ID, "Vote returns the prompt")
				if c.wantKind == 0 {
					require.NoError(t, err)
					assert.Equal(t, c.user, p.Deciding)
					return
				}
				ve := voteErr(t, err)
				assert.Equal(t, c.wantKind, ve.Kind, "VoteError.Kind")
				assert.Equal(t, "self-approval", ve.Error())
				assert.Equal(t, id, ve.Prompt.ID)
				got, err := s.GetPrompt(ctx, id)
				require.NoError(t, err)
				assert.Empty(t, got.Voters(), "a refused self-approval is not recorded")
			})
		}
	})
}

func TestVoteAfterClaim(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		MustOpenPrompt(t, s, question("P1", "pipe-1"))
		_, claimed, err := s.Vote(ctx, "P1", "U1", api.ApprovalAgree, "", false, t0)
		require.NoError(t, err)
		require.True(t, claimed)

		for _, v := range []struct {
			user     string
			decision api.ApprovalType
		}{{"U2", api.ApprovalAgree}, {"U3", api.ApprovalRefuse}, {"U1", api.ApprovalAgree}, {"UASK", api.ApprovalAgree}} {
			p, claimed, err := s.Vote(ctx, "P1", v.user, v.decision, "late", false, t0)
			assert.False(t, claimed, "%s %s while deciding: claimed", v.user, v.decision)
			ve := voteErr(t, err)
			assert.Equal(t, store.VoteDeciding, ve.Kind, "%s %s while deciding", v.user, v.decision)
			assert.Equal(t, "U1", ve.Prompt.Deciding, "who holds the claim")
			assert.Equal(t, "being decided", ve.Error())
			assert.Equal(t, []string{"U1"}, p.Voters(), "late votes are not recorded")
		}
	})
}

func TestVoteAfterDecided(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		MustOpenPrompt(t, s, question("P1", "pipe-1"))
		_, claimed, err := s.Vote(ctx, "P1", "U1", api.ApprovalAgree, "", false, t0)
		require.NoError(t, err)
		require.True(t, claimed)
		_, err = s.Decided(ctx, "P1", api.ApprovalAgree, "U1", t0, &api.Execution{ID: "E1", Status: api.StatusReleasing})
		require.NoError(t, err)

		for _, d := range []api.ApprovalType{api.ApprovalAgree, api.ApprovalRefuse} {
			_, claimed, err := s.Vote(ctx, "P1", "U2", d, "late", false, t0)
			assert.False(t, claimed)
			ve := voteErr(t, err)
			assert.Equal(t, store.VoteDecided, ve.Kind, "%s after the decision", d)
			assert.Equal(t, "U1", ve.Prompt.DecidedBy)
			assert.Equal(t, ms(t0), ve.Prompt.DecidedAt)
			assert.Equal(t, "already decided", ve.Error())
		}
	})
}

func TestVoteAfterFailed(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		q := question("P1", "pipe-1")
		q.Required = 2
		MustOpenPrompt(t, s, q)
		_, _, err := s.Vote(ctx, "P1", "U1", api.ApprovalAgree, "", false, t0)
		require.NoError(t, err)
		_, claimed, err := s.Vote(ctx, "P1", "U2", api.ApprovalAgree, "", false, t0)
		require.NoError(t, err)
		require.True(t, claimed)

		p, err := s.Failed(ctx, "P1", "HTTP 503")
		require.NoError(t, err)
		assert.Equal(t, "HTTP 503", p.LastError)
		assert.Empty(t, p.Deciding, "Failed releases the claim")

		p, claimed, err = s.Vote(ctx, "P1", "U3", api.ApprovalAgree, "", false, t0)
		require.NoError(t, err)
		assert.True(t, claimed, "a vote after a failure: claimed")
		assert.Equal(t, "U3", p.Deciding)
		assert.Equal(t, "HTTP 503", p.LastError, "the last error is shown until a decision")

		p, err = s.Failed(ctx, "P1", "HTTP 500")
		require.NoError(t, err)
		p, claimed, err = s.Vote(ctx, "P1", "U1", api.ApprovalAgree, "", false, t0)
		require.NoError(t, err)
		assert.True(t, claimed, "an earlier approver trying again: claimed")

		p, err = s.Decided(ctx, "P1", api.ApprovalAgree, "U1", t0, &api.Execution{ID: "E1", Status: api.StatusReleasing})
		require.NoError(t, err)
		assert.Empty(t, p.LastError, "Decided clears the last error")
	})
}

func TestVoteAfterUncertain(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		MustOpenPrompt(t, s, question("P1", "pipe-1"))
		_, claimed, err := s.Vote(ctx, "P1", "U1", api.ApprovalRefuse, "no", false, t0)
		require.NoError(t, err)
		require.True(t, claimed)
		p, err := s.Uncertain(ctx, "P1", "timeout")
		require.NoError(t, err)
		assert.Equal(t, "U1", p.Uncertain)
		assert.Equal(t, "U1", p.Deciding, "the claim is kept")

		for _, user := range []string{"U2", "U1"} {
			_, claimed, err := s.Vote(ctx, "P1", user, api.ApprovalAgree, "", false, t0)
			assert.False(t, claimed)
			ve := voteErr(t, err)
			assert.Equal(t, store.VoteUncertain, ve.Kind, "%s after an uncertain outcome", user)
			assert.Equal(t, "U1", ve.Prompt.Uncertain)
			assert.Equal(t, "outcome unknown", ve.Error())
		}
	})
}

func TestVoteUnknownPrompt(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		s, _ := MustNew(t, driver)
		_, claimed, err := s.Vote(context.Background(), "nope", "U1", api.ApprovalAgree, "", false, t0)
		assert.False(t, claimed)
		assert.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestMessage(t *testing.T) {
	cases := []struct {
		name  string
		votes [][3]string // user, decision, comment
		want  string
	}{
		{"no comment", [][3]string{{"U1", "agree", ""}}, ""},
		{"one comment is bare", [][3]string{{"U1", "agree", "a"}}, "a"},
		{"one of two commented is bare", [][3]string{{"U1", "agree", ""}, {"U2", "agree", "b"}}, "b"},
		{"two comments", [][3]string{{"U1", "agree", "a"}, {"U2", "agree", "b"}}, "U1: a\nU2: b"},
		{"approver and refuser", [][3]string{{"U2", "agree", "a"}, {"U1", "refuse", "b"}}, "b"},
		{"comment replaced", [][3]string{{"U1", "agree", "a"}, {"U2", "agree", "b"}, {"U1", "agree", "c"}}, "U1: c\nU2: b"},
	}
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				id := fmt.Sprintf("P%d", i)
				q := question(id, "pipe-"+id)
				q.Required = 3
				MustOpenPrompt(t, s, q)
				var p store.Prompt
				for _, v := range c.votes {
					var err error
					p, _, err = s.Vote(ctx, id, v[0], api.ApprovalType(v[1]), v[2], false, t0)
					require.NoError(t, err)
				}
				assert.Equal(t, c.want, p.Message(api.ApprovalType(c.votes[len(c.votes)-1][1])), "Message() after votes %v", c.votes)
			})
		}
	})
}

func TestVoteExactlyOnce(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		stores := replicas(t, driver, 2)
		MustOpenPrompt(t, stores[0], question("P1", "pipe-1"))

		const n = 50
		claimedBy := make([]bool, n)
		errs := make([]error, n)
		together(n, func(i int) {
			d := api.ApprovalAgree
			if i%2 == 1 {
				d = api.ApprovalRefuse
			}
			_, claimedBy[i], errs[i] = stores[i%len(stores)].Vote(ctx, "P1", fmt.Sprintf("U%02d", i), d, "", false, t0)
		})

		var winners []string
		for i := range n {
			if claimedBy[i] {
				winners = append(winners, fmt.Sprintf("U%02d", i))
			}
		}
		require.Len(t, winners, 1, "callers that hold the claim")
		for i := range n {
			if claimedBy[i] {
				assert.NoError(t, errs[i])
				continue
			}
			ve := voteErr(t, errs[i])
			assert.Equal(t, store.VoteDeciding, ve.Kind, "vote #%d", i)
			assert.Equal(t, winners[0], ve.Prompt.Deciding, "vote #%d is told who decides", i)
		}
		p, err := stores[len(stores)-1].GetPrompt(ctx, "P1")
		require.NoError(t, err)
		assert.Equal(t, winners[0], p.Deciding)
	})
}

// TestRejectedVoteIsNotStored: a vote that loses the claim to a concurrent
// one is not stored, so its comment never rides along with the winner's
// decision. The interleaving is made deterministic on PostgreSQL by holding
// a row lock that the loser waits for while the winner's claim lands.
func TestRejectedVoteIsNotStored(t *testing.T) {
	if !contains(storetest.Drivers(), "postgres") {
		t.Skipf("%s is not set", storetest.PostgresEnv)
	}
	ctx := context.Background()
	s, dsn := MustNew(t, "postgres")
	q := question("P1", "pipe-1")
	MustOpenPrompt(t, s, q)
	_, _, err := s.Vote(ctx, "P1", "U1", api.ApprovalAgree, "ship it", false, t0)
	require.NoError(t, err) // Required=1: U1 claims at once
	_, err = s.Failed(ctx, "P1", "HTTP 503")
	require.NoError(t, err)

	// U1 tries again; its claim is in flight (uncommitted) in tx.
	raw := MustRaw(t, "postgres", dsn)
	tx, err := raw.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	_, err = tx.ExecContext(ctx, `UPDATE prompts SET deciding = 'U1' WHERE id = 'P1' AND deciding = ''`)
	require.NoError(t, err)

	type result struct {
		claimed bool
		err     error
	}
	done := make(chan result, 1)
	go func() {
		_, claimed, err := s.Vote(ctx, "P1", "U2", api.ApprovalRefuse, "do not ship: broken", false, t0)
		done <- result{claimed, err}
	}()
	var holder int
	require.NoError(t, tx.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&holder))
	// Wait until U2's vote is in and its claim waits for U1's.
	require.Eventually(t, func() bool {
		var waiting int
		err := raw.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))`, holder).Scan(&waiting)
		return err == nil && waiting > 0
	}, 10*time.Second, 5*time.Millisecond, "U2's claim never waited for U1's")
	require.NoError(t, tx.Commit())

	r := <-done
	require.False(t, r.claimed, "U2 lost the claim")
	ve := voteErr(t, r.err)
	require.Equal(t, store.VoteDeciding, ve.Kind)

	p, err := s.GetPrompt(ctx, "P1")
	require.NoError(t, err)
	assert.Equal(t, []string{"U1"}, p.Voters(), "voters after U2's refusal was rejected")
	assert.Equal(t, "ship it", p.Message(api.ApprovalAgree), "the message U1 sends upstream with its approval")
}

func TestConfirmation(t *testing.T) {
	const ttl = 5 * time.Minute
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		put := func(t *testing.T, id string) store.Confirmation {
			t.Helper()
			c := store.Confirmation{ID: id, Action: api.ActionStop, PipelineID: "pipe-1", TaskName: "payments-api",
				RequestedBy: "UOP", Channel: "C1", CreatedAt: t0}
			require.NoError(t, s.PutConfirmation(ctx, &c))
			return c
		}

		t.Run("once", func(t *testing.T) {
			put(t, "K1")
			require.NoError(t, s.SetConfirmationMessage(ctx, "K1", "1700000000.000300"))
			now := t0.Add(time.Minute + 123456789)
			got, err := s.TakeConfirmation(ctx, "K1", "U1", true, now, ttl)
			require.NoError(t, err)
			want := store.Confirmation{ID: "K1", Action: api.ActionStop, PipelineID: "pipe-1", TaskName: "payments-api",
				RequestedBy: "UOP", Channel: "C1", TS: "1700000000.000300", CreatedAt: ms(t0),
				UsedBy: "U1", UsedAt: ms(now), Confirmed: true}
			assert.Equal(t, want, got)

			got, err = s.TakeConfirmation(ctx, "K1", "U2", true, now, ttl)
			ce := confErr(t, err)
			assert.False(t, ce.Expired, "a used confirmation: Expired")
			assert.Equal(t, "confirmation already used", ce.Error())
			assert.Equal(t, want, ce.Confirmation, "the error carries the first use")
			assert.Equal(t, want, got)
		})

		t.Run("cancel", func(t *testing.T) {
			put(t, "K2")
			got, err := s.TakeConfirmation(ctx, "K2", "U1", false, t0, ttl)
			require.NoError(t, err)
			assert.False(t, got.Confirmed)
			assert.Equal(t, "U1", got.UsedBy)
			_, err = s.TakeConfirmation(ctx, "K2", "U2", true, t0, ttl)
			assert.Equal(t, "U1", confErr(t, err).Confirmation.UsedBy, "a cancelled confirmation cannot be confirmed")
		})

		t.Run("expiry", func(t *testing.T) {
			put(t, "K3")
			_, err := s.TakeConfirmation(ctx, "K3", "U1", true, t0.Add(ttl+time.Millisecond), ttl)
			ce := confErr(t, err)
			assert.True(t, ce.Expired, "older than ttl: Expired")
			assert.Equal(t, "confirmation expired", ce.Error())
			assert.Empty(t, ce.Confirmation.UsedBy, "an expired confirmation is not used")
			assert.True(t, ce.Confirmation.UsedAt.IsZero(), "UsedAt of an expired confirmation: got %v, want zero", ce.Confirmation.UsedAt)

			got, err := s.TakeConfirmation(ctx, "K3", "U2", true, t0.Add(ttl), ttl)
			require.NoError(t, err, "exactly ttl old is still valid, and the expired try wrote nothing")
			assert.Equal(t, "U2", got.UsedBy)
		})

		t.Run("unknown", func(t *testing.T) {
			_, err := s.TakeConfirmation(ctx, "nope", "U1", true, t0, ttl)
			assert.ErrorIs(t, err, store.ErrNotFound)
			require.NoError(t, s.SetConfirmationMessage(ctx, "nope", "1.2"))
		})

		t.Run("duplicate id", func(t *testing.T) {
			put(t, "K4")
			c := store.Confirmation{ID: "K4", Action: api.ActionRollback, CreatedAt: t0}
			assert.Error(t, s.PutConfirmation(ctx, &c))
		})
	})
}

func TestTakeConfirmationConcurrently(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		stores := replicas(t, driver, 2)
		require.NoError(t, stores[0].PutConfirmation(ctx, &store.Confirmation{ID: "K1", Action: api.ActionRollback,
			PipelineID: "pipe-1", TaskName: "payments-api", RequestedBy: "UOP", Channel: "C1", CreatedAt: t0}))

		const n = 20
		errs := make([]error, n)
		together(n, func(i int) {
			_, errs[i] = stores[i%len(stores)].TakeConfirmation(ctx, "K1", fmt.Sprintf("U%02d", i), true, t0, time.Minute)
		})
		var winners []string
		for i := range n {
			if errs[i] == nil {
				winners = append(winners, fmt.Sprintf("U%02d", i))
			}
		}
		require.Len(t, winners, 1, "callers that used the confirmation")
		for i := range n {
			if errs[i] != nil {
				ce := confErr(t, errs[i])
				assert.False(t, ce.Expired, "take #%d: Expired", i)
				assert.Equal(t, winners[0], ce.Confirmation.UsedBy, "take #%d is told who used it", i)
			}
		}
	})
}

func TestStartedBy(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		got, err := s.StartedBy(ctx, "pipe-1")
		require.NoError(t, err)
		assert.Equal(t, "", got, "StartedBy of an unknown release task")

		require.NoError(t, s.SetStartedBy(ctx, "pipe-1", "U1", t0))
		require.NoError(t, s.SetStartedBy(ctx, "pipe-2", "U2", t0))
		require.NoError(t, s.SetStartedBy(ctx, "pipe-1", "U3", t0.Add(time.Hour)))
		for pipeline, want := range map[string]string{"pipe-1": "U3", "pipe-2": "U2", "pipe-3": ""} {
			got, err := s.StartedBy(ctx, pipeline)
			require.NoError(t, err)
			assert.Equal(t, want, got, "StartedBy(%s)", pipeline)
		}
	})
}

func TestAudit(t *testing.T) {
	entry := func(i int, pipeline string, at time.Time) store.AuditEntry {
		return store.AuditEntry{At: at, User: fmt.Sprintf("U%d", i), Channel: "C1", Verb: "start", TaskName: "task " + pipeline,
			PipelineID: pipeline, Sent: fmt.Sprintf(`{"action":"start","n":%d}`, i), Execution: fmt.Sprintf("E%d", i), Outcome: "Releasing (4)"}
	}
	// Added out of time order; entries 3 and 4 share a millisecond.
	added := []store.AuditEntry{
		entry(0, "pipe-1", t0),
		entry(1, "pipe-2", t0.Add(2*time.Second)),
		entry(2, "pipe-1", t0.Add(time.Second)),
		entry(3, "pipe-1", t0.Add(3*time.Second)),
		entry(4, "pipe-2", t0.Add(3*time.Second+100)),
	}
	stored := func(i int) store.AuditEntry {
		e := added[i]
		e.At = ms(e.At)
		return e
	}
	cases := []struct {
		name     string
		n        int
		pipeline string
		want     []store.AuditEntry
	}{
		{"all", 20, "", []store.AuditEntry{stored(4), stored(3), stored(1), stored(2), stored(0)}},
		{"limit", 2, "", []store.AuditEntry{stored(4), stored(3)}},
		{"one task", 20, "pipe-1", []store.AuditEntry{stored(3), stored(2), stored(0)}},
		{"one task, limit", 1, "pipe-2", []store.AuditEntry{stored(4)}},
		{"unknown task", 20, "pipe-9", nil},
	}
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		got, err := s.LastAudit(ctx, 20, "")
		require.NoError(t, err)
		assert.Empty(t, got, "an empty log")
		for _, e := range added {
			require.NoError(t, s.AddAudit(ctx, e))
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				got, err := s.LastAudit(ctx, c.n, c.pipeline)
				require.NoError(t, err)
				assert.Equal(t, c.want, got, "LastAudit(%d, %q)", c.n, c.pipeline)
			})
		}
	})
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
		require.NoError(t, s.SetPromptMessage(ctx, "P1", "C1", "1700000000.000100"))
		_, _, err = s.Vote(ctx, "P1", "U1", api.ApprovalAgree, "a", false, t0)
		require.NoError(t, err)
		require.NoError(t, s.PutConfirmation(ctx, &store.Confirmation{ID: "K1", Action: api.ActionStop, PipelineID: "pipe-1",
			TaskName: "payments-api", RequestedBy: "UOP", Channel: "C1", CreatedAt: t0}))
		audit := store.AuditEntry{At: ms(t0), User: "U1", Channel: "C1", Verb: "approve", TaskName: "payments-api", PipelineID: "pipe-1", Outcome: "vote recorded"}
		require.NoError(t, s.AddAudit(ctx, audit))
		require.NoError(t, s.SetStartedBy(ctx, "pipe-1", "USTART", t0))
		before, err := s.GetPrompt(ctx, "P1")
		require.NoError(t, err)
		require.NoError(t, s.Close())

		s = MustOpen(t, driver, dsn)
		after, err := s.GetPrompt(ctx, "P1")
		require.NoError(t, err)
		assert.Equal(t, before, after, "the prompt after a restart")
		p, claimed, err := s.Vote(ctx, "P1", "U2", api.ApprovalAgree, "b", false, t0)
		require.NoError(t, err)
		assert.True(t, claimed, "the quorum's second vote after a restart: claimed")
		assert.Equal(t, "U1: a\nU2: b", p.Message(api.ApprovalAgree))

		c, err := s.TakeConfirmation(ctx, "K1", "U1", true, t0.Add(time.Minute), 5*time.Minute)
		require.NoError(t, err, "a confirmation after a restart")
		assert.Equal(t, "U1", c.UsedBy)

		entries, err := s.LastAudit(ctx, 20, "")
		require.NoError(t, err)
		assert.Equal(t, []store.AuditEntry{audit}, entries, "the audit log after a restart")
		who, err := s.StartedBy(ctx, "pipe-1")
		require.NoError(t, err)
		assert.Equal(t, "USTART", who)
	})
}

func TestClosedStore(t *testing.T) {
	ctx := context.Background()
	e := &api.Execution{ID: "E1", Status: api.StatusReleasing}
	cases := []struct {
		name       string
		call       func(s *store.Store) error
		wantPrefix string
	}{
		{"Ping", func(s *store.Store) error { return s.Ping(ctx) }, "sql: "},
		{"OpenPrompt", func(s *store.Store) error { _, _, err := s.OpenPrompt(ctx, question("P2", "pipe-2")); return err }, "open prompt: "},
		{"GetPrompt", func(s *store.Store) error { _, err := s.GetPrompt(ctx, "P1"); return err }, "get prompt: "},
		{"SetPromptMessage", func(s *store.Store) error { return s.SetPromptMessage(ctx, "P1", "C1", "1.2") }, "set prompt message: "},
		{"DropPrompt", func(s *store.Store) error { return s.DropPrompt(ctx, "P1") }, "drop prompt: "},
		{"Vote", func(s *store.Store) error {
			_, _, err := s.Vote(ctx, "P1", "U1", api.ApprovalAgree, "", false, t0)
			return err
		}, "vote: "},
		{"Decided", func(s *store.Store) error { _, err := s.Decided(ctx, "P1", api.ApprovalAgree, "U1", t0, e); return err }, "record decision: "},
		{"Failed", func(s *store.Store) error { _, err := s.Failed(ctx, "P1", "x"); return err }, "record failure: "},
		{"Uncertain", func(s *store.Store) error { _, err := s.Uncertain(ctx, "P1", "x"); return err }, "record unknown outcome: "},
		{"PutConfirmation", func(s *store.Store) error {
			return s.PutConfirmation(ctx, &store.Confirmation{ID: "K1", Action: api.ActionStop, CreatedAt: t0})
		}, "store confirmation: "},
		{"SetConfirmationMessage", func(s *store.Store) error { return s.SetConfirmationMessage(ctx, "K1", "1.2") }, "set confirmation message: "},
		{"TakeConfirmation", func(s *store.Store) error {
			_, err := s.TakeConfirmation(ctx, "K1", "U1", true, t0, time.Minute)
			return err
		}, "use confirmation: "},
		{"SetStartedBy", func(s *store.Store) error { return s.SetStartedBy(ctx, "pipe-1", "U1", t0) }, "record start: "},
		{"StartedBy", func(s *store.Store) error { _, err := s.StartedBy(ctx, "pipe-1"); return err }, "who started: "},
		{"AddAudit", func(s *store.Store) error { return s.AddAudit(ctx, store.AuditEntry{At: t0}) }, "audit: "},
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

// TestOpenPromptWithTakenIDFails: an ID that already belongs to a decided
// prompt cannot be opened again; OpenPrompt says so at once instead of
// trying until ctx ends.
func TestOpenPromptWithTakenIDFails(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		s, _ := MustNew(t, driver)
		MustOpenPrompt(t, s, question("P1", "pipe-1"))
		_, err := s.Decided(context.Background(), "P1", api.ApprovalAgree, "U1", t0, &api.Execution{ID: "E1", Status: api.StatusReleasing})
		require.NoError(t, err)

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, _, err = s.OpenPrompt(ctx, question("P1", "pipe-1"))
		require.Error(t, err, "OpenPrompt with a decided prompt's ID")
		assert.NotErrorIs(t, err, context.DeadlineExceeded, "OpenPrompt should fail at once, not spin until ctx ends")
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

func TestRecordWritesAuditFollowAndStartTogether(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		e := store.AuditEntry{At: t0, User: "U1", Channel: "C1", Verb: "start", TaskName: "web", PipelineID: "pipe-1",
			Sent: "action start", Execution: "E1", Outcome: "Releasing (4)"}
		f := &store.Followed{PipelineID: "pipe-1", ExecutionID: "E1", TaskName: "web", Channel: "C1", TS: "1.1",
			StartedBy: "U1", Status: api.StatusReleasing, CreatedAt: t0}
		require.NoError(t, s.Record(ctx, e, f, true))

		audit, err := s.LastAudit(ctx, 5, "")
		require.NoError(t, err)
		require.Len(t, audit, 1)
		assert.Equal(t, "E1", audit[0].Execution)
		active, err := s.Active(ctx)
		require.NoError(t, err)
		require.Len(t, active, 1)
		assert.Equal(t, "1.1", active[0].TS)
		who, err := s.StartedBy(ctx, "pipe-1")
		require.NoError(t, err)
		assert.Equal(t, "U1", who)

		require.NoError(t, s.Record(ctx, store.AuditEntry{At: t0, User: "U2", Verb: "status"}, nil, false))
		audit, err = s.LastAudit(ctx, 5, "")
		require.NoError(t, err)
		assert.Len(t, audit, 2)
		who, err = s.StartedBy(ctx, "pipe-1")
		require.NoError(t, err)
		assert.Equal(t, "U1", who, "only a start records who started")
	})
}

func TestVoteSeesAStartRecordedAfterThePrompt(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		MustOpenPrompt(t, s, question("P1", "pipe-1"))
		require.NoError(t, s.SetStartedBy(ctx, "pipe-1", "U5", t0))
		_, claimed, err := s.Vote(ctx, "P1", "U5", api.ApprovalAgree, "", false, t0)
		var ve *store.VoteError
		require.ErrorAs(t, err, &ve)
		assert.Equal(t, store.VoteSelf, ve.Kind)
		assert.False(t, claimed)
		_, claimed, err = s.Vote(ctx, "P1", "U5", api.ApprovalRefuse, "no", false, t0)
		require.NoError(t, err)
		assert.True(t, claimed, "the starter may still refuse")
	})
}

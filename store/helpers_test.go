package store_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/releasebot/releasebot/release"
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
func question(id, pipeline string) *release.Prompt {
	return &release.Prompt{
		ID: id, PipelineID: pipeline, TaskName: "payments-api", ApprovalTask: "gate", Channel: "C1",
		AskedBy: "UASK", AskedAt: t0, Note: "please <@here>", StartedBy: "USTART", Required: 1,
	}
}

// MustOpenPrompt stores p, which must be new.
func MustOpenPrompt(tb testing.TB, s *store.Store, p *release.Prompt) release.Prompt {
	tb.Helper()
	got, created, err := s.OpenPrompt(context.Background(), p)
	require.NoError(tb, err)
	require.True(tb, created, "OpenPrompt(%s) created = false, want true", p.ID)
	return got
}

// voteErr returns err as a *release.VoteError, failing the test otherwise.
func voteErr(tb testing.TB, err error) *release.VoteError {
	tb.Helper()
	var ve *release.VoteError
	require.ErrorAs(tb, err, &ve, "got error %v, want a *release.VoteError", err)
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

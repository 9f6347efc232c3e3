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

// question returns a prompt about execution E1 of release task pipeline,
// waiting at approval task "gate", with every field that OpenPrompt stores
// set.
func question(id, pipeline string) *release.Prompt {
	return &release.Prompt{
		ID: id, PipelineID: pipeline, TaskName: "payments-api", ApprovalTask: "gate", ExecutionID: "E1", Channel: "C1",
		ThreadTS: "1700000000.000001", AskedBy: "UASK", AskedAt: t0, Note: "please <@here>", Actors: []string{"USTART"}, Required: 1,
	}
}

// of returns p about execution instead.
func of(p *release.Prompt, execution string) *release.Prompt {
	p.ExecutionID = execution
	return p
}

// MustOpenPrompt stores p, which must be new, and returns it as stored
// with the prompts it superseded.
func MustOpenPrompt(tb testing.TB, s *store.Store, p *release.Prompt) (release.Prompt, []release.Prompt) {
	tb.Helper()
	got, created, superseded, err := s.OpenPrompt(context.Background(), p)
	require.NoError(tb, err)
	require.True(tb, created, "OpenPrompt(%s) created = false, want true", p.ID)
	return got, superseded
}

// MustPost opens p and records it as posted, as the handlers do.
func MustPost(tb testing.TB, s *store.Store, p *release.Prompt) release.Prompt {
	tb.Helper()
	MustOpenPrompt(tb, s, p)
	require.NoError(tb, s.SetPromptMessage(context.Background(), p.ID, p.Channel, "1700000000."+p.ID, p.ThreadTS))
	return MustGet(tb, s, p.ID)
}

// MustGet returns prompt id as stored.
func MustGet(tb testing.TB, s *store.Store, id string) release.Prompt {
	tb.Helper()
	p, err := s.GetPrompt(context.Background(), id)
	require.NoError(tb, err, "GetPrompt(%s)", id)
	return p
}

// MustVote votes and requires the vote taken; it returns whether it claimed.
func MustVote(tb testing.TB, s *store.Store, id, user string, vote release.Decision, comment string) bool {
	tb.Helper()
	_, claimed, err := s.Vote(context.Background(), id, user, vote, comment, false, t0)
	require.NoError(tb, err, "%s votes %s on %s", user, vote, id)
	return claimed
}

// MustClaim votes and requires the vote to claim the decision; it returns
// the prompt as stored.
func MustClaim(tb testing.TB, s *store.Store, id, user string, vote release.Decision, at time.Time) release.Prompt {
	tb.Helper()
	_, claimed, err := s.Vote(context.Background(), id, user, vote, "", false, at)
	require.NoError(tb, err, "%s votes %s on %s", user, vote, id)
	require.True(tb, claimed, "%s's %s claims %s", user, vote, id)
	return MustGet(tb, s, id)
}

// MustUpdate applies change to prompt id as stored and requires the
// compare-and-set to win; it returns the prompt as stored after. Like the
// handlers and the poller, it keeps was as a plain copy of the prompt.
func MustUpdate(tb testing.TB, s *store.Store, id string, change func(p *release.Prompt)) release.Prompt {
	tb.Helper()
	p := MustGet(tb, s, id)
	was := p
	change(&p)
	won, err := s.UpdatePrompt(context.Background(), &was, &p)
	require.NoError(tb, err)
	require.True(tb, won, "UpdatePrompt(%s) won", id)
	return MustGet(tb, s, id)
}

// ballot is a vote as the store gives it back.
func ballot(user string, vote release.Decision, comment string, at time.Time) release.Ballot {
	return release.Ballot{User: user, Vote: vote, Comment: comment, At: ms(at)}
}

// users lists who cast votes, in order.
func users(p release.Prompt) []string {
	var out []string
	for _, b := range p.Votes {
		out = append(out, b.User)
	}
	return out
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

// stateOf returns the state of prompt id as stored.
func stateOf(tb testing.TB, s *store.Store, id string) release.State {
	tb.Helper()
	p := MustGet(tb, s, id)
	return p.State()
}

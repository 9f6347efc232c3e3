package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/release"
	"github.com/releasebot/releasebot/store"
	"github.com/releasebot/releasebot/store/storetest"
)

func TestVoteQuorum(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		q := question("P1", "pipe-1")
		q.Required = 2
		MustPost(t, s, q)

		p, claimed, err := s.Vote(ctx, "P1", "U1", release.Agree, "a", false, t0)
		require.NoError(t, err)
		assert.False(t, claimed, "first approval of two: claimed")
		assert.Equal(t, []string{"U1"}, p.Approvals())
		assert.Empty(t, p.Deciding)

		p, claimed, err = s.Vote(ctx, "P1", "U1", release.Agree, "", false, t0)
		require.NoError(t, err)
		assert.False(t, claimed, "the same approver again: claimed")
		assert.Equal(t, []string{"U1"}, p.Approvals(), "a second approval by the same user counts once")
		assert.Equal(t, "a", p.Comment("U1"), "an empty comment keeps the earlier one")

		t1 := t0.Add(time.Second)
		p, claimed, err = s.Vote(ctx, "P1", "U2", release.Agree, "b", false, t1)
		require.NoError(t, err)
		assert.True(t, claimed, "second distinct approver: claimed")
		assert.Equal(t, "U2", p.Deciding)
		assert.Equal(t, "U1: a\nU2: b", p.Message(release.Agree))

		got := MustGet(t, s, "P1")
		assert.Equal(t, []release.Ballot{ballot("U1", release.Agree, "a", t0), ballot("U2", release.Agree, "b", t1)}, got.Votes, "votes stored")
		assert.Equal(t, "U2", got.Deciding, "claim stored")
		assert.Equal(t, ms(t1), got.DecidingSince, "claimed when the deciding vote came")
	})
}

func TestVoteRefusalClaimsAtOnce(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		q := question("P1", "pipe-1")
		q.Required = 3
		MustPost(t, s, q)
		require.False(t, MustVote(t, s, "P1", "U2", release.Agree, ""))
		require.False(t, MustVote(t, s, "P1", "U1", release.Agree, "ok"))

		p, claimed, err := s.Vote(ctx, "P1", "U9", release.Refuse, "broken", false, t0)
		require.NoError(t, err)
		assert.True(t, claimed, "a refusal with 2 of 3 approvals: claimed")
		assert.Equal(t, "U9", p.Deciding)
		assert.Equal(t, []string{"U2", "U1"}, p.Approvals(), "approvals in the order they came")
		assert.Equal(t, "broken", p.Message(release.Refuse), "a refusal sends the refuser's reason only")
		assert.Equal(t, []string{"U2", "U1", "U9"}, users(MustGet(t, s, "P1")), "votes stored in order of arrival")
	})
}

// TestVoteChangeOfMind: a changed vote replaces the earlier one in the
// database too, where reconciliation reads which way the claimer voted.
func TestVoteChangeOfMind(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		s, _ := MustNew(t, driver)
		q := question("P1", "pipe-1")
		q.Required = 3
		MustPost(t, s, q)
		require.False(t, MustVote(t, s, "P1", "U1", release.Agree, "fine"))
		require.False(t, MustVote(t, s, "P1", "U2", release.Agree, ""))
		require.False(t, MustVote(t, s, "P1", "U2", release.Agree, "on second thought, fine"))
		assert.Equal(t, []release.Ballot{ballot("U1", release.Agree, "fine", t0), ballot("U2", release.Agree, "on second thought, fine", t0)},
			MustGet(t, s, "P1").Votes, "a new comment replaces the earlier one")

		p, claimed, err := s.Vote(context.Background(), "P1", "U1", release.Refuse, "no, broken", false, t0)
		require.NoError(t, err)
		assert.True(t, claimed)
		assert.Equal(t, []string{"U2"}, p.Approvals(), "an approver who then refuses no longer approves")
		assert.Equal(t, "no, broken", p.Message(release.Refuse))
		want := []release.Ballot{ballot("U2", release.Agree, "on second thought, fine", t0), ballot("U1", release.Refuse, "no, broken", t0)}
		assert.Equal(t, want, MustGet(t, s, "P1").Votes, "the changed vote as stored")
	})
}

func TestVoteSelfApproval(t *testing.T) {
	cases := []struct {
		name        string
		user        string
		decision    release.Decision
		allowSelf   bool
		wantClaimed bool
	}{
		{"asker approves", "UASK", release.Agree, false, false},
		{"actor named when asked approves", "USTART", release.Agree, false, false},
		{"actor recorded later approves", "URETRY", release.Agree, false, false},
		{"asker approves, self allowed", "UASK", release.Agree, true, true},
		{"actor approves, self allowed", "USTART", release.Agree, true, true},
		{"actor recorded later approves, self allowed", "URETRY", release.Agree, true, true},
		{"asker refuses", "UASK", release.Refuse, false, true},
		{"actor refuses", "URETRY", release.Refuse, false, true},
		{"someone else approves", "U1", release.Agree, false, true},
	}
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				id := fmt.Sprintf("P%d", i)
				MustPost(t, s, question(id, "pipe-"+id))
				require.NoError(t, s.Record(ctx, release.AuditEntry{At: t0, User: "URETRY", Verb: "retry", PipelineID: "pipe-" + id, Execution: "E1"}, nil, true))
				p, claimed, err := s.Vote(ctx, id, c.user, c.decision, "c", c.allowSelf, t0)
				assert.Equal(t, c.wantClaimed, claimed, "claimed")
				assert.Equal(t, id, p.ID, "Vote returns the prompt")
				if c.wantClaimed {
					require.NoError(t, err)
					assert.Equal(t, c.user, p.Deciding)
					return
				}
				ve := voteErr(t, err)
				assert.Equal(t, release.VoteSelf, ve.Kind, "VoteError.Kind")
				assert.Equal(t, id, ve.Prompt.ID)
				assert.Equal(t, []string{"USTART", "URETRY"}, ve.Prompt.Actors, "the error names the execution's actors")
				assert.Empty(t, MustGet(t, s, id).Votes, "a refused self-approval is not recorded")
			})
		}
	})
}

// TestActorsArePerExecution: who started, retried or continued one
// execution may approve another execution of the same release task.
func TestActorsArePerExecution(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		retry := func(execution string) release.AuditEntry {
			return release.AuditEntry{At: t0, User: "U5", Channel: "C1", Verb: "retry", TaskName: "payments-api", PipelineID: "pipe-1", Execution: execution}
		}
		MustPost(t, s, of(question("P1", "pipe-1"), "E1"))
		require.NoError(t, s.Record(ctx, retry("E1"), nil, true), "U5 retries E1 after its prompt was opened")
		require.NoError(t, s.Record(ctx, release.AuditEntry{At: t0, User: "U6", Verb: "status", PipelineID: "pipe-1", Execution: "E1"}, nil, false))
		require.NoError(t, s.AddActor(ctx, "pipe-2", "E2", "U7", t0), "U7 started an execution of the same ID elsewhere")

		_, claimed, err := s.Vote(ctx, "P1", "U5", release.Agree, "", false, t0)
		assert.False(t, claimed)
		assert.Equal(t, release.VoteSelf, voteErr(t, err).Kind, "U5 approves E1, which they retried")

		MustPost(t, s, of(question("P2", "pipe-1"), "E2")) // supersedes P1
		_, claimed, err = s.Vote(ctx, "P2", "U5", release.Agree, "", false, t0)
		require.NoError(t, err, "U5 approves E2, which they did not run")
		assert.True(t, claimed)

		MustPost(t, s, of(question("P3", "pipe-1"), "E3"))
		assert.True(t, MustVote(t, s, "P3", "U6", release.Agree, ""), "U6 only asked for a status")
		MustPost(t, s, of(question("P4", "pipe-1"), "E4"))
		assert.True(t, MustVote(t, s, "P4", "U7", release.Agree, ""), "U7 ran pipe-2's E2, not this one")
	})
}

func TestVoteAfterClaim(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		MustPost(t, s, question("P1", "pipe-1"))
		claimedP := MustClaim(t, s, "P1", "U1", release.Agree, t0)

		for _, v := range []struct {
			user     string
			decision release.Decision
		}{{"U2", release.Agree}, {"U3", release.Refuse}, {"U1", release.Agree}, {"U1", release.Refuse}, {"UASK", release.Agree}} {
			p, claimed, err := s.Vote(ctx, "P1", v.user, v.decision, "late", false, t0)
			assert.False(t, claimed, "%s %s while deciding: claimed", v.user, v.decision)
			ve := voteErr(t, err)
			assert.Equal(t, release.VoteDeciding, ve.Kind, "%s %s while deciding", v.user, v.decision)
			assert.Equal(t, "U1", ve.Prompt.Deciding, "who holds the claim")
			assert.Equal(t, ve.Prompt, p, "Vote returns the prompt as it is")
		}
		assert.Equal(t, claimedP, MustGet(t, s, "P1"), "late votes are not recorded")
	})
}

func TestVoteAfterDecided(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		MustPost(t, s, question("P1", "pipe-1"))
		MustClaim(t, s, "P1", "U1", release.Agree, t0)
		decided := MustUpdate(t, s, "P1", func(p *release.Prompt) { p.Decide(release.Agree, t0, release.StatusReleasing) })

		for _, d := range []release.Decision{release.Agree, release.Refuse} {
			_, claimed, err := s.Vote(ctx, "P1", "U2", d, "late", false, t0)
			assert.False(t, claimed)
			ve := voteErr(t, err)
			assert.Equal(t, release.VoteDecided, ve.Kind, "%s after the decision", d)
			assert.Equal(t, "U1", ve.Prompt.DecidedBy)
			assert.Equal(t, ms(t0), ve.Prompt.DecidedAt)
		}
		assert.Equal(t, decided, MustGet(t, s, "P1"), "late votes are not recorded")
	})
}

func TestVoteAfterRelease(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		s, _ := MustNew(t, driver)
		q := question("P1", "pipe-1")
		q.Required = 2
		MustPost(t, s, q)
		require.False(t, MustVote(t, s, "P1", "U1", release.Agree, "a"))
		MustClaim(t, s, "P1", "U2", release.Agree, t0)

		p := MustUpdate(t, s, "P1", func(p *release.Prompt) { p.Release("HTTP 503") })
		assert.Equal(t, "HTTP 503", p.LastError)
		assert.Equal(t, release.StateOpen, p.State(), "Release gives the claim up")
		assert.Equal(t, []string{"U1"}, users(p), "the claimer's vote is withdrawn")

		p = MustClaim(t, s, "P1", "U3", release.Agree, t0)
		assert.Equal(t, "U3", p.Deciding, "a vote after a failure: claimed")
		assert.Equal(t, "HTTP 503", p.LastError, "the last error is shown until a decision")

		MustUpdate(t, s, "P1", func(p *release.Prompt) { p.Release("HTTP 500") })
		p = MustClaim(t, s, "P1", "U2", release.Agree, t0)
		assert.Equal(t, "U2", p.Deciding, "a withdrawn approver trying again: claimed")

		p = MustUpdate(t, s, "P1", func(p *release.Prompt) { p.Decide(release.Agree, t0, release.StatusReleasing) })
		assert.Empty(t, p.LastError, "the decision clears the last error")
	})
}

func TestVoteAfterUncertain(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		MustPost(t, s, question("P1", "pipe-1"))
		MustClaim(t, s, "P1", "U1", release.Refuse, t0)
		p := MustUpdate(t, s, "P1", func(p *release.Prompt) { p.MarkUncertain("timeout") })
		assert.True(t, p.Uncertain)
		assert.Equal(t, "U1", p.Deciding, "the claim is kept")

		for _, user := range []string{"U2", "U1"} {
			_, claimed, err := s.Vote(ctx, "P1", user, release.Agree, "", false, t0)
			assert.False(t, claimed)
			ve := voteErr(t, err)
			assert.Equal(t, release.VoteUncertain, ve.Kind, "%s after an uncertain outcome", user)
			assert.Equal(t, "U1", ve.Prompt.Deciding)
		}
		assert.Equal(t, p, MustGet(t, s, "P1"), "votes while uncertain are not recorded")
	})
}

func TestVoteUnknownPrompt(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		s, _ := MustNew(t, driver)
		_, claimed, err := s.Vote(context.Background(), "nope", "U1", release.Agree, "", false, t0)
		assert.False(t, claimed)
		assert.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestVoteExactlyOnce(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		stores := replicas(t, driver, 2)
		MustPost(t, stores[0], question("P1", "pipe-1"))

		const n = 50
		claimedBy := make([]bool, n)
		errs := make([]error, n)
		together(n, func(i int) {
			d := release.Agree
			if i%2 == 1 {
				d = release.Refuse
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
			assert.Equal(t, release.VoteDeciding, ve.Kind, "vote #%d", i)
			assert.Equal(t, winners[0], ve.Prompt.Deciding, "vote #%d is told who decides", i)
		}
		p := MustGet(t, stores[len(stores)-1], "P1")
		assert.Equal(t, winners[0], p.Deciding)
		assert.Equal(t, winners, users(p), "only the winner's vote is stored")
	})
}

// TestRejectedVoteIsNotStored: a vote that loses the claim to a concurrent
// one is not stored, so its comment never rides along with the winner's
// decision. The interleaving is made deterministic on PostgreSQL by holding
// the prompt's row lock, as the winner's vote does, until the loser waits
// for it. SQLite's single connection makes the interleaving impossible.
func TestRejectedVoteIsNotStored(t *testing.T) {
	if !slices.Contains(storetest.Drivers(), "postgres") {
		t.Skipf("%s is not set", storetest.PostgresEnv)
	}
	ctx := context.Background()
	s, dsn := MustNew(t, "postgres")
	MustPost(t, s, question("P1", "pipe-1"))

	// U1's vote and claim are in flight (uncommitted) in tx.
	raw := MustRaw(t, "postgres", dsn)
	tx, err := raw.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	_, err = tx.ExecContext(ctx, `INSERT INTO votes (prompt_id, user_id, decision, comment, at, seq) VALUES ('P1', 'U1', 'agree', 'ship it', $1, 1)`, t0.UnixMilli())
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, `UPDATE prompts SET deciding = 'U1', deciding_since = $1 WHERE id = 'P1' AND deciding = ''`, t0.UnixMilli())
	require.NoError(t, err)

	type result struct {
		claimed bool
		err     error
	}
	done := make(chan result, 1)
	go func() {
		_, claimed, err := s.Vote(ctx, "P1", "U2", release.Refuse, "do not ship: broken", false, t0)
		done <- result{claimed, err}
	}()
	var holder int
	require.NoError(t, tx.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&holder))
	require.Eventually(t, func() bool {
		var waiting int
		err := raw.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))`, holder).Scan(&waiting)
		return err == nil && waiting > 0
	}, 10*time.Second, 5*time.Millisecond, "U2's vote never waited for U1's")
	require.NoError(t, tx.Commit())

	r := <-done
	require.False(t, r.claimed, "U2 lost the claim")
	require.Equal(t, release.VoteDeciding, voteErr(t, r.err).Kind)

	p := MustGet(t, s, "P1")
	assert.Equal(t, []string{"U1"}, users(p), "voters after U2's refusal was rejected")
	assert.Equal(t, "ship it", p.Message(release.Agree), "the message U1 sends upstream with its approval")
}

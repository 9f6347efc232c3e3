package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/api"
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
		MustOpenPrompt(t, s, q)

		p, claimed, err := s.Vote(ctx, "P1", "U1", release.Agree, "a", false, t0)
		require.NoError(t, err)
		assert.False(t, claimed, "first approval of two: claimed")
		assert.Equal(t, []string{"U1"}, p.Approvals)
		assert.Empty(t, p.Deciding)

		p, claimed, err = s.Vote(ctx, "P1", "U1", release.Agree, "", false, t0)
		require.NoError(t, err)
		assert.False(t, claimed, "the same approver again: claimed")
		assert.Equal(t, []string{"U1"}, p.Approvals, "a second approval by the same user counts once")
		assert.Equal(t, map[string]string{"U1": "a"}, p.Comments, "an empty comment keeps the earlier one")

		p, claimed, err = s.Vote(ctx, "P1", "U2", release.Agree, "b", false, t0)
		require.NoError(t, err)
		assert.True(t, claimed, "second distinct approver: claimed")
		assert.Equal(t, "U2", p.Deciding)
		assert.Equal(t, []string{"U1", "U2"}, p.Voters())
		assert.Equal(t, "U1: a\nU2: b", p.Message(release.Agree))
	})
}

func TestVoteRefusalClaimsAtOnce(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		q := question("P1", "pipe-1")
		q.Required = 3
		MustOpenPrompt(t, s, q)
		_, claimed, err := s.Vote(ctx, "P1", "U2", release.Agree, "", false, t0)
		require.NoError(t, err)
		require.False(t, claimed)
		_, claimed, err = s.Vote(ctx, "P1", "U1", release.Agree, "ok", false, t0)
		require.NoError(t, err)
		require.False(t, claimed)

		p, claimed, err := s.Vote(ctx, "P1", "U9", release.Refuse, "broken", false, t0)
		require.NoError(t, err)
		assert.True(t, claimed, "a refusal with 2 of 3 approvals: claimed")
		assert.Equal(t, "U9", p.Deciding)
		assert.Equal(t, []string{"U2", "U1"}, p.Approvals, "approvals in the order they came")
		assert.Equal(t, []string{"U2", "U1", "U9"}, p.Voters(), "approvers first, then the refuser")
		assert.Equal(t, "broken", p.Message(release.Refuse), "a refusal sends the refuser's reason only")
		assert.Equal(t, "ok", p.Message(release.Agree), "only voters with a comment; one is sent bare")
	})
}

func TestVoteChangeOfMind(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		q := question("P1", "pipe-1")
		q.Required = 2
		MustOpenPrompt(t, s, q)
		_, _, err := s.Vote(ctx, "P1", "U1", release.Agree, "fine", false, t0)
		require.NoError(t, err)
		p, claimed, err := s.Vote(ctx, "P1", "U1", release.Refuse, "no, broken", false, t0)
		require.NoError(t, err)
		assert.True(t, claimed)
		assert.Empty(t, p.Approvals, "an approver who then refuses no longer approves")
		assert.Equal(t, []string{"U1"}, p.Voters())
		assert.Equal(t, "no, broken", p.Message(release.Refuse), "one comment is sent bare")
	})
}

func TestVoteSelfApproval(t *testing.T) {
	cases := []struct {
		name        string
		user        string
		decision    release.Decision
		allowSelf   bool
		wantClaimed bool
		wantKind    release.VoteErrorKind
	}{
		{"asker approves", "UASK", release.Agree, false, false, release.VoteSelf},
		{"starter approves", "USTART", release.Agree, false, false, release.VoteSelf},
		{"asker approves, self allowed", "UASK", release.Agree, true, true, 0},
		{"starter approves, self allowed", "USTART", release.Agree, true, true, 0},
		{"asker refuses", "UASK", release.Refuse, false, true, 0},
		{"starter refuses", "USTART", release.Refuse, false, true, 0},
		{"someone else approves", "U1", release.Agree, false, true, 0},
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
		_, claimed, err := s.Vote(ctx, "P1", "U1", release.Agree, "", false, t0)
		require.NoError(t, err)
		require.True(t, claimed)

		for _, v := range []struct {
			user     string
			decision release.Decision
		}{{"U2", release.Agree}, {"U3", release.Refuse}, {"U1", release.Agree}, {"UASK", release.Agree}} {
			p, claimed, err := s.Vote(ctx, "P1", v.user, v.decision, "late", false, t0)
			assert.False(t, claimed, "%s %s while deciding: claimed", v.user, v.decision)
			ve := voteErr(t, err)
			assert.Equal(t, release.VoteDeciding, ve.Kind, "%s %s while deciding", v.user, v.decision)
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
		_, claimed, err := s.Vote(ctx, "P1", "U1", release.Agree, "", false, t0)
		require.NoError(t, err)
		require.True(t, claimed)
		_, err = s.Decided(ctx, "P1", release.Agree, "U1", t0, &api.Execution{ID: "E1", Status: release.StatusReleasing})
		require.NoError(t, err)

		for _, d := range []release.Decision{release.Agree, release.Refuse} {
			_, claimed, err := s.Vote(ctx, "P1", "U2", d, "late", false, t0)
			assert.False(t, claimed)
			ve := voteErr(t, err)
			assert.Equal(t, release.VoteDecided, ve.Kind, "%s after the decision", d)
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
		_, _, err := s.Vote(ctx, "P1", "U1", release.Agree, "", false, t0)
		require.NoError(t, err)
		_, claimed, err := s.Vote(ctx, "P1", "U2", release.Agree, "", false, t0)
		require.NoError(t, err)
		require.True(t, claimed)

		p, err := s.Failed(ctx, "P1", "HTTP 503")
		require.NoError(t, err)
		assert.Equal(t, "HTTP 503", p.LastError)
		assert.Empty(t, p.Deciding, "Failed releases the claim")

		p, claimed, err = s.Vote(ctx, "P1", "U3", release.Agree, "", false, t0)
		require.NoError(t, err)
		assert.True(t, claimed, "a vote after a failure: claimed")
		assert.Equal(t, "U3", p.Deciding)
		assert.Equal(t, "HTTP 503", p.LastError, "the last error is shown until a decision")

		p, err = s.Failed(ctx, "P1", "HTTP 500")
		require.NoError(t, err)
		p, claimed, err = s.Vote(ctx, "P1", "U1", release.Agree, "", false, t0)
		require.NoError(t, err)
		assert.True(t, claimed, "an earlier approver trying again: claimed")

		p, err = s.Decided(ctx, "P1", release.Agree, "U1", t0, &api.Execution{ID: "E1", Status: release.StatusReleasing})
		require.NoError(t, err)
		assert.Empty(t, p.LastError, "Decided clears the last error")
	})
}

func TestVoteAfterUncertain(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		MustOpenPrompt(t, s, question("P1", "pipe-1"))
		_, claimed, err := s.Vote(ctx, "P1", "U1", release.Refuse, "no", false, t0)
		require.NoError(t, err)
		require.True(t, claimed)
		p, err := s.Uncertain(ctx, "P1", "timeout")
		require.NoError(t, err)
		assert.Equal(t, "U1", p.Uncertain)
		assert.Equal(t, "U1", p.Deciding, "the claim is kept")

		for _, user := range []string{"U2", "U1"} {
			_, claimed, err := s.Vote(ctx, "P1", user, release.Agree, "", false, t0)
			assert.False(t, claimed)
			ve := voteErr(t, err)
			assert.Equal(t, release.VoteUncertain, ve.Kind, "%s after an uncertain outcome", user)
			assert.Equal(t, "U1", ve.Prompt.Uncertain)
			assert.Equal(t, "outcome unknown", ve.Error())
		}
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
		MustOpenPrompt(t, stores[0], question("P1", "pipe-1"))

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
	_, _, err := s.Vote(ctx, "P1", "U1", release.Agree, "ship it", false, t0)
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
		_, claimed, err := s.Vote(ctx, "P1", "U2", release.Refuse, "do not ship: broken", false, t0)
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
	require.Equal(t, release.VoteDeciding, ve.Kind)

	p, err := s.GetPrompt(ctx, "P1")
	require.NoError(t, err)
	assert.Equal(t, []string{"U1"}, p.Voters(), "voters after U2's refusal was rejected")
	assert.Equal(t, "ship it", p.Message(release.Agree), "the message U1 sends upstream with its approval")
}

func TestVoteSeesAStartRecordedAfterThePrompt(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		MustOpenPrompt(t, s, question("P1", "pipe-1"))
		require.NoError(t, s.SetStartedBy(ctx, "pipe-1", "U5", t0))
		_, claimed, err := s.Vote(ctx, "P1", "U5", release.Agree, "", false, t0)
		var ve *release.VoteError
		require.ErrorAs(t, err, &ve)
		assert.Equal(t, release.VoteSelf, ve.Kind)
		assert.False(t, claimed)
		_, claimed, err = s.Vote(ctx, "P1", "U5", release.Refuse, "no", false, t0)
		require.NoError(t, err)
		assert.True(t, claimed, "the starter may still refuse")
	})
}

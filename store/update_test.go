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

// TestUpdatePromptLosesWhenThePromptChanged: UpdatePrompt stores a change
// only if the prompt is still as the caller read it, so that of two
// replicas acting on one prompt only one wins.
func TestUpdatePromptLosesWhenThePromptChanged(t *testing.T) {
	t1 := t0.Add(time.Minute)
	cases := []struct {
		name      string
		before    func(t *testing.T, s *store.Store, id string) // brings the prompt (Required 1, no votes) to the state read
		meanwhile func(t *testing.T, s *store.Store, id string) // another replica's change
		change    func(p *release.Prompt)                       // what the caller tries on the state it read
	}{
		{
			name:      "claimed meanwhile",
			before:    func(t *testing.T, s *store.Store, id string) {},
			meanwhile: func(t *testing.T, s *store.Store, id string) { MustClaim(t, s, id, "U1", release.Refuse, t0) },
			change:    func(p *release.Prompt) { p.Close(release.Closed, "gone", t1, release.StatusReleased) },
		},
		{
			name:   "released meanwhile",
			before: func(t *testing.T, s *store.Store, id string) { MustClaim(t, s, id, "U1", release.Agree, t0) },
			meanwhile: func(t *testing.T, s *store.Store, id string) {
				MustUpdate(t, s, id, func(p *release.Prompt) { p.Release("HTTP 400") })
			},
			change: func(p *release.Prompt) { p.Decide(release.Agree, t1, release.StatusReleasing) },
		},
		{
			name:   "uncertain meanwhile",
			before: func(t *testing.T, s *store.Store, id string) { MustClaim(t, s, id, "U1", release.Agree, t0) },
			meanwhile: func(t *testing.T, s *store.Store, id string) {
				MustUpdate(t, s, id, func(p *release.Prompt) { p.MarkUncertain("timeout") })
			},
			change: func(p *release.Prompt) { p.Release("HTTP 400") },
		},
		{
			name:   "decided meanwhile",
			before: func(t *testing.T, s *store.Store, id string) { MustClaim(t, s, id, "U1", release.Agree, t0) },
			meanwhile: func(t *testing.T, s *store.Store, id string) {
				MustUpdate(t, s, id, func(p *release.Prompt) { p.Decide(release.Agree, t0, release.StatusReleasing) })
			},
			change: func(p *release.Prompt) { p.MarkUncertain("timeout") },
		},
		{
			// The same user claims again after a release: an old claim's
			// failure must not give up the new one, whose call is running.
			name:   "released and claimed again by the same user meanwhile",
			before: func(t *testing.T, s *store.Store, id string) { MustClaim(t, s, id, "U1", release.Agree, t0) },
			meanwhile: func(t *testing.T, s *store.Store, id string) {
				MustUpdate(t, s, id, func(p *release.Prompt) { p.Release("HTTP 400") })
				MustClaim(t, s, id, "U1", release.Agree, t1)
			},
			change: func(p *release.Prompt) { p.Release("HTTP 503") },
		},
		{
			name: "uncertain claim reopened and claimed again by the same user meanwhile",
			before: func(t *testing.T, s *store.Store, id string) {
				MustClaim(t, s, id, "U1", release.Refuse, t0)
				MustUpdate(t, s, id, func(p *release.Prompt) { p.MarkUncertain("timeout") })
			},
			meanwhile: func(t *testing.T, s *store.Store, id string) {
				MustUpdate(t, s, id, func(p *release.Prompt) {
					p.Reconcile(release.Seen{Found: true, Status: release.StatusAwaitingApproval}, t1, time.Second)
				})
				MustClaim(t, s, id, "U1", release.Refuse, t1)
				MustUpdate(t, s, id, func(p *release.Prompt) { p.MarkUncertain("timeout") })
			},
			change: func(p *release.Prompt) { p.Reconcile(release.Seen{}, t1, time.Hour) },
		},
	}
	eachDriver(t, func(t *testing.T, driver string) {
		s, _ := MustNew(t, driver)
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				id := fmt.Sprintf("P%d", i)
				MustPost(t, s, question(id, "pipe-"+id))
				c.before(t, s, id)
				p := MustGet(t, s, id)
				was := p
				c.meanwhile(t, s, id)
				now := MustGet(t, s, id)
				c.change(&p)
				require.NotEqual(t, was, p, "the change changes something")

				won, err := s.UpdatePrompt(context.Background(), &was, &p)
				require.NoError(t, err)
				assert.False(t, won, "UpdatePrompt on a prompt changed meanwhile: won")
				assert.Equal(t, now, MustGet(t, s, id), "the prompt as the other replica left it")
			})
		}
	})
}

func TestUpdatePromptOnce(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		stores := replicas(t, driver, 2)
		MustPost(t, stores[0], question("P1", "pipe-1"))
		MustClaim(t, stores[0], "P1", "U1", release.Agree, t0)
		read := MustGet(t, stores[0], "P1")

		// Replicas that read the same claim each apply their own outcome.
		const n = 10
		wins := make([]bool, n)
		errs := make([]error, n)
		together(n, func(i int) {
			p, was := read, read
			p.Votes = slices.Clone(read.Votes)
			if i%2 == 0 {
				p.Decide(release.Agree, t0, release.StatusReleasing)
			} else {
				p.Release(fmt.Sprintf("failure %d", i))
			}
			wins[i], errs[i] = stores[i%len(stores)].UpdatePrompt(context.Background(), &was, &p)
		})
		winner := -1
		for i := range n {
			require.NoError(t, errs[i], "UpdatePrompt #%d", i)
			if wins[i] {
				require.Equal(t, -1, winner, "UpdatePrompt #%d won after #%d", i, winner)
				winner = i
			}
		}
		require.NotEqual(t, -1, winner, "someone wins")
		got := MustGet(t, stores[1], "P1")
		if winner%2 == 0 {
			assert.Equal(t, release.StateDecided, got.State())
		} else {
			assert.Equal(t, fmt.Sprintf("failure %d", winner), got.LastError)
			assert.Empty(t, got.Votes, "the winning release withdrew the vote")
		}
	})
}

func TestUpdateUnknownPrompt(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		s, _ := MustNew(t, driver)
		p := *question("nope", "pipe-1")
		was := p
		p.Close(release.Closed, "gone", t0, 0)
		won, err := s.UpdatePrompt(context.Background(), &was, &p)
		require.NoError(t, err)
		assert.False(t, won)
	})
}

// TestReleaseWithdrawsTheClaimersVoteInTheDatabase: after a refusal that
// surely failed, its reason never rides along with a later approval, also
// on another replica that reads the prompt from the database.
func TestReleaseWithdrawsTheClaimersVoteInTheDatabase(t *testing.T) {
	for _, how := range []string{"Release", "Reconcile"} {
		t.Run(how, func(t *testing.T) {
			eachDriver(t, func(t *testing.T, driver string) {
				stores := replicas(t, driver, 2)
				q := question("P1", "pipe-1")
				q.Required = 2
				MustPost(t, stores[0], q)
				require.False(t, MustVote(t, stores[0], "P1", "U1", release.Agree, "ship it"))
				MustClaim(t, stores[0], "P1", "U9", release.Refuse, t0)
				// As the handlers do: was is a plain copy of the prompt.
				p := MustGet(t, stores[0], "P1")
				was := p
				if how == "Release" {
					p.Release("HTTP 400")
				} else {
					require.Equal(t, release.Reopen, p.Reconcile(release.Seen{Found: true, Status: release.StatusAwaitingApproval}, t0.Add(time.Hour), time.Minute))
				}
				won, err := stores[0].UpdatePrompt(context.Background(), &was, &p)
				require.NoError(t, err)
				require.True(t, won)

				got := MustGet(t, stores[1], "P1")
				assert.Equal(t, []release.Ballot{ballot("U1", release.Agree, "ship it", t0)}, got.Votes, "votes after the refusal was given up")
				assert.Equal(t, release.StateOpen, got.State())
				assert.NotEmpty(t, got.LastError)
				p, claimed, err := stores[1].Vote(context.Background(), "P1", "U2", release.Agree, "", false, t0)
				require.NoError(t, err)
				require.True(t, claimed, "U1 and U2 approve")
				assert.Equal(t, "ship it", p.Message(release.Agree), "the message U2 sends with the approval")
			})
		})
	}
}

// TestSettleLeftReadsTheClaimersVote: a decision whose outcome was unknown
// is taken as the claimer's stored vote once the execution left the gate,
// also after a change of mind.
func TestSettleLeftReadsTheClaimersVote(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		s, _ := MustNew(t, driver)
		q := question("P1", "pipe-1")
		q.Required = 2
		MustPost(t, s, q)
		require.False(t, MustVote(t, s, "P1", "U1", release.Agree, "fine"))
		MustClaim(t, s, "P1", "U1", release.Refuse, t0)
		MustUpdate(t, s, "P1", func(p *release.Prompt) { p.MarkUncertain("timeout") })

		var how release.Reconciliation
		got := MustUpdate(t, s, "P1", func(p *release.Prompt) {
			how = p.Reconcile(release.Seen{Found: true, Status: release.StatusFailed}, t0.Add(time.Second), time.Hour)
		})
		assert.Equal(t, release.SettleLeft, how)
		assert.Equal(t, release.Refuse, got.Decision, "U1 changed their mind and refused")
		assert.Equal(t, "U1", got.DecidedBy)
		assert.Equal(t, release.StatusFailed, got.Status)
	})
}

// TestOpenPromptReportsOnlyWhatItSuperseded: when a vote claims an older
// execution's prompt while a newer execution's prompt is being opened, the
// claim wins and OpenPrompt does not report the prompt as superseded (its
// message would say so while its decision is being sent). Deterministic on
// PostgreSQL only, by holding the vote's row lock.
func TestOpenPromptReportsOnlyWhatItSuperseded(t *testing.T) {
	if !slices.Contains(storetest.Drivers(), "postgres") {
		t.Skipf("%s is not set", storetest.PostgresEnv)
	}
	ctx := context.Background()
	s, dsn := MustNew(t, "postgres")
	MustPost(t, s, of(question("OLD", "pipe-1"), "E1"))

	raw := MustRaw(t, "postgres", dsn)
	tx, err := raw.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	_, err = tx.ExecContext(ctx, `UPDATE prompts SET deciding = 'U1', deciding_since = $1 WHERE id = 'OLD' AND deciding = ''`, t0.UnixMilli())
	require.NoError(t, err)
	var holder int
	require.NoError(t, tx.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&holder))

	type result struct {
		superseded []release.Prompt
		err        error
	}
	done := make(chan result, 1)
	go func() {
		_, _, superseded, err := s.OpenPrompt(ctx, of(question("NEW", "pipe-1"), "E2"))
		done <- result{superseded, err}
	}()
	require.Eventually(t, func() bool {
		var waiting int
		err := raw.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))`, holder).Scan(&waiting)
		return err == nil && waiting > 0
	}, 10*time.Second, 5*time.Millisecond, "OpenPrompt never waited for the claim")
	require.NoError(t, tx.Commit())

	r := <-done
	require.NoError(t, r.err)
	assert.Empty(t, r.superseded, "prompts reported superseded")
	old := MustGet(t, s, "OLD")
	assert.Equal(t, release.StateDeciding, old.State(), "the claimed prompt")
	assert.Equal(t, "U1", old.Deciding)
}

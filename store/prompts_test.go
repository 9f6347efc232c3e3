package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/release"
	"github.com/releasebot/releasebot/store"
)

func TestOpenPrompt(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)

		first, created, superseded, err := s.OpenPrompt(ctx, question("P1", "pipe-1"))
		require.NoError(t, err)
		assert.True(t, created, "first OpenPrompt: created")
		assert.Empty(t, superseded)
		assert.Equal(t, "P1", first.ID)

		again := question("P2", "pipe-1")
		again.AskedBy, again.Note = "UOTHER", "other note"
		got, created, superseded, err := s.OpenPrompt(ctx, again)
		require.NoError(t, err)
		assert.False(t, created, "second OpenPrompt about the same execution: created")
		assert.Empty(t, superseded, "the open prompt of the same execution is not superseded")
		assert.Equal(t, first, got, "second OpenPrompt returns the open prompt as it was stored")
		_, err = s.GetPrompt(ctx, "P2")
		assert.ErrorIs(t, err, store.ErrNotFound, "the second question was not stored")

		other := question("P3", "pipe-1")
		other.ApprovalTask = "gate-2"
		_, superseded = MustOpenPrompt(t, s, other)
		assert.Empty(t, superseded, "a prompt at another gate supersedes nothing")
		_, superseded = MustOpenPrompt(t, s, question("P4", "pipe-2"))
		assert.Empty(t, superseded, "a prompt of another release task supersedes nothing")
		assert.Equal(t, release.StateOpen, stateOf(t, s, "P1"), "P1 after prompts at other gates")

		// A claimed, undecided prompt is still the open one of its execution.
		MustClaim(t, s, "P1", "U1", release.Refuse, t0)
		got, created, _, err = s.OpenPrompt(ctx, question("P5", "pipe-1"))
		require.NoError(t, err)
		assert.False(t, created, "OpenPrompt while the open prompt is being decided: created")
		assert.Equal(t, "P1", got.ID)

		// Once decided, the same execution (retried, waiting again) gets a new prompt.
		MustUpdate(t, s, "P1", func(p *release.Prompt) { p.Decide(release.Refuse, t0, release.StatusFailed) })
		got, created, superseded, err = s.OpenPrompt(ctx, question("P6", "pipe-1"))
		require.NoError(t, err)
		assert.True(t, created, "OpenPrompt after the decision: created")
		assert.Empty(t, superseded)
		assert.Equal(t, "P6", got.ID)
		assert.Equal(t, release.Refuse, MustGet(t, s, "P1").Decision, "the decided prompt is kept")
	})
}

func TestOpenPromptConcurrently(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		const n = 20
		stores := replicas(t, driver, 4)
		MustPost(t, stores[0], of(question("OLD", "pipe-1"), "E0"))
		ids := make([]string, n)
		createdBy := make([]bool, n)
		supersededBy := make([][]release.Prompt, n)
		errs := make([]error, n)
		together(n, func(i int) {
			p, created, superseded, err := stores[i%len(stores)].OpenPrompt(context.Background(), question(fmt.Sprintf("P%02d", i), "pipe-1"))
			ids[i], createdBy[i], supersededBy[i], errs[i] = p.ID, created, superseded, err
		})
		creators := 0
		for i := range n {
			require.NoError(t, errs[i], "OpenPrompt #%d", i)
			assert.Equal(t, ids[0], ids[i], "OpenPrompt #%d: got prompt %s, want the one prompt %s", i, ids[i], ids[0])
			if createdBy[i] {
				creators++
				assert.Equal(t, fmt.Sprintf("P%02d", i), ids[i], "the creator gets its own prompt")
				require.Len(t, supersededBy[i], 1, "the creator supersedes E0's prompt")
				assert.Equal(t, "OLD", supersededBy[i][0].ID)
			} else {
				assert.Empty(t, supersededBy[i], "OpenPrompt #%d found the prompt: it supersedes nothing", i)
			}
		}
		assert.Equal(t, 1, creators, "callers told created=true")
		assert.Equal(t, release.StateSuperseded, stateOf(t, stores[0], "OLD"))
	})
}

// TestExecutionsInARow: each execution that waits at a gate gets its own
// prompt, and votes never cross from one to the next.
func TestExecutionsInARow(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		two := func(p *release.Prompt) *release.Prompt { p.Required = 2; return p }

		// E1: one approval of two, then E2 waits at the gate.
		MustPost(t, s, two(of(question("P1", "pipe-1"), "E1")))
		require.False(t, MustVote(t, s, "P1", "U1", release.Agree, "for E1"))
		p2, superseded := MustOpenPrompt(t, s, two(of(question("P2", "pipe-1"), "E2")))
		require.Len(t, superseded, 1)
		assert.Equal(t, "P1", superseded[0].ID)
		assert.Equal(t, release.Superseded, superseded[0].Decision)
		assert.Equal(t, "superseded by execution E2", superseded[0].LastError)
		assert.Equal(t, superseded[0], MustGet(t, s, "P1"), "the superseded prompt as returned and as stored")
		assert.Empty(t, p2.Votes, "E2's prompt starts without E1's votes")

		for _, d := range []release.Decision{release.Agree, release.Refuse} {
			_, claimed, err := s.Vote(ctx, "P1", "U2", d, "late", false, t0)
			assert.False(t, claimed)
			ve := voteErr(t, err)
			assert.Equal(t, release.VoteDecided, ve.Kind, "%s on E1's superseded prompt", d)
			assert.Equal(t, release.Superseded, ve.Prompt.Decision)
		}
		assert.False(t, MustVote(t, s, "P2", "U2", release.Agree, ""), "U1's approval of E1 does not count for E2")
		assert.True(t, MustVote(t, s, "P2", "U1", release.Agree, ""), "two approvals of E2")
		assert.Equal(t, []string{"U1"}, users(MustGet(t, s, "P1")), "E1's votes")
		assert.Equal(t, []string{"U2", "U1"}, users(MustGet(t, s, "P2")), "E2's votes")

		// E2 decided, then E3 waits: its prompt is new, E2's stays decided.
		MustUpdate(t, s, "P2", func(p *release.Prompt) { p.Decide(release.Agree, t0, release.StatusReleasing) })
		p3, superseded := MustOpenPrompt(t, s, of(question("P3", "pipe-1"), "E3"))
		assert.Empty(t, superseded, "a decided prompt is not superseded")
		assert.Empty(t, p3.Votes)
		_, _, err := s.Vote(ctx, "P2", "U3", release.Refuse, "", false, t0)
		assert.Equal(t, release.VoteDecided, voteErr(t, err).Kind, "a vote on E2's decided prompt")
		assert.Equal(t, release.Agree, MustGet(t, s, "P2").Decision)
	})
}

// TestOpenPromptSupersedesOnlyOpenPrompts: a newer execution's prompt
// closes the older executions' open prompts at its gate, posted or not, and
// no other.
func TestOpenPromptSupersedesOnlyOpenPrompts(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		s, _ := MustNew(t, driver)
		MustPost(t, s, of(question("CLAIMED", "pipe-1"), "E1"))
		MustVote(t, s, "CLAIMED", "U1", release.Refuse, "no") // claims: deciding
		deciding := MustGet(t, s, "CLAIMED")
		require.Equal(t, release.StateDeciding, deciding.State())
		// E1's decision is being sent when E2 shows up at the gate: left to reconciliation.
		_, superseded := MustOpenPrompt(t, s, of(question("UNPOSTED", "pipe-1"), "E2"))
		assert.Empty(t, superseded, "a prompt being decided is not superseded")
		assert.Equal(t, deciding, MustGet(t, s, "CLAIMED"), "the prompt being decided is unchanged")
		uncertain := MustUpdate(t, s, "CLAIMED", func(p *release.Prompt) { p.MarkUncertain("no answer") })

		_, superseded = MustOpenPrompt(t, s, of(question("OLDER", "pipe-1"), "E3"))
		require.Len(t, superseded, 1, "an open prompt not posted yet is superseded too")
		assert.Equal(t, "UNPOSTED", superseded[0].ID)
		require.NoError(t, s.SetPromptMessage(context.Background(), "OLDER", "C1", "1.1", ""))
		MustVote(t, s, "OLDER", "USTART", release.Refuse, "") // claims; released after a sure failure: open again
		MustUpdate(t, s, "OLDER", func(p *release.Prompt) { p.Release("HTTP 400") })
		other := of(question("OTHERGATE", "pipe-1"), "E3")
		other.ApprovalTask = "gate-2"
		MustPost(t, s, other)
		MustPost(t, s, of(question("OTHERTASK", "pipe-2"), "E3"))

		newer := of(question("NEWEST", "pipe-1"), "E5")
		newer.AskedAt = t0.Add(time.Hour)
		_, superseded = MustOpenPrompt(t, s, newer)
		require.Len(t, superseded, 1, "superseded by E5")
		p := superseded[0]
		assert.Equal(t, "OLDER", p.ID)
		assert.Equal(t, release.StateSuperseded, p.State())
		assert.Equal(t, "superseded by execution E5", p.LastError)
		assert.Equal(t, ms(newer.AskedAt), p.DecidedAt, "superseded when the newer prompt was asked")
		assert.Equal(t, p, MustGet(t, s, "OLDER"), "the superseded prompt as returned and as stored")

		assert.Equal(t, uncertain, MustGet(t, s, "CLAIMED"), "an uncertain prompt is not superseded")
		for _, id := range []string{"OTHERGATE", "OTHERTASK", "NEWEST"} {
			assert.Equal(t, release.StateOpen, stateOf(t, s, id), "%s", id)
		}
	})
}

func TestGetPromptRoundTrip(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		q := question("P1", "pipe-1")
		q.Required = 2
		MustOpenPrompt(t, s, q)
		require.NoError(t, s.SetPromptMessage(ctx, "P1", "C2", "1700000000.000100", "1700000000.000050"))
		require.NoError(t, s.AddActor(ctx, "pipe-1", "E1", "URETRY", t0))
		_, claimed, err := s.Vote(ctx, "P1", "U1", release.Agree, "lgtm", false, t0)
		require.NoError(t, err)
		require.False(t, claimed)
		t1 := t0.Add(time.Second)
		_, claimed, err = s.Vote(ctx, "P1", "U2", release.Agree, "", false, t1)
		require.NoError(t, err)
		require.True(t, claimed)
		MustUpdate(t, s, "P1", func(p *release.Prompt) { p.MarkUncertain("timeout") })

		want := release.Prompt{
			ID: "P1", PipelineID: "pipe-1", TaskName: "payments-api", ApprovalTask: "gate", ExecutionID: "E1", Channel: "C2",
			TS: "1700000000.000100", ThreadTS: "1700000000.000050", AskedBy: "UASK", AskedAt: ms(t0), Note: "please <@here>",
			Actors: []string{"USTART", "URETRY"}, Required: 2,
			Votes:    []release.Ballot{ballot("U1", release.Agree, "lgtm", t0), ballot("U2", release.Agree, "", t1)},
			Deciding: "U2", DecidingSince: ms(t1), Uncertain: true, LastError: "timeout",
		}
		got := MustGet(t, s, "P1")
		assert.Equal(t, want, got, "GetPrompt while uncertain")
		assert.Equal(t, time.UTC, got.AskedAt.Location())

		decidedAt := t0.Add(time.Minute)
		got = MustUpdate(t, s, "P1", func(p *release.Prompt) { p.Decide(release.Agree, decidedAt, release.StatusReleasing) })
		want.Deciding, want.Uncertain, want.LastError = "", false, ""
		want.Decision, want.DecidedBy, want.DecidedAt, want.Status = release.Agree, "U2", ms(decidedAt), release.StatusReleasing
		assert.Equal(t, want, got, "GetPrompt after the decision")

		_, err = s.GetPrompt(ctx, "nope")
		assert.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestPromptZeroTimesAndEmptyFields(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		s, _ := MustNew(t, driver)
		p, _ := MustOpenPrompt(t, s, &release.Prompt{ID: "P1", PipelineID: "pipe-1", ApprovalTask: "gate", Required: 1})
		assert.Equal(t, release.Prompt{ID: "P1", PipelineID: "pipe-1", ApprovalTask: "gate", Required: 1}, p,
			"zero times stay zero, no actors or votes stay nil")
		assert.Equal(t, release.StateOpen, p.State())
	})
}

func TestSetPromptMessage(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		MustOpenPrompt(t, s, question("P1", "pipe-1"))
		require.NoError(t, s.SetPromptMessage(ctx, "P1", "C9", "1700000000.000200", ""))
		p := MustGet(t, s, "P1")
		assert.Equal(t, []string{"C9", "1700000000.000200", ""}, []string{p.Channel, p.TS, p.ThreadTS}, "channel, ts, thread")
		require.NoError(t, s.SetPromptMessage(ctx, "nope", "C1", "1.2", ""), "posting an unknown prompt")
	})
}

// TestDropPrompt: only a prompt that was never posted and is not claimed
// is forgotten, with its votes and no one else's.
func TestDropPrompt(t *testing.T) {
	cases := []struct {
		name     string
		prepare  func(t *testing.T, s *store.Store, id string) // on prompt id (Required 2), after U1 and U2 voted on another prompt
		wantGone bool
	}{
		{"unposted", func(t *testing.T, s *store.Store, id string) {}, true},
		{"unposted, with a vote", func(t *testing.T, s *store.Store, id string) { MustVote(t, s, id, "U1", release.Agree, "x") }, true},
		{"posted", func(t *testing.T, s *store.Store, id string) {
			require.NoError(t, s.SetPromptMessage(context.Background(), id, "C1", "1.1", ""))
			MustVote(t, s, id, "U1", release.Agree, "kept")
		}, false},
		{"claimed", func(t *testing.T, s *store.Store, id string) { MustClaim(t, s, id, "U1", release.Refuse, t0) }, false},
		{"decided", func(t *testing.T, s *store.Store, id string) {
			MustClaim(t, s, id, "U1", release.Refuse, t0)
			MustUpdate(t, s, id, func(p *release.Prompt) { p.Decide(release.Refuse, t0, release.StatusFailed) })
		}, false},
	}
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		other := question("P0", "pipe-0")
		other.Required = 3
		MustPost(t, s, other)
		MustVote(t, s, "P0", "U1", release.Agree, "other's")
		MustVote(t, s, "P0", "U2", release.Agree, "")
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				id := fmt.Sprintf("P%d", i+1)
				q := question(id, "pipe-"+id)
				q.Required = 2
				MustOpenPrompt(t, s, q)
				c.prepare(t, s, id)
				before := MustGet(t, s, id)

				require.NoError(t, s.DropPrompt(ctx, id))
				got, err := s.GetPrompt(ctx, id)
				if c.wantGone {
					assert.ErrorIs(t, err, store.ErrNotFound, "%s after DropPrompt", id)
					p, _ := MustOpenPrompt(t, s, question(id+"-again", "pipe-"+id))
					assert.Empty(t, p.Votes, "the next prompt of the execution does not inherit the dropped votes")
				} else {
					require.NoError(t, err, "%s is kept", id)
					assert.Equal(t, before, got, "%s after DropPrompt", id)
				}
				p0 := MustGet(t, s, "P0")
				assert.Equal(t, []release.Ballot{ballot("U1", release.Agree, "other's", t0), ballot("U2", release.Agree, "", t0)},
					p0.Votes, "another prompt's votes")
			})
		}
		require.NoError(t, s.DropPrompt(ctx, "nope"), "dropping an unknown prompt")
	})
}

func TestUndecidedPrompts(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		got, err := s.UndecidedPrompts(ctx)
		require.NoError(t, err)
		assert.Empty(t, got, "no prompts")

		// Asked in this order: each at its own gate, so none supersedes another.
		ask := func(id string, minute int) *release.Prompt {
			q := question(id, "pipe-1")
			q.ApprovalTask, q.AskedAt = "gate-"+id, t0.Add(time.Duration(minute)*time.Minute)
			return q
		}
		MustPost(t, s, ask("UNCERTAIN", 4))
		MustPost(t, s, ask("OPEN", 1))
		MustOpenPrompt(t, s, ask("UNPOSTED", 0))
		MustPost(t, s, ask("DECIDING", 2))
		MustPost(t, s, ask("DECIDED", 0))
		MustPost(t, s, ask("CLOSED", 3))
		MustClaim(t, s, "DECIDING", "U1", release.Agree, t0)
		MustClaim(t, s, "UNCERTAIN", "U1", release.Agree, t0)
		MustUpdate(t, s, "UNCERTAIN", func(p *release.Prompt) { p.MarkUncertain("timeout") })
		MustClaim(t, s, "DECIDED", "U1", release.Agree, t0)
		MustUpdate(t, s, "DECIDED", func(p *release.Prompt) { p.Decide(release.Agree, t0, release.StatusReleasing) })
		MustUpdate(t, s, "CLOSED", func(p *release.Prompt) { p.Close(release.Closed, "gone", t0, 0) })

		got, err = s.UndecidedPrompts(ctx)
		require.NoError(t, err)
		var ids []string
		for _, p := range got {
			ids = append(ids, p.ID)
			assert.Equal(t, MustGet(t, s, p.ID), p, "%s with its votes", p.ID)
		}
		assert.Equal(t, []string{"OPEN", "DECIDING", "UNCERTAIN"}, ids, "posted, undecided prompts, oldest first")
	})
}

func TestOpenPromptOf(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)
		_, err := s.OpenPromptOf(ctx, "pipe-1", "E1")
		assert.ErrorIs(t, err, store.ErrNotFound, "no prompt")

		MustOpenPrompt(t, s, question("UNPOSTED", "pipe-1"))
		_, err = s.OpenPromptOf(ctx, "pipe-1", "E1")
		assert.ErrorIs(t, err, store.ErrNotFound, "an unposted prompt is not shown")
		require.NoError(t, s.DropPrompt(ctx, "UNPOSTED"))

		first := MustPost(t, s, question("FIRST", "pipe-1"))
		got, err := s.OpenPromptOf(ctx, "pipe-1", "E1")
		require.NoError(t, err)
		assert.Equal(t, first, got)

		later := question("LATER", "pipe-1")
		later.ApprovalTask, later.AskedAt = "gate-2", t0.Add(time.Hour)
		posted := MustPost(t, s, later)
		MustPost(t, s, of(question("OTHER", "pipe-1"), "E2")) // supersedes FIRST, not LATER (another gate)
		got, err = s.OpenPromptOf(ctx, "pipe-1", "E1")
		require.NoError(t, err)
		assert.Equal(t, posted, got, "the newest undecided prompt of the execution, at any gate")

		MustUpdate(t, s, "LATER", func(p *release.Prompt) { p.Close(release.Closed, "gone", t0, 0) })
		_, err = s.OpenPromptOf(ctx, "pipe-1", "E1")
		assert.ErrorIs(t, err, store.ErrNotFound, "all of E1's prompts are closed or superseded")
		_, err = s.OpenPromptOf(ctx, "pipe-2", "E2")
		assert.ErrorIs(t, err, store.ErrNotFound, "another release task's execution of the same ID")
	})
}

// TestOpenPromptWithTakenIDFails: an ID that already belongs to a decided
// prompt cannot be opened again; OpenPrompt says so at once instead of
// trying until ctx ends.
func TestOpenPromptWithTakenIDFails(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		s, _ := MustNew(t, driver)
		MustOpenPrompt(t, s, question("P1", "pipe-1"))
		MustClaim(t, s, "P1", "U1", release.Agree, t0)
		MustUpdate(t, s, "P1", func(p *release.Prompt) { p.Decide(release.Agree, t0, release.StatusReleasing) })

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, created, _, err := s.OpenPrompt(ctx, question("P1", "pipe-1"))
		require.Error(t, err, "OpenPrompt with a decided prompt's ID")
		assert.False(t, created)
		assert.NotErrorIs(t, err, context.DeadlineExceeded, "OpenPrompt should fail at once, not spin until ctx ends")
		assert.Equal(t, release.Agree, MustGet(t, s, "P1").Decision, "the decided prompt is untouched")
	})
}

func TestAnUnpostedPromptDoesNotHoldTheGate(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		s, _ := MustNew(t, driver)
		ctx := context.Background()
		first := question("PROMPT0000000000AB", "pipe")
		_, created, _, err := s.OpenPrompt(ctx, first) // its poster dies before posting it
		require.NoError(t, err)
		require.True(t, created)

		soon := question("PROMPT0000000000AC", "pipe")
		soon.AskedAt = t0.Add(30 * time.Second)
		got, created, _, err := s.OpenPrompt(ctx, soon)
		require.NoError(t, err)
		assert.False(t, created, "within a minute it may still be posted")
		assert.Equal(t, first.ID, got.ID)

		later := question("PROMPT0000000000AD", "pipe")
		later.AskedAt = t0.Add(2 * time.Minute)
		got, created, _, err = s.OpenPrompt(ctx, later)
		require.NoError(t, err)
		assert.True(t, created, "an abandoned unposted prompt gives way")
		assert.Equal(t, later.ID, got.ID)
		_, err = s.GetPrompt(ctx, first.ID)
		assert.ErrorIs(t, err, store.ErrNotFound)
	})
}

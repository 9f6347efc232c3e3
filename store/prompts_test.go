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
)

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
		_, claimed, err := s.Vote(ctx, "P1", "U1", release.Refuse, "no", false, t0)
		require.NoError(t, err)
		require.True(t, claimed)
		got, created, err = s.OpenPrompt(ctx, question("P5", "pipe-1"))
		require.NoError(t, err)
		assert.False(t, created, "OpenPrompt while the open prompt is being decided: created")
		assert.Equal(t, "P1", got.ID)

		_, err = s.Decided(ctx, "P1", release.Refuse, "U1", t0, &api.Execution{ID: "E1", Status: release.StatusFailed})
		require.NoError(t, err)
		got, created, err = s.OpenPrompt(ctx, question("P6", "pipe-1"))
		require.NoError(t, err)
		assert.True(t, created, "OpenPrompt after the decision: created")
		assert.Equal(t, "P6", got.ID)
		old, err := s.GetPrompt(ctx, "P1")
		require.NoError(t, err)
		assert.Equal(t, release.Refuse, old.Decision, "the decided prompt is kept")
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
		_, claimed, err := s.Vote(ctx, "P1", "U1", release.Agree, "lgtm", false, t0)
		require.NoError(t, err)
		require.False(t, claimed)
		_, claimed, err = s.Vote(ctx, "P1", "U2", release.Agree, "", false, t0.Add(time.Second))
		require.NoError(t, err)
		require.True(t, claimed)
		uncertain, err := s.Uncertain(ctx, "P1", "timeout")
		require.NoError(t, err)

		want := release.Prompt{
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
		decided, err := s.Decided(ctx, "P1", release.Agree, "U2", decidedAt, &api.Execution{ID: "E9", Status: release.StatusReleasing})
		require.NoError(t, err)
		want.Deciding, want.Uncertain, want.LastError = "", "", ""
		want.Decision, want.DecidedBy, want.DecidedAt, want.ExecutionID, want.Status = release.Agree, "U2", ms(decidedAt), "E9", release.StatusReleasing
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
		p := MustOpenPrompt(t, s, &release.Prompt{ID: "P1", PipelineID: "pipe-1", ApprovalTask: "gate", Required: 1})
		assert.True(t, p.AskedAt.IsZero(), "AskedAt: got %v, want zero", p.AskedAt)
		assert.True(t, p.DecidedAt.IsZero(), "DecidedAt: got %v, want zero", p.DecidedAt)
		assert.Empty(t, p.Approvals)
		assert.Empty(t, p.Voters())
		assert.Equal(t, "", p.Message(release.Agree))
		assert.NotNil(t, p.Comments, "Comments is a map, ready to read")
	})
}

func TestSetPromptMessageAndDropPrompt(t *testing.T) {
	eachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, _ := MustNew(t, driver)

		MustOpenPrompt(t, s, question("UNPOSTED", "pipe-1"))
		_, _, err := s.Vote(ctx, "UNPOSTED", "U1", release.Agree, "x", false, t0)
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
		_, _, err := s.Vote(ctx, "P1", "U1", release.Agree, "lgtm", false, t0)
		require.NoError(t, err)

		require.NoError(t, s.DropPrompt(ctx, "P1"))

		p, err := s.GetPrompt(ctx, "P1")
		require.NoError(t, err)
		assert.Equal(t, []string{"U1"}, p.Approvals, "approvals of a posted prompt after DropPrompt")
		assert.Equal(t, map[string]string{"U1": "lgtm"}, p.Comments, "comments of a posted prompt after DropPrompt")
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
				var p release.Prompt
				for _, v := range c.votes {
					var err error
					p, _, err = s.Vote(ctx, id, v[0], release.Decision(v[1]), v[2], false, t0)
					require.NoError(t, err)
				}
				assert.Equal(t, c.want, p.Message(release.Decision(c.votes[len(c.votes)-1][1])), "Message() after votes %v", c.votes)
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
		_, err := s.Decided(context.Background(), "P1", release.Agree, "U1", t0, &api.Execution{ID: "E1", Status: release.StatusReleasing})
		require.NoError(t, err)

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, _, err = s.OpenPrompt(ctx, question("P1", "pipe-1"))
		require.Error(t, err, "OpenPrompt with a decided prompt's ID")
		assert.NotErrorIs(t, err, context.DeadlineExceeded, "OpenPrompt should fail at once, not spin until ctx ends")
	})
}

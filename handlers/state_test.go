package handlers

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/api"
)

func newTestPrompt(m *memory, required int) prompt {
	p, _ := m.openPrompt(&prompt{ID: newID(), PipelineID: "p1", TaskName: "pay", ApprovalTask: "gate",
		AskedBy: "U0ASKER", StartedBy: "U0STARTER", Required: required})
	return p
}

func kindOf(err error) errKind {
	var ue *userError
	if errors.As(err, &ue) {
		return ue.kind
	}
	return 0
}

func TestVote(t *testing.T) {
	type vote struct {
		user     string
		decision api.ApprovalType
		comment  string
		claimed  bool
		kind     errKind
	}
	agree, refuse := api.ApprovalAgree, api.ApprovalRefuse
	tests := []struct {
		name      string
		required  int
		allowSelf bool
		votes     []vote
		message   string // what the claimed decision sends upstream
	}{
		{"one approval decides", 1, false, []vote{{"U1", agree, "ok", true, 0}}, "ok"},
		{"quorum of two", 2, false, []vote{{"U1", agree, "", false, 0}, {"U2", agree, "fine", true, 0}}, "fine"},
		{"the same approver twice counts once", 2, false, []vote{{"U1", agree, "", false, 0}, {"U1", agree, "", false, 0}, {"U2", agree, "", true, 0}}, ""},
		{"comments of every approver are sent", 2, false, []vote{{"U1", agree, "canary ok", false, 0}, {"U2", agree, "metrics ok", true, 0}}, "U1: canary ok\nU2: metrics ok"},
		{"one refusal decides", 3, false, []vote{{"U1", agree, "", false, 0}, {"U2", refuse, "no", true, 0}}, "no"},
		{"the asker may not approve", 1, false, []vote{{"U0ASKER", agree, "", false, kindDenied}}, ""},
		{"the starter may not approve", 1, false, []vote{{"U0STARTER", agree, "", false, kindDenied}}, ""},
		{"the asker may refuse", 1, false, []vote{{"U0ASKER", refuse, "stop", true, 0}}, "stop"},
		{"self-approval when allowed", 1, true, []vote{{"U0ASKER", agree, "", true, 0}}, ""},
		{"nobody votes while the decision is in flight", 1, false, []vote{{"U1", agree, "", true, 0}, {"U2", refuse, "x", false, kindConflict}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemory()
			p := newTestPrompt(m, tt.required)
			var last prompt
			for i, v := range tt.votes {
				got, claimed, err := m.vote(p.ID, v.user, v.decision, v.comment, tt.allowSelf)
				assert.Equal(t, v.claimed, claimed, "vote %d claimed", i)
				assert.Equal(t, v.kind, kindOf(err), "vote %d error %v", i, err)
				if claimed {
					last = got
				}
			}
			if last.ID != "" {
				assert.Equal(t, tt.message, last.message())
			}
		})
	}
}

func TestVoteAfterDecisionOrFailure(t *testing.T) {
	m := newMemory()
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

	p := newTestPrompt(m, 1)
	_, claimed, err := m.vote(p.ID, "U1", api.ApprovalAgree, "", false)
	require.NoError(t, err)
	require.True(t, claimed)
	m.failed(p.ID, "HTTP 500")
	_, claimed, err = m.vote(p.ID, "U2", api.ApprovalAgree, "", false)
	require.NoError(t, err)
	assert.True(t, claimed, "after a failure the decision can be tried again")
	m.decided(p.ID, api.ApprovalAgree, "U2", now, &api.Execution{ID: "1", Status: api.StatusReleasing})
	_, _, err = m.vote(p.ID, "U3", api.ApprovalRefuse, "late", false)
	assert.Equal(t, kindConflict, kindOf(err))
	assert.Contains(t, err.Error(), "Already approved by <@U2>")

	q := newTestPrompt(m, 1)
	assert.NotEqual(t, p.ID, q.ID, "a decided prompt does not answer a new question")
	_, claimed, _ = m.vote(q.ID, "U1", api.ApprovalAgree, "", false)
	require.True(t, claimed)
	m.uncertain(q.ID, "timeout")
	_, _, err = m.vote(q.ID, "U2", api.ApprovalAgree, "", false)
	assert.Equal(t, kindConflict, kindOf(err))
	assert.Contains(t, err.Error(), "may have reached ServiceStage")

	_, _, err = m.vote("NOSUCHPROMPT", "U1", api.ApprovalAgree, "", false)
	assert.Equal(t, kindNotFound, kindOf(err))
}

func TestConcurrentClicksClaimOnce(t *testing.T) {
	m := newMemory()
	p := newTestPrompt(m, 1)
	const clicks = 50
	var wg sync.WaitGroup
	claims := make(chan string, clicks)
	for i := range clicks {
		wg.Go(func() {
			decision := api.ApprovalAgree
			if i%2 == 1 {
				decision = api.ApprovalRefuse
			}
			if _, claimed, _ := m.vote(p.ID, fmt.Sprintf("U%d", i), decision, "", false); claimed {
				claims <- fmt.Sprint(i)
			}
		})
	}
	wg.Wait()
	close(claims)
	assert.Len(t, claims, 1, "exactly one click may send the decision")
}

func TestOpenPromptIsOnePerQuestion(t *testing.T) {
	m := newMemory()
	var wg sync.WaitGroup
	ids := make(chan string, 20)
	for range 20 {
		wg.Go(func() {
			p, _ := m.openPrompt(&prompt{ID: newID(), PipelineID: "p1", ApprovalTask: "gate", Required: 1})
			ids <- p.ID
		})
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		seen[id] = true
	}
	assert.Len(t, seen, 1)
}

func TestTakeConfirmation(t *testing.T) {
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		age    time.Duration
		used   bool
		kind   errKind
		wantIn string
	}{
		{"fresh", time.Minute, false, 0, ""},
		{"expired", confirmTTL + time.Second, false, kindConflict, "expired"},
		{"used", time.Minute, true, kindConflict, "Already confirmed by <@U0BOB>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemory()
			m.putConfirmation(&confirmation{ID: "C1", Action: api.ActionStop, CreatedAt: now.Add(-tt.age)})
			if tt.used {
				_, err := m.takeConfirmation("C1", "U0BOB", true, now)
				require.NoError(t, err)
			}
			_, err := m.takeConfirmation("C1", "U0ALICE", true, now)
			assert.Equal(t, tt.kind, kindOf(err))
			if tt.wantIn != "" {
				assert.Contains(t, err.Error(), tt.wantIn)
			}
		})
	}
	_, err := newMemory().takeConfirmation("NOPE", "U1", true, now)
	assert.Equal(t, kindNotFound, kindOf(err))
}

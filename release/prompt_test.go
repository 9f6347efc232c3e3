package release_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/release"
)

var t0 = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// hold is the claim hold the tests reconcile with.
const hold = 40 * time.Second

func agree(user, comment string) release.Ballot {
	return release.Ballot{User: user, Vote: release.Agree, Comment: comment, At: t0}
}

func refuse(user, comment string) release.Ballot {
	return release.Ballot{User: user, Vote: release.Refuse, Comment: comment, At: t0}
}

// open returns an open prompt of execution E1 at approval task "gate" that
// needs two approvals, with votes.
func open(votes ...release.Ballot) release.Prompt {
	return release.Prompt{ID: "P1", PipelineID: "pipe-1", TaskName: "web", ApprovalTask: "gate", ExecutionID: "E1",
		AskedBy: "UASK", AskedAt: t0, Required: 2, Votes: votes}
}

// deciding returns p claimed by user at since.
func deciding(p release.Prompt, user string, since time.Time) release.Prompt {
	p.Deciding, p.DecidingSince = user, since
	return p
}

// uncertain returns p claimed by user at since, its outcome unknown.
func uncertain(p release.Prompt, user string, since time.Time) release.Prompt {
	p = deciding(p, user, since)
	p.Uncertain, p.LastError = true, "no answer"
	return p
}

// with returns p changed by f, for wants that differ from a given in a few fields.
func with(p release.Prompt, f func(p *release.Prompt)) release.Prompt {
	f(&p)
	return p
}

var (
	waiting  = release.Seen{Found: true, Status: release.StatusAwaitingApproval, Gate: "gate"}
	released = release.Seen{Found: true, Status: release.StatusReleased}
	failed   = release.Seen{Found: true, Status: release.StatusFailed}
	gone     = release.Seen{}
)

// vote casts a vote and claims when it decides, as store.Vote does.
func vote(b release.Ballot, at time.Time) func(p *release.Prompt) any {
	return func(p *release.Prompt) any {
		decides := p.CastVote(b.User, b.Vote, b.Comment, at)
		if decides {
			p.Claim(b.User, at)
		}
		return decides
	}
}

func reconcile(seen release.Seen, now time.Time) func(p *release.Prompt) any {
	return func(p *release.Prompt) any { return p.Reconcile(seen, now, hold) }
}

// TestPromptArrows has one case per arrow of the state diagram in Prompt's
// doc comment, plus the cases where a rule leaves the prompt as it is.
func TestPromptArrows(t *testing.T) {
	t1 := t0.Add(time.Minute)
	expired := t1.Add(hold)                 // the claim taken at t1 ran out
	fresh := t1.Add(hold - time.Nanosecond) // it still holds
	cases := []struct {
		name       string
		given      release.Prompt
		step       func(p *release.Prompt) any
		wantReport any
		want       release.Prompt
		from, to   release.State
	}{
		{
			name: "open to deciding: the quorum's last approval claims", from: release.StateOpen, to: release.StateDeciding,
			given: open(agree("U1", "a")), step: vote(agree("U2", "b"), t1), wantReport: true,
			want: deciding(open(agree("U1", "a"), release.Ballot{User: "U2", Vote: release.Agree, Comment: "b", At: t1}), "U2", t1),
		},
		{
			name: "open stays open below the quorum", from: release.StateOpen, to: release.StateOpen,
			given: open(), step: vote(agree("U1", "a"), t1), wantReport: false,
			want: open(release.Ballot{User: "U1", Vote: release.Agree, Comment: "a", At: t1}),
		},
		{
			name: "open to deciding: one refusal claims", from: release.StateOpen, to: release.StateDeciding,
			given: open(agree("U1", "a")), step: vote(refuse("U9", "broken"), t1), wantReport: true,
			want: deciding(open(agree("U1", "a"), release.Ballot{User: "U9", Vote: release.Refuse, Comment: "broken", At: t1}), "U9", t1),
		},
		{
			name: "deciding to decided: ServiceStage accepted", from: release.StateDeciding, to: release.StateDecided,
			given: with(deciding(open(agree("U1", ""), agree("U2", "")), "U2", t1), func(p *release.Prompt) { p.LastError = "earlier try failed" }),
			step:  func(p *release.Prompt) any { p.Decide(release.Agree, expired, release.StatusReleasing); return nil },
			want: with(open(agree("U1", ""), agree("U2", "")), func(p *release.Prompt) {
				p.Decision, p.DecidedBy, p.DecidedAt, p.Status = release.Agree, "U2", expired, release.StatusReleasing
				p.DecidingSince = t1
			}),
		},
		{
			name: "deciding to open: the call failed for sure, the claimer's vote is withdrawn", from: release.StateDeciding, to: release.StateOpen,
			given: deciding(open(agree("U1", "a"), refuse("U9", "broken")), "U9", t1),
			step:  func(p *release.Prompt) any { p.Release("HTTP 400"); return nil },
			want:  with(open(agree("U1", "a")), func(p *release.Prompt) { p.LastError = "HTTP 400" }),
		},
		{
			name: "deciding to uncertain: no answer, the claim is kept", from: release.StateDeciding, to: release.StateUncertain,
			given: deciding(open(agree("U1", ""), agree("U2", "")), "U2", t1),
			step:  func(p *release.Prompt) any { p.MarkUncertain("no answer"); return nil },
			want:  uncertain(open(agree("U1", ""), agree("U2", "")), "U2", t1),
		},
		{
			name: "uncertain to decided: left the gate after an approval", from: release.StateUncertain, to: release.StateDecided,
			given: uncertain(open(agree("U1", ""), agree("U2", "")), "U2", t1), step: reconcile(released, fresh),
			wantReport: release.SettleLeft,
			want: with(open(agree("U1", ""), agree("U2", "")), func(p *release.Prompt) {
				p.Decision, p.DecidedBy, p.DecidedAt, p.Status, p.DecidingSince = release.Agree, "U2", fresh, release.StatusReleased, t1
			}),
		},
		{
			name: "uncertain to decided: left the gate after a refusal", from: release.StateUncertain, to: release.StateDecided,
			given: uncertain(open(agree("U1", ""), refuse("U9", "no")), "U9", t1), step: reconcile(failed, fresh),
			wantReport: release.SettleLeft,
			want: with(open(agree("U1", ""), refuse("U9", "no")), func(p *release.Prompt) {
				p.Decision, p.DecidedBy, p.DecidedAt, p.Status, p.DecidingSince = release.Refuse, "U9", fresh, release.StatusFailed, t1
			}),
		},
		{
			name: "deciding to decided: an expired claim whose execution left the gate", from: release.StateDeciding, to: release.StateDecided,
			given: deciding(open(agree("U1", ""), agree("U2", "")), "U2", t1), step: reconcile(gone, expired),
			wantReport: release.SettleLeft,
			want: with(open(agree("U1", ""), agree("U2", "")), func(p *release.Prompt) {
				p.Decision, p.DecidedBy, p.DecidedAt, p.DecidingSince = release.Agree, "U2", expired, t1
			}),
		},
		{
			name: "uncertain to open: claim expired, still waiting", from: release.StateUncertain, to: release.StateOpen,
			given: uncertain(open(agree("U1", "a"), agree("U2", "b")), "U2", t1), step: reconcile(waiting, expired),
			wantReport: release.Reopen,
			want: with(open(agree("U1", "a")), func(p *release.Prompt) {
				p.LastError = "the decision <@U2> sent was not applied: ServiceStage still waits for one."
			}),
		},
		{
			name: "deciding to open: claim expired, still waiting", from: release.StateDeciding, to: release.StateOpen,
			given: deciding(open(agree("U1", "a"), refuse("U9", "no")), "U9", t1), step: reconcile(release.Seen{Found: true, Status: release.StatusAwaitingApproval}, expired),
			wantReport: release.Reopen,
			want: with(open(agree("U1", "a")), func(p *release.Prompt) {
				p.LastError = "the decision <@U9> sent was not applied: ServiceStage still waits for one."
			}),
		},
		{
			name: "deciding is kept: claim held, still waiting", from: release.StateDeciding, to: release.StateDeciding,
			given: deciding(open(agree("U1", ""), agree("U2", "")), "U2", t1), step: reconcile(waiting, fresh),
			wantReport: release.Keep, want: deciding(open(agree("U1", ""), agree("U2", "")), "U2", t1),
		},
		{
			name: "deciding is kept: claim held, left the gate (its call may still be the cause)", from: release.StateDeciding, to: release.StateDeciding,
			given: deciding(open(agree("U1", ""), agree("U2", "")), "U2", t1), step: reconcile(released, fresh),
			wantReport: release.Keep, want: deciding(open(agree("U1", ""), agree("U2", "")), "U2", t1),
		},
		{
			name: "uncertain is kept: claim held, still waiting", from: release.StateUncertain, to: release.StateUncertain,
			given: uncertain(open(agree("U1", ""), agree("U2", "")), "U2", t1), step: reconcile(waiting, fresh),
			wantReport: release.Keep, want: uncertain(open(agree("U1", ""), agree("U2", "")), "U2", t1),
		},
		{
			name: "open is kept: still waiting", from: release.StateOpen, to: release.StateOpen,
			given: open(agree("U1", "")), step: reconcile(waiting, expired),
			wantReport: release.Keep, want: open(agree("U1", "")),
		},
		{
			name: "open to closed: left the gate", from: release.StateOpen, to: release.StateClosed,
			given: open(agree("U1", "")), step: reconcile(released, t1), wantReport: release.CloseLeft,
			want: with(open(agree("U1", "")), func(p *release.Prompt) {
				p.Decision, p.DecidedAt, p.Status, p.LastError = release.Closed, t1, release.StatusReleased, "the execution is now Released (2)"
			}),
		},
		{
			name: "open to closed: waits at another gate", from: release.StateOpen, to: release.StateClosed,
			given: open(), step: reconcile(release.Seen{Found: true, Status: release.StatusAwaitingApproval, Gate: "gate-2"}, t1),
			wantReport: release.CloseLeft,
			want: with(open(), func(p *release.Prompt) {
				p.Decision, p.DecidedAt, p.Status, p.LastError = release.Closed, t1, release.StatusAwaitingApproval, "the execution is now Awaiting approval (5)"
			}),
		},
		{
			name: "open to closed: no longer listed", from: release.StateOpen, to: release.StateClosed,
			given: open(), step: reconcile(gone, t1), wantReport: release.CloseLeft,
			want: with(open(), func(p *release.Prompt) {
				p.Decision, p.DecidedAt, p.LastError = release.Closed, t1, "the execution is no longer listed by ServiceStage"
			}),
		},
		{
			name: "open to superseded: a newer execution waits", from: release.StateOpen, to: release.StateSuperseded,
			given: open(agree("U1", "")), step: func(p *release.Prompt) any { return p.Supersede("E2", t1) }, wantReport: true,
			want: with(open(agree("U1", "")), func(p *release.Prompt) {
				p.Decision, p.DecidedAt, p.LastError = release.Superseded, t1, "superseded by execution E2"
			}),
		},
		{
			name: "deciding is not superseded: its call may still land", from: release.StateDeciding, to: release.StateDeciding,
			given: deciding(open(refuse("U9", "")), "U9", t1), step: func(p *release.Prompt) any { return p.Supersede("E2", t1) },
			wantReport: false, want: deciding(open(refuse("U9", "")), "U9", t1),
		},
		{
			name: "uncertain is not superseded", from: release.StateUncertain, to: release.StateUncertain,
			given: uncertain(open(refuse("U9", "")), "U9", t1), step: func(p *release.Prompt) any { return p.Supersede("E2", t1) },
			wantReport: false, want: uncertain(open(refuse("U9", "")), "U9", t1),
		},
		{
			name: "open to expired: the deadline passed", from: release.StateOpen, to: release.StateExpired,
			given: open(agree("U1", "")), step: func(p *release.Prompt) any { p.Close(release.TimedOut, "no quorum in 24h", t1, 0); return nil },
			want: with(open(agree("U1", "")), func(p *release.Prompt) {
				p.Decision, p.DecidedAt, p.LastError = release.TimedOut, t1, "no quorum in 24h"
			}),
		},
		{
			name: "decided is kept by reconciliation", from: release.StateDecided, to: release.StateDecided,
			given: with(open(refuse("U9", "")), func(p *release.Prompt) { p.Decision, p.DecidedBy = release.Refuse, "U9" }),
			step:  reconcile(gone, expired), wantReport: release.Keep,
			want: with(open(refuse("U9", "")), func(p *release.Prompt) { p.Decision, p.DecidedBy = release.Refuse, "U9" }),
		},
		{
			name: "superseded is not superseded again", from: release.StateSuperseded, to: release.StateSuperseded,
			given: with(open(), func(p *release.Prompt) { p.Decision = release.Superseded }),
			step:  func(p *release.Prompt) any { return p.Supersede("E3", t1) }, wantReport: false,
			want: with(open(), func(p *release.Prompt) { p.Decision = release.Superseded }),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := c.given
			require.Equal(t, c.from, p.State(), "given state")
			report := c.step(&p)
			assert.Equal(t, c.wantReport, report, "what the rule reported")
			assert.Equal(t, c.want, p, "the prompt after the rule")
			assert.Equal(t, c.to, p.State(), "state after the rule: got %s, want %s", p.State(), c.to)
			assert.Equal(t, c.to >= release.StateDecided, p.Done(), "Done() in state %s", p.State())
		})
	}
}

func TestStateString(t *testing.T) {
	want := map[release.State]string{
		release.StateOpen: "open", release.StateDeciding: "deciding", release.StateUncertain: "uncertain",
		release.StateDecided: "decided", release.StateClosed: "closed", release.StateSuperseded: "superseded",
		release.StateExpired: "expired",
	}
	for s, w := range want {
		assert.Equal(t, w, s.String(), "State(%d).String()", int(s))
	}
}

func TestStateOfADecision(t *testing.T) {
	cases := []struct {
		decision release.Decision
		want     release.State
	}{
		{"", release.StateOpen},
		{release.Agree, release.StateDecided},
		{release.Refuse, release.StateDecided},
		{release.Closed, release.StateClosed},
		{release.Superseded, release.StateSuperseded},
		{release.TimedOut, release.StateExpired},
	}
	for _, c := range cases {
		t.Run(string(c.decision), func(t *testing.T) {
			// A decision wins over a claim left behind.
			p := uncertain(open(), "U1", t0)
			p.Decision = c.decision
			if c.decision == "" {
				p = open()
			}
			assert.Equal(t, c.want, p.State())
		})
	}
}

func TestClaimExpired(t *testing.T) {
	cases := []struct {
		name string
		p    release.Prompt
		now  time.Time
		want bool
	}{
		{"no claim", open(), t0.Add(time.Hour), false},
		{"just taken", deciding(open(), "U1", t0), t0, false},
		{"a nanosecond short of the hold", deciding(open(), "U1", t0), t0.Add(hold - 1), false},
		{"exactly the hold", deciding(open(), "U1", t0), t0.Add(hold), true},
		{"long after", uncertain(open(), "U1", t0), t0.Add(time.Hour), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, c.p.ClaimExpired(c.now, hold))
		})
	}
}

func TestClaimClearsUncertain(t *testing.T) {
	p := uncertain(open(), "U1", t0)
	p.Claim("U2", t0.Add(time.Minute))
	assert.Equal(t, release.StateDeciding, p.State())
	assert.Equal(t, "U2", p.Deciding)
	assert.Equal(t, t0.Add(time.Minute), p.DecidingSince)
}

func TestSeenWaiting(t *testing.T) {
	cases := []struct {
		name string
		seen release.Seen
		want bool
	}{
		{"at the gate", waiting, true},
		{"gate unknown", release.Seen{Found: true, Status: release.StatusAwaitingApproval}, true},
		{"at another gate", release.Seen{Found: true, Status: release.StatusAwaitingApproval, Gate: "gate-2"}, false},
		{"paused", release.Seen{Found: true, Status: release.StatusPaused, Gate: "gate"}, false},
		{"released", released, false},
		{"not listed", gone, false},
		{"not listed, status left over", release.Seen{Status: release.StatusAwaitingApproval, Gate: "gate"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, c.seen.Waiting("gate"), "%+v.Waiting(gate)", c.seen)
		})
	}
}

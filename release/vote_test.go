package release_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/release"
)

func TestCheckVote(t *testing.T) {
	withActors := func(p release.Prompt, users ...string) release.Prompt {
		p.AddActors(users...)
		return p
	}
	decided := func(d release.Decision) release.Prompt {
		return with(open(), func(p *release.Prompt) { p.Decision = d })
	}
	cases := []struct {
		name      string
		p         release.Prompt
		user      string
		vote      release.Decision
		allowSelf bool
		want      release.VoteErrorKind // 0: the vote is taken
	}{
		{"open, someone approves", open(), "U1", release.Agree, false, 0},
		{"open, someone refuses", open(), "U1", release.Refuse, false, 0},
		{"approved", decided(release.Agree), "U1", release.Agree, false, release.VoteDecided},
		{"refused", decided(release.Refuse), "U1", release.Refuse, false, release.VoteDecided},
		{"closed", decided(release.Closed), "U1", release.Agree, false, release.VoteDecided},
		{"superseded", decided(release.Superseded), "U1", release.Refuse, false, release.VoteDecided},
		{"expired", decided(release.TimedOut), "U1", release.Agree, false, release.VoteDecided},
		{"decided wins over self", decided(release.Agree), "UASK", release.Agree, false, release.VoteDecided},
		{"uncertain", uncertain(open(), "U2", t0), "U1", release.Agree, false, release.VoteUncertain},
		{"uncertain, the claimer", uncertain(open(), "U2", t0), "U2", release.Refuse, false, release.VoteUncertain},
		{"deciding", deciding(open(), "U2", t0), "U1", release.Refuse, false, release.VoteDeciding},
		{"deciding, the claimer", deciding(open(), "U2", t0), "U2", release.Agree, false, release.VoteDeciding},
		{"asker approves", open(), "UASK", release.Agree, false, release.VoteSelf},
		{"asker refuses", open(), "UASK", release.Refuse, false, 0},
		{"asker approves, self allowed", open(), "UASK", release.Agree, true, 0},
		{"actor approves", withActors(open(), "USTART", "URETRY"), "URETRY", release.Agree, false, release.VoteSelf},
		{"actor refuses", withActors(open(), "USTART"), "USTART", release.Refuse, false, 0},
		{"actor approves, self allowed", withActors(open(), "USTART"), "USTART", release.Agree, true, 0},
		{"non-actor approves a prompt with actors", withActors(open(), "USTART"), "U1", release.Agree, false, 0},
		{"nobody asked: anyone may approve", with(open(), func(p *release.Prompt) { p.AskedBy = "" }), "U1", release.Agree, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := c.p
			err := c.p.CheckVote(c.user, c.vote, c.allowSelf)
			assert.Equal(t, before, c.p, "CheckVote changes nothing")
			if c.want == 0 {
				assert.NoError(t, err)
				return
			}
			var ve *release.VoteError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, c.want, ve.Kind, "VoteError.Kind: got %v (%q)", ve.Kind, ve.Error())
			assert.Equal(t, c.p, ve.Prompt, "the error carries the prompt as it is")
		})
	}
}

func TestVoteErrorMessages(t *testing.T) {
	for kind, want := range map[release.VoteErrorKind]string{
		release.VoteDecided:   "already decided",
		release.VoteUncertain: "outcome unknown",
		release.VoteDeciding:  "being decided",
		release.VoteSelf:      "self-approval",
	} {
		assert.Equal(t, want, (&release.VoteError{Kind: kind}).Error(), "kind %d", kind)
	}
}

func TestActors(t *testing.T) {
	p := open()
	p.AddActors("U1", "", "U2", "U1")
	assert.Equal(t, []string{"U1", "U2"}, p.Actors, "each actor once, never empty")
	assert.True(t, p.IsActor("U2"))
	assert.False(t, p.IsActor("U3"))
	assert.False(t, p.IsActor(""), "nobody is not an actor")
	assert.True(t, p.Excluded("U1"), "an actor is excluded")
	assert.True(t, p.Excluded("UASK"), "the asker is excluded")
	assert.False(t, p.Excluded("U3"))
}

func TestCastVote(t *testing.T) {
	t1 := t0.Add(time.Minute)
	cases := []struct {
		name     string
		required int
		votes    []release.Ballot // cast in order, all at t0 but the last, at t1
		want     []release.Ballot // the votes after, t0 for "at t0"
		decides  bool             // what the last vote reported
	}{
		{
			name: "first of two approvals", required: 2,
			votes: []release.Ballot{agree("U1", "a")},
			want:  []release.Ballot{at(agree("U1", "a"), t1)},
		},
		{
			name: "second distinct approval reaches the quorum", required: 2,
			votes: []release.Ballot{agree("U1", "a"), agree("U2", "b")},
			want:  []release.Ballot{agree("U1", "a"), at(agree("U2", "b"), t1)}, decides: true,
		},
		{
			name: "the same approver twice counts once", required: 2,
			votes: []release.Ballot{agree("U1", "a"), agree("U1", "")},
			want:  []release.Ballot{at(agree("U1", "a"), t1)},
		},
		{
			name: "an empty comment keeps the earlier one", required: 3,
			votes: []release.Ballot{agree("U1", "first"), agree("U2", ""), agree("U1", "")},
			want:  []release.Ballot{agree("U2", ""), at(agree("U1", "first"), t1)},
		},
		{
			name: "a new comment replaces the earlier one", required: 3,
			votes: []release.Ballot{agree("U1", "first"), agree("U1", "second")},
			want:  []release.Ballot{at(agree("U1", "second"), t1)},
		},
		{
			name: "change of mind: an approver refuses, keeping the comment", required: 2,
			votes: []release.Ballot{agree("U1", "fine"), refuse("U1", "")},
			want:  []release.Ballot{at(refuse("U1", "fine"), t1)}, decides: true,
		},
		{
			name: "one refusal decides whatever the approvals", required: 3,
			votes: []release.Ballot{agree("U2", ""), agree("U1", "ok"), refuse("U9", "broken")},
			want:  []release.Ballot{agree("U2", ""), agree("U1", "ok"), at(refuse("U9", "broken"), t1)}, decides: true,
		},
		{
			name: "required 0 counts as 1", required: 0,
			votes: []release.Ballot{agree("U1", "")},
			want:  []release.Ballot{at(agree("U1", ""), t1)}, decides: true,
		},
		{
			name: "required 1", required: 1,
			votes: []release.Ballot{agree("U1", "")},
			want:  []release.Ballot{at(agree("U1", ""), t1)}, decides: true,
		},
		{
			name: "a refuser who then approves no longer refuses", required: 2,
			votes: []release.Ballot{refuse("U1", "no"), agree("U1", "ok now")},
			want:  []release.Ballot{at(agree("U1", "ok now"), t1)},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := open()
			p.Required = c.required
			var decides bool
			for i, b := range c.votes {
				when := t0
				if i == len(c.votes)-1 {
					when = t1
				}
				decides = p.CastVote(b.User, b.Vote, b.Comment, when)
			}
			assert.Equal(t, c.decides, decides, "the last vote decides")
			assert.Equal(t, c.want, p.Votes, "votes in order of arrival")
			assert.Empty(t, p.Deciding, "CastVote does not claim")
		})
	}
}

func at(b release.Ballot, when time.Time) release.Ballot {
	b.At = when
	return b
}

func TestApprovalsRefusalsComment(t *testing.T) {
	p := open(agree("U2", ""), refuse("U9", "no"), agree("U1", "ok"))
	assert.Equal(t, []string{"U2", "U1"}, p.Approvals())
	assert.Equal(t, []string{"U9"}, p.Refusals())
	assert.Equal(t, "ok", p.Comment("U1"))
	assert.Equal(t, "", p.Comment("U2"))
	assert.Equal(t, "", p.Comment("U3"), "no vote, no comment")
	none := open()
	assert.Empty(t, none.Approvals())
}

func TestMessage(t *testing.T) {
	cases := []struct {
		name     string
		p        release.Prompt
		decision release.Decision
		want     string
	}{
		{"no votes", open(), release.Agree, ""},
		{"no comment", open(agree("U1", "")), release.Agree, ""},
		{"one comment is bare", open(agree("U1", "a")), release.Agree, "a"},
		{"one of two commented is bare", open(agree("U1", ""), agree("U2", "b")), release.Agree, "b"},
		{"two comments, each with its author", open(agree("U1", "a"), agree("U2", "b")), release.Agree, "U1: a\nU2: b"},
		{"a refusal's comment never rides along with an approval", open(agree("U1", "a"), refuse("U9", "no")), release.Agree, "a"},
		{"a refusal sends the claimer's reason only", deciding(open(agree("U1", "a"), refuse("U9", "broken")), "U9", t0), release.Refuse, "broken"},
		{"a refusal without a reason", deciding(open(agree("U1", "a"), refuse("U9", "")), "U9", t0), release.Refuse, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, c.p.Message(c.decision))
		})
	}
}

// TestMessageAfterAFailedRefusal: a refusal whose call failed is withdrawn,
// so its reason is not sent with the approval that decides later.
func TestMessageAfterAFailedRefusal(t *testing.T) {
	p := open(agree("U1", "ship it"))
	require.True(t, p.CastVote("U9", release.Refuse, "broken", t0))
	p.Claim("U9", t0)
	p.Release("HTTP 400")
	require.True(t, p.CastVote("U2", release.Agree, "lgtm", t0))
	p.Claim("U2", t0)
	assert.Equal(t, "U1: ship it\nU2: lgtm", p.Message(release.Agree))
}

// TestRulesLeaveACopyAlone: a copy of a prompt taken before a rule keeps
// its votes, as the store's compare-and-set needs to see what changed.
func TestRulesLeaveACopyAlone(t *testing.T) {
	t1 := t0.Add(time.Minute)
	cases := []struct {
		name  string
		given release.Prompt
		rule  func(p *release.Prompt)
	}{
		{"change of mind", open(agree("U1", "fine"), agree("U2", "")), func(p *release.Prompt) { p.CastVote("U1", release.Refuse, "", t1) }},
		{"new comment", open(agree("U1", "fine"), agree("U2", "")), func(p *release.Prompt) { p.CastVote("U2", release.Agree, "now", t1) }},
		{"release", deciding(open(refuse("U9", "no"), agree("U1", "")), "U9", t0), func(p *release.Prompt) { p.Release("HTTP 400") }},
		{"reopen", deciding(open(agree("U1", ""), agree("U2", "")), "U1", t0), func(p *release.Prompt) { p.Reconcile(waiting, t1, hold) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Room to append in place, as a slice grown by earlier votes has.
			c.given.Votes = append(make([]release.Ballot, 0, 8), c.given.Votes...)
			p := c.given
			was := p
			wantWas := slices.Clone(was.Votes)
			c.rule(&p)
			require.NotEqual(t, wantWas, p.Votes, "the rule changes the votes")
			assert.Equal(t, wantWas, was.Votes, "the copy's votes after the rule")
		})
	}
}

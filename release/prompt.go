package release

import (
	"slices"
	"strings"
	"time"
)

// Prompt is an approval question about one execution of a release task,
// waiting at one approval task: its votes and, once made, its decision.
//
// A prompt moves through these states (State); every arrow is a rule of
// this package and has a test:
//
//	           vote reaches quorum, or one refusal (Claim)
//	  ┌──────────────────────────────────────────────┐
//	  │                                              ▼
//	open ◄─── call failed for sure (Release) ─── deciding ──── ServiceStage accepted (Decide) ──► decided
//	│ ▲                                              │            (approved / refused)
//	│ └── claim expired, still waiting (Reconcile) ──┤
//	│                                                │ no answer, 408/5xx (MarkUncertain)
//	│                                                ▼
//	│   ┌─── claim expired, still waiting ───────  uncertain ── left the gate (Reconcile) ──► decided
//	│   ▼  (Reconcile: back to open, with a note)
//	├── a newer execution waits at the gate (Supersede) ──────────────────────────────────► superseded
//	├── the execution left the gate without a decision from Slack (Reconcile) ─────────────► closed
//	└── the deadline passed (Close with TimedOut) ─────────────────────────────────────────► expired
//
// A claim ("deciding") is held only while its upstream call can still be
// running: ClaimHold after it was taken, whatever happened to the process
// that took it. Then the prompt is reconciled from ServiceStage.
//
// The rules never write into slices a copy of the prompt shares: a copy
// taken before a rule (was := p) keeps the state the rule changed, as a
// compare-and-set of the change needs.
type Prompt struct {
	ID           string
	PipelineID   string
	TaskName     string
	ApprovalTask string
	// ExecutionID is the execution this prompt is about: the one waiting at
	// ApprovalTask when the prompt was opened. Votes never cross executions.
	ExecutionID string
	Channel     string
	TS          string // the prompt's message
	ThreadTS    string // the thread it was posted in, if any
	AskedBy     string // empty when an approve or refuse command or the poller opened it
	AskedAt     time.Time
	Note        string
	// Actors started, retried or continued the execution through releasebot.
	Actors   []string
	Required int

	Votes []Ballot // in order of arrival

	Deciding      string    // who holds the claim while the decision is sent upstream
	DecidingSince time.Time // when the claim was taken
	// Uncertain is set when the decision may have reached ServiceStage but
	// its answer was lost: the claim is kept, so nothing is resent.
	Uncertain bool
	// LastError says why the last attempt did not decide, or why the prompt
	// was closed (shown on the prompt, as mrkdwn that is safe to post).
	LastError string

	Decision  Decision
	DecidedBy string
	DecidedAt time.Time
	Status    Status // the execution's status after the decision, when known

	Deadline  time.Time // when the prompt times out; zero: never
	Reminders int       // reminders sent so far
	Escalated bool      // escalated after the last reminder: no more reminders
}

// Ballot is one person's vote on a prompt.
type Ballot struct {
	User    string
	Vote    Decision // Agree or Refuse
	Comment string
	At      time.Time
}

// State is where a prompt is in its life.
type State int

// The states of a prompt; see Prompt.
const (
	StateOpen State = iota + 1
	StateDeciding
	StateUncertain
	StateDecided // approved or refused in Slack
	StateClosed
	StateSuperseded
	StateExpired
)

func (s State) String() string {
	return [...]string{"", "open", "deciding", "uncertain", "decided", "closed", "superseded", "expired"}[s]
}

// State returns the prompt's state, derived from its fields.
func (p *Prompt) State() State {
	switch p.Decision {
	case Agree, Refuse:
		return StateDecided
	case Closed:
		return StateClosed
	case Superseded:
		return StateSuperseded
	case TimedOut:
		return StateExpired
	}
	switch {
	case p.Uncertain:
		return StateUncertain
	case p.Deciding != "":
		return StateDeciding
	}
	return StateOpen
}

// Done reports whether the prompt's question is settled for good.
func (p *Prompt) Done() bool { return p.Decision != "" }

// Approvals lists who approved, in order of arrival.
func (p *Prompt) Approvals() []string { return p.voters(Agree) }

// Refusals lists who refused, in order of arrival.
func (p *Prompt) Refusals() []string { return p.voters(Refuse) }

func (p *Prompt) voters(v Decision) []string {
	var out []string
	for _, b := range p.Votes {
		if b.Vote == v {
			out = append(out, b.User)
		}
	}
	return out
}

// Comment returns what user typed with their vote, if anything.
func (p *Prompt) Comment(user string) string {
	for _, b := range p.Votes {
		if b.User == user {
			return b.Comment
		}
	}
	return ""
}

// Message is what is sent upstream as the comment of decision: for agree,
// the approvers' comments (the one, or each with its author); for refuse,
// the refuser's reason. A refusal that failed upstream never rides along
// with a later approval.
func (p *Prompt) Message(decision Decision) string {
	voters := p.Approvals()
	if decision == Refuse {
		voters = []string{p.Deciding}
	}
	var authors, parts []string
	for _, u := range voters {
		if c := p.Comment(u); c != "" {
			authors, parts = append(authors, u), append(parts, c)
		}
	}
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	for i := range parts {
		parts[i] = authors[i] + ": " + parts[i]
	}
	return strings.Join(parts, "\n")
}

// IsActor reports whether user started, retried or continued the prompt's
// execution through releasebot.
func (p *Prompt) IsActor(user string) bool { return user != "" && slices.Contains(p.Actors, user) }

// AddActors adds users to the execution's actors, once each.
func (p *Prompt) AddActors(users ...string) {
	for _, u := range users {
		if u != "" && !p.IsActor(u) {
			p.Actors = append(p.Actors, u)
		}
	}
}

// Excluded reports whether separation of duties keeps user from approving:
// they asked for the approval or are one of the execution's actors.
func (p *Prompt) Excluded(user string) bool { return user == p.AskedBy || p.IsActor(user) }

// VoteError says why a vote was not taken. Prompt is the prompt as it is.
type VoteError struct {
	Kind   VoteErrorKind
	Prompt Prompt
}

// VoteErrorKind is why a vote was not taken.
type VoteErrorKind int

// The reasons a vote is not taken.
const (
	VoteDecided   VoteErrorKind = iota + 1 // the question is settled (decided, closed, superseded, expired)
	VoteUncertain                          // a decision may have reached ServiceStage: checking
	VoteDeciding                           // someone's decision is being sent right now
	VoteSelf                               // the voter asked for it or ran the execution
)

func (e *VoteError) Error() string {
	return [...]string{"", "already decided", "outcome unknown", "being decided", "self-approval"}[e.Kind]
}

// CheckVote returns a *VoteError when p takes no vote from user now.
// Separation of duties applies to approvals only: anyone allowed to refuse
// may stop a release.
func (p *Prompt) CheckVote(user string, vote Decision, allowSelf bool) error {
	switch p.State() {
	case StateDecided, StateClosed, StateSuperseded, StateExpired:
		return &VoteError{Kind: VoteDecided, Prompt: *p}
	case StateUncertain:
		return &VoteError{Kind: VoteUncertain, Prompt: *p}
	case StateDeciding:
		return &VoteError{Kind: VoteDeciding, Prompt: *p}
	}
	if vote == Agree && !allowSelf && p.Excluded(user) {
		return &VoteError{Kind: VoteSelf, Prompt: *p}
	}
	return nil
}

// CastVote records user's vote on an open prompt, replacing any earlier
// vote of theirs (an empty comment keeps the earlier one), and reports
// whether it decides the question: one refusal, or the Required-th distinct
// approval. The caller checks CheckVote first.
func (p *Prompt) CastVote(user string, vote Decision, comment string, at time.Time) (decides bool) {
	b := Ballot{User: user, Vote: vote, Comment: comment, At: at}
	// A new slice: a copy of p taken before (the "was" of a compare-and-set)
	// keeps its votes.
	votes := make([]Ballot, 0, len(p.Votes)+1)
	for _, v := range p.Votes {
		if v.User != user {
			votes = append(votes, v)
		} else if comment == "" {
			b.Comment = v.Comment
		}
	}
	p.Votes = append(votes, b)
	return vote == Refuse || len(p.Approvals()) >= max(p.Required, 1)
}

// Claim makes user the one who sends the decision upstream, from now on.
func (p *Prompt) Claim(user string, now time.Time) {
	p.Deciding, p.DecidingSince, p.Uncertain = user, now, false
}

// ClaimExpired reports whether the claim on p is older than hold: its
// upstream call cannot be running any more, whatever happened to the
// process that made it.
func (p *Prompt) ClaimExpired(now time.Time, hold time.Duration) bool {
	return p.Deciding != "" && !now.Before(p.DecidingSince.Add(hold))
}

// Decide records that ServiceStage took the claimed decision.
func (p *Prompt) Decide(d Decision, at time.Time, status Status) {
	p.Decision, p.DecidedBy, p.DecidedAt, p.Status = d, p.Deciding, at, status
	p.Deciding, p.Uncertain, p.LastError = "", false, ""
}

// Release gives the claim up after a call that surely failed: the vote that
// claimed is withdrawn, and the question is open again with why.
func (p *Prompt) Release(why string) {
	p.withdraw(p.Deciding)
	p.Deciding, p.DecidingSince, p.Uncertain, p.LastError = "", time.Time{}, false, why
}

// MarkUncertain keeps the claim after a call whose outcome is unknown, so
// that nothing is resent until ServiceStage's own state settles it.
func (p *Prompt) MarkUncertain(why string) { p.Uncertain, p.LastError = true, why }

// Close ends an open, deciding or uncertain prompt with one of releasebot's
// own decisions (Closed, Superseded, TimedOut), saying why.
func (p *Prompt) Close(d Decision, why string, at time.Time, status Status) {
	p.Decision, p.DecidedAt, p.Status, p.LastError = d, at, status, why
	p.Deciding, p.Uncertain = "", false
}

func (p *Prompt) withdraw(user string) {
	// On a clone: slices.DeleteFunc would shift and clear the votes that a
	// copy of p taken before shares.
	p.Votes = slices.DeleteFunc(slices.Clone(p.Votes), func(b Ballot) bool { return b.User == user })
}

// Seen is what ServiceStage shows of a prompt's execution.
type Seen struct {
	Found  bool   // the execution is in its release task's records
	Status Status // its status, when found
	// Gate is the task it waits at, when the record says; empty otherwise.
	Gate string
}

// Waiting reports whether the execution still waits at approvalTask.
func (s Seen) Waiting(approvalTask string) bool {
	return s.Found && s.Status == StatusAwaitingApproval && (s.Gate == "" || s.Gate == approvalTask)
}

// Reconciliation is what Reconcile decided to do with a prompt.
type Reconciliation int

// What reconciling a prompt with ServiceStage does.
const (
	Keep       Reconciliation = iota // nothing changes
	CloseLeft                        // the execution left the gate without a decision from Slack: closed
	SettleLeft                       // an uncertain or expired decision left the gate: taken as decided
	Reopen                           // an expired claim, still waiting: the decision was not applied
)

// Reconcile compares an undecided prompt with what ServiceStage shows of its
// execution, and changes it accordingly: a prompt whose execution left the
// gate is closed (or, when a decision of ours may have moved it, decided);
// a claim that expired while the execution still waits is given up, with a
// note, so the buttons come back.
func (p *Prompt) Reconcile(seen Seen, now time.Time, hold time.Duration) Reconciliation {
	if p.Done() {
		return Keep
	}
	waiting := seen.Waiting(p.ApprovalTask)
	switch {
	case !waiting && p.Deciding != "" && (p.Uncertain || p.ClaimExpired(now, hold)):
		vote := Agree
		if slices.Contains(p.Refusals(), p.Deciding) {
			vote = Refuse
		}
		p.Decide(vote, now, seen.Status)
		return SettleLeft
	case !waiting && p.Deciding == "":
		why := "the execution is no longer listed by ServiceStage"
		if seen.Found {
			why = "the execution is now " + seen.Status.Label()
		}
		p.Close(Closed, why, now, seen.Status)
		return CloseLeft
	case waiting && p.ClaimExpired(now, hold):
		who := "<@" + p.Deciding + ">"
		if p.Deciding == TimeoutVoter {
			who = "releasebot"
		}
		p.Release("the decision " + who + " sent was not applied: ServiceStage still waits for one.")
		return Reopen
	}
	return Keep
}

// Supersede closes an undecided prompt because a newer execution waits at
// the same gate. A prompt whose decision is being sent is left to
// reconciliation: its call may still land.
func (p *Prompt) Supersede(newer string, at time.Time) bool {
	if p.State() != StateOpen {
		return false
	}
	p.Close(Superseded, "superseded by execution "+newer, at, 0)
	return true
}

// TimeoutVoter is who refuses a prompt at its deadline, when refusing is
// what the deadline does.
const TimeoutVoter = "releasebot"

// Nudge is what an undecided prompt's clock asks for.
type Nudge int

// What a prompt's clock asks for.
const (
	NoNudge  Nudge = iota
	Remind         // remind the approvers who have not voted
	Escalate       // tell those it escalates to; they may decide from now on
	Expire         // the deadline passed
)

// Schedule is how often an open prompt reminds, and how many times before
// it escalates.
type Schedule struct {
	Every     time.Duration // 0: never remind
	Reminders int
}

// Due returns what p's clock asks for at now, and the reminder count that
// goes with it. Reminders come every s.Every after the prompt was asked,
// s.Reminders of them; one interval after the last comes one escalation,
// then nothing more: the deadline decides. Each reminder counts: a prompt
// behind its schedule (a restart) catches up one reminder per call. A
// prompt whose decision is being sent waits for its outcome.
func (p *Prompt) Due(now time.Time, s Schedule) (Nudge, int) {
	if p.Done() || p.Deciding != "" {
		return NoNudge, p.Reminders
	}
	if !p.Deadline.IsZero() && !now.Before(p.Deadline) {
		return Expire, p.Reminders
	}
	if s.Every <= 0 || p.Escalated {
		return NoNudge, p.Reminders
	}
	due := int(now.Sub(p.AskedAt) / s.Every) // intervals past
	switch {
	case due <= p.Reminders:
		return NoNudge, p.Reminders
	case p.Reminders < s.Reminders:
		return Remind, p.Reminders + 1
	case due > s.Reminders:
		return Escalate, p.Reminders
	}
	return NoNudge, p.Reminders
}

package release

// Action is what releasebot asks ServiceStage to do with a release task.
type Action string

// The actions of ServiceStage's operate API (its action_id query parameter).
const (
	ActionStart    Action = "start"
	ActionStop     Action = "stop"
	ActionContinue Action = "continue"
	ActionRetry    Action = "retry"
	ActionRollback Action = "rollback"
	ActionApproval Action = "approval"
)

// Valid reports whether a is one of the documented actions.
func (a Action) Valid() bool {
	switch a {
	case ActionStart, ActionStop, ActionContinue, ActionRetry, ActionRollback, ActionApproval:
		return true
	}
	return false
}

// Runs reports whether a makes a release task run on (start, continue,
// retry): whoever does it through releasebot is one of the execution's
// actors, who may not approve it (separation of duties).
func (a Action) Runs() bool {
	return a == ActionStart || a == ActionContinue || a == ActionRetry
}

// Decision is how an approval prompt ended. Agree and Refuse are the two
// decisions ServiceStage takes; the others are releasebot's own, never sent.
type Decision string

// The decisions on a prompt.
const (
	Agree      Decision = "agree"      // approved in Slack; sent upstream
	Refuse     Decision = "refuse"     // refused in Slack; sent upstream
	Closed     Decision = "closed"     // the execution left the gate without a decision from Slack
	Superseded Decision = "superseded" // a newer execution waits at the same gate
	TimedOut   Decision = "expired"    // the prompt's deadline passed (nothing sent)
)

// Upstream reports whether d is a decision ServiceStage takes (agree or
// refuse); releasebot's own decisions are never sent.
func (d Decision) Upstream() bool { return d == Agree || d == Refuse }

// Word is the decision as a past participle: "approved", "refused", "closed",
// "superseded", "timed out".
func (d Decision) Word() string {
	switch d {
	case Agree:
		return "approved"
	case Refuse:
		return "refused"
	case TimedOut:
		return "timed out"
	}
	return string(d)
}

package policy_test

import (
	"fmt"
	"time"

	"github.com/releasebot/releasebot/policy"
)

// ExampleParse reads a policy file, then asks which rules hold for a
// release task and whether it is frozen at a time. The most specific key
// wins whole: payments-api's own rule sets no approvers, so the global
// ones apply to it, not those of payments-*.
func ExampleParse() {
	p, err := policy.Parse([]byte(`release_tasks:
  payments-*:
    approvers: [S0PAYLEADS]
  payments-api:
    required_approvals: 2
freezes:
  - name: weekend
    cron: "0 18 * * FRI"
    duration: 62h
    timezone: Europe/Berlin
    reason: No releases over the weekend
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	rules, _ := p.RulesFor("payments-api")
	fmt.Println("payments-api needs", rules.RequiredApprovals, "approvals; approvers set here:", rules.Approvers != nil)
	rules, _ = p.RulesFor("payments-worker")
	fmt.Println("payments-worker approvers:", rules.Approvers.Groups)
	saturday := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	for _, w := range p.FreezesAt(saturday, "payments-api") {
		fmt.Println(w.Name, "until", w.End.UTC().Format(time.RFC3339))
	}

	_, err = policy.Parse([]byte("release_tasks:\n  web:\n    aprovers: [U1]\n"))
	fmt.Println(err)
	// Output:
	// payments-api needs 2 approvals; approvers set here: false
	// payments-worker approvers: [S0PAYLEADS]
	// weekend until 2026-12-07T07:00:00Z
	// invalid policy: line 3: unknown key "aprovers" in release task "web" (known: operators, approvers, required_approvals, escalate_to)
}

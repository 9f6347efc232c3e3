package release_test

import (
	"fmt"
	"time"

	"github.com/releasebot/releasebot/release"
)

// Two distinct approvers are needed; a second click by the same person does
// not count, and the vote that reaches the quorum is the one that claims the
// right to send the decision upstream.
func ExamplePrompt_CastVote() {
	now := time.Date(2025, 3, 14, 15, 9, 0, 0, time.UTC)
	p := release.Prompt{ID: "P1", ExecutionID: "E1", ApprovalTask: "approve-prod", AskedBy: "UASK", Required: 2}

	// The one who asked may not approve (separation of duties).
	fmt.Println("UASK approves:", p.CheckVote("UASK", release.Agree, false))

	for _, user := range []string{"U1", "U1", "U2"} {
		if err := p.CheckVote(user, release.Agree, false); err != nil {
			fmt.Println(user, "approves:", err)
			continue
		}
		decides := p.CastVote(user, release.Agree, "lgtm from "+user, now)
		if decides {
			p.Claim(user, now)
		}
		fmt.Printf("%s approves: %d of %d, decides %t, state %s\n", user, len(p.Approvals()), p.Required, decides, p.State())
	}
	fmt.Println("U3 approves:", p.CheckVote("U3", release.Agree, false))
	fmt.Printf("sent upstream by %s:\n%s\n", p.Deciding, p.Message(release.Agree))
	// Output:
	// UASK approves: self-approval
	// U1 approves: 1 of 2, decides false, state open
	// U1 approves: 1 of 2, decides false, state open
	// U2 approves: 2 of 2, decides true, state deciding
	// U3 approves: being decided
	// sent upstream by U2:
	// U1: lgtm from U1
	// U2: lgtm from U2
}

package handlers

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/release"
)

func TestParseGuardrails(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    Request
		wantErr string
	}{
		{"lock with reason", "lock pay db migration <!here>", Request{Verb: VerbLock, Task: "pay", Text: "db migration <!here>"}, ""},
		{"lock all for 2h", "lock ALL for 2h freeze week", Request{Verb: VerbLock, All: true, For: 2 * time.Hour, Text: "freeze week"}, ""},
		{"lock for days", "lock pay for 2d long one", Request{Verb: VerbLock, Task: "pay", For: 48 * time.Hour, Text: "long one"}, ""},
		{"lock for 90m", "lock pay for 90m x", Request{Verb: VerbLock, Task: "pay", For: 90 * time.Minute, Text: "x"}, ""},
		{"quoted all is a task", `lock "all" x`, Request{Verb: VerbLock, Task: "all", Text: "x"}, ""},
		{"for without a number is the reason", "lock pay for the migration", Request{Verb: VerbLock, Task: "pay", Text: "for the migration"}, ""},
		{"lock needs a reason", "lock pay", Request{}, "a reason is required"},
		{"lock for needs a reason", "lock pay for 2h", Request{}, "a reason is required"},
		{"lock too long", "lock pay for 8d x", Request{}, "more than 7 days"},
		{"lock too short", "lock pay for 0s x", Request{}, "less than a second"},
		{"lock bad duration", "lock pay for 2hours x", Request{}, "not a duration"},
		{"unlock", "unlock pay", Request{Verb: VerbUnlock, Task: "pay"}, ""},
		{"unlock all", "unlock all", Request{Verb: VerbUnlock, All: true}, ""},
		{"unlock one only", "unlock a b", Request{}, "Usage"},
		{"locks", "locks", Request{Verb: VerbLocks}, ""},
		{"locks takes nothing", "locks pay", Request{}, "takes no arguments"},
		{"start override", "start pay b:x --override hotfix <!channel>", Request{Verb: VerbStart, Task: "pay",
			Selected: []api.SelectedTasks{{StageName: "b", Tasks: []string{"x"}}}, Override: true, Text: "hotfix <!channel>"}, ""},
		{"override with a dash", "retry pay —override fix", Request{Verb: VerbRetry, Task: "pay", Override: true, Text: "fix"}, ""},
		{"continue override", "continue pay --OVERRIDE fix it", Request{Verb: VerbContinue, Task: "pay", Override: true, Text: "fix it"}, ""},
		{"quoted --override is a name", `retry "--override"`, Request{Verb: VerbRetry, Task: "--override"}, ""},
		{"override needs a reason", "start pay --override", Request{}, "a reason is required"},
		{"override needs a task", "start --override x", Request{}, "a reason is required"},
		{"retry takes one task", "retry a b", Request{}, "Usage"},
		{"export all", "audit export", Request{Verb: VerbExport}, ""},
		{"export one", "audit EXPORT pay", Request{Verb: VerbExport, Task: "pay"}, ""},
		{"export since a date", "audit export since 2026-11-01", Request{Verb: VerbExport, Since: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}, ""},
		{"export since a time", "audit export pay since 2026-11-01T10:00:00+01:00", Request{Verb: VerbExport, Task: "pay",
			Since: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}, ""},
		{"export since days", "audit export pay since 7d", Request{Verb: VerbExport, Task: "pay", SinceAgo: 7 * 24 * time.Hour}, ""},
		{"export since nonsense", "audit export since yesterday", Request{}, "neither a date"},
		{"export two tasks", "audit export a b", Request{}, "Usage"},
		{"a task named export", `audit "export"`, Request{Verb: VerbAudit, Task: "export"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkParse(t, tt.text, tt.want, tt.wantErr) })
	}
}

func ExampleParse_guardrails() {
	r, _ := Parse("lock payments-api for 36h schema migration")
	fmt.Println(r.Verb, r.Task, r.For, r.Text)
	r, _ = Parse("start payments-api --override hotfix for INC-42")
	fmt.Printf("%s %s %v %q\n", r.Verb, r.Task, r.Override, r.Text)
	r, _ = Parse("audit export payments-api since 2026-11-01")
	fmt.Println(r.Verb, r.Task, r.Since.Format(time.RFC3339))
	// Output:
	// lock payments-api 36h0m0s schema migration
	// start payments-api true "hotfix for INC-42"
	// audit export payments-api 2026-11-01T00:00:00Z
}

// FuzzParseGuardrails checks what the guardrails' grammar promises: a lock
// lasts 1s to 7d and has a reason, an override has a reason, an export has
// at most one of its two kinds of "since".
func FuzzParseGuardrails(f *testing.F) {
	for _, s := range []string{"lock a for 2h x", "lock all for 2d <!channel>", "lock a for 9999d x", "unlock all", "locks",
		"start a b:c --override x", "retry a —override", "audit export a since 2026-11-01", "audit export since 7d",
		"audit export since 1d-1h", `lock "all" for "2h" x`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		r, err := Parse(text)
		if err != nil {
			var ue *userError
			if !errors.As(err, &ue) || strings.ContainsAny(ue.msg, "<>") {
				t.Fatalf("error %v is not an escaped usage error", err)
			}
			return
		}
		switch {
		case r.Verb == VerbLock && (r.Text == "" || (r.For != 0 && (r.For < release.MinLockFor || r.For > release.MaxLockFor))):
			t.Fatalf("lock %+v", r)
		case (r.Verb == VerbLock || r.Verb == VerbUnlock) && r.All == (r.Task != ""):
			t.Fatalf("lock target %+v", r)
		case r.Override && (r.Text == "" || (r.Verb != VerbStart && r.Verb != VerbRetry && r.Verb != VerbContinue)):
			t.Fatalf("override %+v", r)
		case !r.Since.IsZero() && r.SinceAgo != 0, r.SinceAgo < 0:
			t.Fatalf("since %+v", r)
		}
	})
}

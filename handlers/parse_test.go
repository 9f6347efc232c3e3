package handlers

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/api"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    Request
		wantErr string
	}{
		{"empty is help", "", Request{Verb: VerbHelp}, ""},
		{"help", "help", Request{Verb: VerbHelp}, ""},
		{"verb is case-insensitive", "LIST", Request{Verb: VerbList}, ""},
		{"list takes nothing", "list x", Request{}, "takes no arguments"},
		{"status", "status web-frontend", Request{Verb: VerbStatus, Task: "web-frontend"}, ""},
		{"status needs a task", "status", Request{}, "Usage: `/release status &lt;task&gt;`"},
		{"status with two names", "status a b", Request{}, "Usage"},
		{"quoted name with spaces", `status "payments api"`, Request{Verb: VerbStatus, Task: "payments api"}, ""},
		{"curly quotes", "status “payments api”", Request{Verb: VerbStatus, Task: "payments api"}, ""},
		{"unterminated quote", `status "payments api`, Request{}, "quote is not closed"},
		{"start everything", "start web", Request{Verb: VerbStart, Task: "web"}, ""},
		{"start selected", "start web build:compile,test deploy:push", Request{Verb: VerbStart, Task: "web",
			Selected: []api.SelectedTasks{{StageName: "build", Tasks: []string{"compile", "test"}}, {StageName: "deploy", Tasks: []string{"push"}}}}, ""},
		{"quoted stage and task", `start "web app" "build stage":"unit tests",lint`, Request{Verb: VerbStart, Task: "web app",
			Selected: []api.SelectedTasks{{StageName: "build stage", Tasks: []string{"unit tests", "lint"}}}}, ""},
		{"quoted colon is part of the name", `start web "a:b":c`, Request{Verb: VerbStart, Task: "web",
			Selected: []api.SelectedTasks{{StageName: "a:b", Tasks: []string{"c"}}}}, ""},
		{"same stage twice merges", "start web b:x b:y,x", Request{Verb: VerbStart, Task: "web",
			Selected: []api.SelectedTasks{{StageName: "b", Tasks: []string{"x", "y"}}}}, ""},
		{"selection without colon", "start web build", Request{}, "is not a stage selection"},
		{"selection without stage", "start web :x", Request{}, "is not a stage selection"},
		{"empty task in selection", "start web b:x,,y", Request{}, "empty task name"},
		{"trailing comma", "start web b:x,", Request{}, "empty task name"},
		{"start needs a task", "start", Request{}, "Usage"},
		{"stop", "stop web", Request{Verb: VerbStop, Task: "web"}, ""},
		{"continue", "continue web", Request{Verb: VerbContinue, Task: "web"}, ""},
		{"retry", "retry web", Request{Verb: VerbRetry, Task: "web"}, ""},
		{"rollback", "rollback web", Request{Verb: VerbRollback, Task: "web"}, ""},
		{"approve without comment", "approve pay gate", Request{Verb: VerbApprove, Task: "pay", ApprovalTask: "gate"}, ""},
		{"approve keeps the comment verbatim", "approve pay gate  looks  <!here> good ", Request{Verb: VerbApprove, Task: "pay", ApprovalTask: "gate", Text: "looks  <!here> good"}, ""},
		{"approve needs the approval task", "approve pay", Request{}, "Usage"},
		{"refuse with reason", `refuse "pay api" gate smoke tests fail`, Request{Verb: VerbRefuse, Task: "pay api", ApprovalTask: "gate", Text: "smoke tests fail"}, ""},
		{"refuse needs a reason", "refuse pay gate", Request{}, "a reason is required"},
		{"ask with note", "ask pay gate please look", Request{Verb: VerbAsk, Task: "pay", ApprovalTask: "gate", Text: "please look"}, ""},
		{"audit all", "audit", Request{Verb: VerbAudit}, ""},
		{"audit one", "audit pay", Request{Verb: VerbAudit, Task: "pay"}, ""},
		{"audit two", "audit a b", Request{}, "Usage"},
		{"unknown verb is escaped", "<!channel>", Request{}, "Unknown command `&lt;!channel&gt;`"},
		{"empty quoted name", `status ""`, Request{}, "name is empty"},
		{"too long", "status " + strings.Repeat("x", 5000), Request{}, "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkParse(t, tt.text, tt.want, tt.wantErr) })
	}
}

func ExampleParse() {
	r, _ := Parse(`start "web app" build:compile,test deploy:push`)
	fmt.Println(r.Verb, r.Task, r.Selected)
	r, _ = Parse("refuse payments-api approve-prod smoke tests fail")
	fmt.Printf("%s %s %s %q\n", r.Verb, r.Task, r.ApprovalTask, r.Text)
	_, err := Parse("deploy web")
	fmt.Println(err)
	// Output:
	// start web app [{build [compile test]} {deploy [push]}]
	// refuse payments-api approve-prod "smoke tests fail"
	// Unknown command `deploy`. Try `/release help`.
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "help", `start "web app" "b s":"t 1",t2`, "approve pay gate <!channel> @here <https://x.example|y>",
		"refuse a b c", "status “x”", `"`, "start a b:,", "ask a b \x00\xff", "AUDIT a", "lock a for 2h x", "unlock all", "locks",
		"start a --override x", "audit export a since 7d"} {
		f.Add(s)
	}
	verbs := map[string]bool{VerbHelp: true, VerbList: true, VerbStatus: true, VerbStart: true, VerbStop: true, VerbContinue: true,
		VerbRetry: true, VerbRollback: true, VerbApprove: true, VerbRefuse: true, VerbAsk: true, VerbAudit: true,
		VerbLock: true, VerbUnlock: true, VerbLocks: true, VerbExport: true}
	f.Fuzz(func(t *testing.T, text string) {
		r, err := Parse(text)
		if err != nil {
			var ue *userError
			if !errors.As(err, &ue) || ue.msg == "" {
				t.Fatalf("error %v is not a usage error", err)
			}
			if strings.ContainsAny(ue.msg, "<>") {
				t.Fatalf("unescaped angle brackets in %q", ue.msg)
			}
			return
		}
		if !verbs[r.Verb] {
			t.Fatalf("unknown verb %q accepted", r.Verb)
		}
		for _, s := range r.Selected {
			if s.StageName == "" || len(s.Tasks) == 0 {
				t.Fatalf("empty selection %+v", s)
			}
		}
		if utf8.ValidString(text) && !utf8.ValidString(r.Task) {
			t.Fatalf("task %q is not valid UTF-8", r.Task)
		}
	})
}

// checkParse parses text and wants either want, or a usage error that
// contains wantErr.
func checkParse(t *testing.T, text string, want Request, wantErr string) {
	t.Helper()
	got, err := Parse(text)
	if wantErr != "" {
		require.Error(t, err)
		assert.Contains(t, err.Error(), wantErr)
		var ue *userError
		require.True(t, errors.As(err, &ue))
		assert.Equal(t, kindUsage, ue.kind)
		return
	}
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

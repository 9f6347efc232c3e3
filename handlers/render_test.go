package handlers

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/policy"
	"github.com/releasebot/releasebot/release"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// golden compares v, as indented JSON, with testdata/golden/name.json.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	got = append(got, '\n')
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./handlers -run TestRender -update to create it")
	assert.Equal(t, string(want), string(got), "golden file %s (run with -update after checking the change)", path)
}

var (
	t0      = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	hostile = "<!channel> @here <https://x.example|y> & *bold*"
	webTask = api.ReleaseTask{ID: "caf409b1-10df-483a-b14d-7b05f7e12c88", Name: "web-frontend", Status: release.StatusReleased, LastTriggerAt: t0}
)

func openPrompt() *release.Prompt {
	return &release.Prompt{ID: "PROMPTID2345ABCDEFGH", PipelineID: "p1", TaskName: "payments-api", ApprovalTask: "approve-prod",
		ExecutionID: "286541", Channel: "C0REL", TS: "1.2", AskedBy: "U0ASKER", AskedAt: t0, Note: hostile, Required: 2,
		Actors: []string{"U0ALICE"}}
}

func ballot(user string, v release.Decision, comment string) release.Ballot {
	return release.Ballot{User: user, Vote: v, Comment: comment, At: t0}
}

func TestRender(t *testing.T) {
	approved := openPrompt()
	approved.Votes = []release.Ballot{ballot("U0BOB", release.Agree, hostile), ballot("U0CAROL", release.Agree, "ship it")}
	approved.Decision, approved.DecidedBy, approved.DecidedAt = release.Agree, "U0CAROL", t0.Add(time.Minute)
	approved.Status = release.StatusReleasing
	refused := openPrompt()
	refused.Votes = []release.Ballot{ballot("U0BOB", release.Refuse, "smoke tests fail")}
	refused.Decision, refused.DecidedBy, refused.DecidedAt = release.Refuse, "U0BOB", t0.Add(time.Minute)
	refused.Status = release.StatusFailed
	unsure := openPrompt()
	unsure.Votes = []release.Ballot{ballot("U0BOB", release.Agree, "")}
	unsure.Deciding, unsure.Uncertain = "U0BOB", true
	unsure.LastError = "ServiceStage may have carried this out, but its answer was lost (timeout)."
	deciding := openPrompt()
	deciding.Votes = []release.Ballot{ballot("U0BOB", release.Agree, "")}
	deciding.Deciding, deciding.DecidingSince = "U0BOB", t0
	voted := openPrompt()
	voted.Votes = []release.Ballot{ballot("U0BOB", release.Agree, "")}
	voted.LastError = "ServiceStage answered HTTP 500 `SVCSTG.500`: boom."
	closed := openPrompt()
	closed.Decision, closed.DecidedAt, closed.LastError, closed.Status = release.Closed, t0.Add(time.Minute), "the execution is now Released (2)", release.StatusReleased
	superseded := openPrompt()
	superseded.Supersede("286542", t0.Add(time.Minute))
	timedOut := openPrompt()
	timedOut.Close(release.TimedOut, "no decision within 24h0m0s", t0.Add(24*time.Hour), 0)
	withDeadline := openPrompt()
	withDeadline.Deadline, withDeadline.Reminders, withDeadline.Escalated = t0.Add(24*time.Hour), 3, true
	waiting := who{users: []string{"U0DAVE"}, groups: []string{"S0APPROVERS"}, anyone: true}
	lock := release.Lock{ID: "L1", Target: "p1", TaskName: "payments-api", Holder: "U0ALICE", Reason: hostile, Channel: "C0REL",
		CreatedAt: t0, Until: t0.Add(2 * time.Hour)}
	freeze := policy.Window{Name: "weekend", Reason: "No releases over the weekend", Start: t0.Add(-time.Hour), End: t0.Add(60 * time.Hour)}
	long := openPrompt()
	long.Note = strings.Repeat("<&>", 3000)
	fol := release.Followed{PipelineID: "p1", ExecutionID: "286541", TaskName: "payments-api", Channel: "C0REL", TS: "1.2",
		StartedBy: "U0ALICE", Status: release.StatusReleasing, CreatedAt: t0}
	rec := &api.Record{ID: "286541", Status: release.StatusReleasing, StartTime: t0, Stages: []api.StageRun{
		{Name: "canary", Status: release.StatusReleased}, {Name: "gate", Status: release.StatusAwaitingApproval}, {Name: hostile, Status: release.StatusInitialized}}}
	done := fol
	done.Status = release.StatusReleased
	doneRec := &api.Record{ID: "286541", Status: release.StatusReleased, StartTime: t0, EndTime: t0.Add(95 * time.Second)}
	hint := &release.Confirmation{ID: "CONFIRMID2345ABCDEF", Action: release.ActionContinue, PipelineID: "p1", TaskName: "data-pipeline", CreatedAt: t0}
	conf := &release.Confirmation{ID: "CONFIRMID2345ABCDEF", Action: release.ActionStop, PipelineID: "p1", TaskName: "payments-api", RequestedBy: "U0ALICE", CreatedAt: t0}

	cases := map[string]any{
		"help":               renderHelp(),
		"list":               renderList([]api.ReleaseTask{webTask, {ID: "x", Name: hostile, Status: 6}}),
		"list_empty":         renderList(nil),
		"status":             renderStatus(webTask, []api.Record{{ID: "286542", Status: release.StatusReleasing, Trigger: "alice", StartTime: t0}, {ID: "286541", Status: release.StatusReleased, Trigger: "bob", StartTime: t0.Add(-time.Hour), EndTime: t0.Add(-time.Hour + 35*time.Second)}}, nil),
		"status_waiting":     renderStatus(webTask, []api.Record{{ID: "286541", Status: release.StatusAwaitingApproval, StartTime: t0}}, map[string]release.Prompt{"286541": *openPrompt()}),
		"status_no_runs":     renderStatus(webTask, nil, nil),
		"outcome_start":      renderOutcome("U0ALICE", release.ActionStart, webTask, &api.Execution{ID: "286541", Status: release.StatusReleasing}),
		"outcome_unknown":    renderOutcome("U0ALICE", release.ActionRetry, api.ReleaseTask{Name: hostile}, &api.Execution{ID: "1", Status: 99}),
		"confirm":            renderConfirm(conf),
		"confirm_confirmed":  renderConfirmClosed(conf, true, "U0BOB", t0, ""),
		"confirm_failed":     renderConfirmClosed(conf, true, "U0BOB", t0, ":warning: ServiceStage answered HTTP 400 `SVCSTG.00100409`: not running."),
		"confirm_cancelled":  renderConfirmClosed(conf, false, "U0BOB", t0, ""),
		"prompt_open":        renderPrompt(openPrompt()),
		"prompt_voted_error": renderPrompt(voted),
		"prompt_approved":    renderPrompt(approved),
		"prompt_refused":     renderPrompt(refused),
		"prompt_uncertain":   renderPrompt(unsure),
		"prompt_closed":      renderPrompt(closed),
		"prompt_deciding":    renderPrompt(deciding),
		"prompt_superseded":  renderPrompt(superseded),
		"prompt_long_note":   renderPrompt(long),
		"prompt_timed_out":   renderPrompt(timedOut),
		"prompt_escalated":   renderPrompt(withDeadline),
		"reminder":           renderReminder(withDeadline, waiting, t0.Add(90*time.Minute)),
		"reminder_dm":        renderReminderDM(withDeadline, t0.Add(90*time.Minute)),
		"lock_taken":         renderLockTaken(lock),
		"lock_broken":        renderLockBroken(lock, "U0DAVE"),
		"lock_expired":       renderLockExpired(lock),
		"lock_break_confirm": renderBreakConfirm(&release.Confirmation{ID: "CONFIRMID2345ABCDEF", TaskName: "payments-api", RequestedBy: "U0DAVE"}, lock),
		"override_confirm":   renderOverrideConfirm(conf, freeze, hostile),
		"override_done":      renderOverrideDone(conf, override{Reason: hostile, Freeze: "weekend"}, "U0DAVE"),
		"locks":              renderLocks([]release.Lock{lock}, []policy.Window{freeze}, t0),
		"app_home":           renderHome([]release.Prompt{*openPrompt()}, []release.Followed{fol}, []release.Prompt{*approved, *refused}, "U0BOB"),
		"app_home_empty":     renderHome(nil, nil, nil, "U0BOB"),
		"escalation":         renderEscalation(withDeadline, who{users: []string{"U0ERIN"}}, t0.Add(2*time.Hour)),
		"progress":           renderProgress(fol, rec, t0.Add(130*time.Second), "https://console.example/servicestage/p1/286541"),
		"progress_finished":  renderProgress(done, doneRec, t0.Add(100*time.Second), ""),
		"finished":           renderFinished(done, doneRec, t0.Add(100*time.Second)),
		"follow_bound":       renderFollowBound(fol),
		"continue_hint":      renderContinueHint(hint),
		"continue_confirmed": renderConfirmClosed(hint, true, "U0BOB", t0, ""),
		"refuse_modal":       renderRefuseModal(openPrompt()),
		"audit":              renderAudit([]release.AuditEntry{{At: t0, User: "U0ALICE", Channel: "C0REL", Verb: "start", TaskName: "web-frontend", Execution: "286541", Outcome: "Releasing (4)"}}, "web-frontend"),
		"audit_empty":        renderAudit(nil, ""),
		"error":              renderError(upstreamText(&api.Error{StatusCode: 500, Code: "SVCSTG.00100500", Message: hostile})),
		"error_credentials":  renderError(upstreamText(&api.Error{StatusCode: 401, Code: "APIGW.0301"})),
	}
	for name, msg := range cases {
		t.Run(name, func(t *testing.T) {
			golden(t, name, msg)
			raw, err := json.Marshal(msg)
			require.NoError(t, err)
			assertNoMentions(t, string(raw))
			assertWithinLimits(t, string(raw))
		})
	}
}

// assertNoMentions fails when a payload could mention or link anyone
// through user text: the hostile text must arrive escaped, every mrkdwn
// object must be verbatim.
func assertNoMentions(t *testing.T, raw string) {
	t.Helper()
	// releasebot's own links to its prompts are fine.
	own := regexp.MustCompile(`(<|\\u003c)https://slack\.com/archives/C[A-Z0-9]+/p[0-9]+\|open the prompt(>|\\u003e)`)
	raw = own.ReplaceAllString(raw, "")
	console := regexp.MustCompile(`(<|\\u003c)https://console\.example/[^|]*\|Open in ServiceStage(>|\\u003e)`)
	raw = console.ReplaceAllString(raw, "")
	for _, bad := range []string{"<!channel>", "<!here>", "<https://", `\u003c!channel\u003e`, `\u003chttps://`} {
		assert.NotContains(t, raw, bad)
	}
	var v any
	require.NoError(t, json.Unmarshal([]byte(raw), &v))
	walk(v, func(m map[string]any) {
		if m["type"] == "mrkdwn" {
			assert.Equal(t, true, m["verbatim"], "mrkdwn text object not verbatim: %v", m["text"])
		}
	})
	if strings.Contains(raw, "@here") {
		var top struct{ Text string }
		_ = json.Unmarshal([]byte(raw), &top)
		assert.NotContains(t, top.Text, "@here", "user text in the notification text")
	}
}

// assertWithinLimits checks Block Kit's length limits on every text
// object: 3,000 characters in a section or context, 75 for a button.
func assertWithinLimits(t *testing.T, raw string) {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal([]byte(raw), &v))
	walk(v, func(m map[string]any) {
		text, _ := m["text"].(string)
		limit := 3000
		if m["type"] == "button" {
			if tm, ok := m["text"].(map[string]any); ok {
				text, _ = tm["text"].(string)
				assert.LessOrEqual(t, len([]rune(text)), 75, "button text")
			}
			return
		}
		if m["type"] == "mrkdwn" || m["type"] == "plain_text" {
			assert.LessOrEqual(t, len([]rune(text)), limit, "text object: %.60q…", text)
		}
	})
}

func walk(v any, f func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		f(x)
		for _, c := range x {
			walk(c, f)
		}
	case []any:
		for _, c := range x {
			walk(c, f)
		}
	}
}

func TestEscape(t *testing.T) {
	assert.Equal(t, "&lt;!here&gt; &amp;amp; @here", escape("<!here> &amp; @here"))
	assert.Equal(t, safe("`a'b &lt;x&gt;`"), code("a`b <x>"))
	assert.Equal(t, safe("<@U0ALICE>"), mention("U0ALICE"))
	assert.Equal(t, safe("`&lt;!channel&gt;`"), mention("<!channel>"))
}

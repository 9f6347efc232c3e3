package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/internal/fakeslack"
	"github.com/releasebot/releasebot/release"
	"github.com/releasebot/releasebot/sandbox"
	"github.com/releasebot/releasebot/store"
	"github.com/releasebot/releasebot/store/storetest"
)

const dave = "U0DAVE" // operator, and the freeze overrider

// twoOperators lets alice and dave operate.
var twoOperators = map[string]string{"RELEASEBOT_OPERATORS": alice + "," + dave}

// privately counts the private replies to user that contain want.
func (h *harness) privately(user, want string) int {
	n := 0
	for _, c := range h.slack.Calls("chat.postEphemeral") {
		if c.Params["user"] == user && strings.Contains(content(c), want) {
			n++
		}
	}
	return n
}

func TestE2ELockBlocksOthersStartsOnly(t *testing.T) {
	forEachDriver(t, testE2ELockBlocksOthersStartsOnly)
}

func testE2ELockBlocksOthersStartsOnly(t *testing.T, driver string) {
	h := startBotOn(t, driver, twoOperators)

	h.command(t, alice, "lock web-frontend for 2h release train <!channel> @here")
	c := h.posted(t, "<@"+alice+"> locked *web-frontend* until <!date^")
	assert.Contains(t, content(c), "release train &lt;!channel&gt; @here", "the reason is escaped")
	assert.NotContains(t, c.Params["text"], "channel", "nor in the notification text")

	h.command(t, dave, "start web-frontend")
	h.reply(t, dave, "*web-frontend* is locked by <@"+alice+"> until <!date^")
	h.command(t, dave, "retry web-frontend")
	h.command(t, dave, "continue web-frontend")
	require.Eventually(t, func() bool { return h.privately(dave, "is locked by") == 3 }, 10*time.Second, time.Millisecond)
	h.command(t, mallory, "lock web-frontend mine")
	h.reply(t, mallory, "Only operators may operate release tasks")
	h.command(t, dave, "lock web-frontend mine now")
	h.reply(t, dave, "is locked by <@"+alice+">")
	assert.Empty(t, h.up.actions(), "nothing is sent for a locked release task")

	h.command(t, alice, "start web-frontend")
	h.posted(t, "<@"+alice+"> started *web-frontend*")

	// stop and rollback are how people get out of trouble: never locked.
	h.command(t, dave, "stop web-frontend")
	stop := h.tsOf(t, h.posted(t, "asks to *stop* *web-frontend*"))
	h.click(t, dave, stop, "confirm")
	h.posted(t, "<@"+dave+"> stopped *web-frontend*")
	h.clock.Advance(time.Minute)
	h.command(t, dave, "rollback web-frontend")
	h.posted(t, "asks to *rollback* *web-frontend*")
	require.Len(t, h.up.actions(), 2)
	assert.Contains(t, h.up.actions()[1], "action_id=stop")

	// A command's audit entry is written after its reply; its log line after that.
	require.Eventually(t, func() bool { return strings.Count(h.logs.String(), "refused: locked by") >= 3 }, 10*time.Second,
		time.Millisecond)
	h.command(t, alice, "audit web-frontend")
	audit := content(h.reply(t, alice, "on web-frontend"))
	assert.Contains(t, audit, "`lock`")
	assert.Contains(t, audit, "refused: locked by "+alice)
}

func TestE2EBreakALockWithConfirmation(t *testing.T) {
	forEachDriver(t, testE2EBreakALockWithConfirmation)
}

func testE2EBreakALockWithConfirmation(t *testing.T, driver string) {
	h := startBotOn(t, driver, twoOperators)
	h.command(t, alice, "lock all deploy freeze for the migration")
	h.posted(t, "<@"+alice+"> locked every release task")

	h.command(t, dave, "unlock web-frontend")
	h.reply(t, dave, "*web-frontend* is not locked")
	h.command(t, dave, "unlock all")
	conf := h.tsOf(t, h.posted(t, "<@"+dave+"> asks to break <@"+alice+">'s lock on every release task"))
	h.click(t, mallory, conf, "break_confirm")
	h.reply(t, mallory, "Only operators may operate release tasks")
	h.click(t, dave, conf, "break_cancel")
	h.updated(t, "was cancelled by <@"+dave+">")
	h.command(t, dave, "start web-frontend")
	h.reply(t, dave, "every release task is locked by <@"+alice+">")

	h.command(t, dave, "unlock all")
	require.Eventually(t, func() bool { return len(h.slack.Calls("chat.postMessage")) == 3 }, 10*time.Second, time.Millisecond)
	second := h.tsOf(t, h.slack.Calls("chat.postMessage")[2])
	h.click(t, dave, second, "break_confirm")
	h.posted(t, "<@"+dave+"> broke <@"+alice+">'s lock on every release task")
	h.click(t, alice, second, "break_confirm")
	h.reply(t, alice, "Already confirmed by <@"+dave+">")

	h.command(t, dave, "start web-frontend")
	h.posted(t, "<@"+dave+"> started *web-frontend*")
	h.command(t, alice, "lock web-frontend mine again")
	h.posted(t, "<@"+alice+"> locked *web-frontend*")
	h.command(t, alice, "unlock web-frontend")
	h.posted(t, "<@"+alice+"> unlocked *web-frontend*")
	h.logged(t, `"outcome":"unlocked"`) // the audit entry is written after the post
	h.command(t, alice, "audit")
	audit := content(h.reply(t, alice, "Last actions"))
	assert.Contains(t, audit, "broke the lock of "+alice)
	assert.Contains(t, audit, "unlocked")
}

func TestE2ELockExpires(t *testing.T) { forEachDriver(t, testE2ELockExpires) }

func testE2ELockExpires(t *testing.T, driver string) {
	env := map[string]string{"RELEASEBOT_OPERATORS": alice + "," + dave, "RELEASEBOT_POLL_INTERVAL": "1s"}
	h := startBotOn(t, driver, env)
	h.command(t, alice, "lock all for 2s db maintenance")
	h.posted(t, "<@"+alice+"> locked every release task")
	h.command(t, mallory, "locks")
	h.reply(t, mallory, ":lock: every release task by <@"+alice+">")
	h.command(t, dave, "start web-frontend")
	h.reply(t, dave, "every release task is locked by <@"+alice+">")

	h.posted(t, "<@"+alice+">'s lock on every release task ended at its time")
	h.command(t, dave, "start web-frontend")
	h.posted(t, "<@"+dave+"> started *web-frontend*")
	h.command(t, mallory, "locks")
	h.reply(t, mallory, "No lock holds")
	h.command(t, alice, "audit")
	assert.Contains(t, content(h.reply(t, alice, "lock expired")), "ended at")
}

// writePolicy writes a policy file and returns its path.
func writePolicy(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

func TestE2EFreezeAndOverride(t *testing.T) { forEachDriver(t, testE2EFreezeAndOverride) }

func testE2EFreezeAndOverride(t *testing.T, driver string) {
	now := time.Now().UTC()
	path := writePolicy(t, fmt.Sprintf(`freezes:
  - name: black-friday
    release_tasks: ["web-*"]
    from: %s
    to: %s
    reason: Peak traffic
`, now.Add(-time.Hour).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339)))
	h := startBotOn(t, driver, map[string]string{"RELEASEBOT_OPERATORS": alice + "," + dave, "RELEASEBOT_POLICY": path,
		"RELEASEBOT_FREEZE_OVERRIDERS": dave})

	h.command(t, alice, "start web-frontend")
	h.reply(t, alice, "*web-frontend* is frozen by `black-friday` until <!date^")
	h.command(t, alice, "start web-frontend --override I really must")
	h.reply(t, alice, "Only freeze overriders may act during a freeze (<@"+dave+">)")
	h.command(t, mallory, "locks")
	h.reply(t, mallory, "freeze `black-friday` now until")
	h.command(t, alice, "start data-pipeline")
	h.posted(t, "<@"+alice+"> started *data-pipeline*")
	require.Len(t, h.up.actions(), 1, "a freeze covers only its release tasks")

	h.command(t, dave, "start web-frontend —override hotfix INC-42 <!channel>")
	conf := h.tsOf(t, h.posted(t, "<@"+dave+"> asks to *start* *web-frontend* during the freeze `black-friday`"))
	assert.Contains(t, content(conf), "hotfix INC-42 &lt;!channel&gt;")
	assert.Len(t, h.up.actions(), 1, "nothing is sent before the confirmation")
	h.click(t, alice, conf, "override_confirm")
	h.reply(t, alice, "Only freeze overriders may act during a freeze (<@"+dave+">)")
	h.click(t, dave, conf, "override_confirm")
	h.posted(t, "<@"+dave+"> started *web-frontend*")
	h.posted(t, "<@"+dave+"> overrode the freeze `black-friday`: started *web-frontend*")
	h.updated(t, "confirmed by <@"+dave+">")
	require.Len(t, h.up.actions(), 2)
	assert.Contains(t, h.up.actions()[1], sandbox.DemoWebFrontendID)

	// stop is never frozen.
	h.command(t, alice, "stop web-frontend")
	h.posted(t, "asks to *stop* *web-frontend*")
	h.logged(t, `"outcome":"override of freeze black-friday: Releasing (4)"`)
	h.command(t, alice, "audit web-frontend")
	audit := content(h.reply(t, alice, "on web-frontend"))
	assert.Contains(t, audit, "override of freeze black-friday: Releasing (4)")
	assert.Contains(t, audit, "refused: freeze black-friday")
}

func TestE2ETwoInstancesShareLocks(t *testing.T) {
	if !contains(storetest.Drivers(), "postgres") {
		t.Fatalf("%s must be set: several replicas share PostgreSQL", storetest.PostgresEnv)
	}
	h := newWorld(t, "postgres")
	h.start(t, twoOperators)
	h.start(t, twoOperators)
	require.Equal(t, 2, h.slack.Connections())

	lock := h.command(t, alice, "lock web-frontend release train")
	h.posted(t, "<@"+alice+"> locked *web-frontend*")
	other := 0
	for range 4 {
		if env := h.command(t, dave, "start web-frontend"); env.Conn != lock.Conn {
			other++
		}
	}
	assert.Positive(t, other, "a start reached the replica that did not take the lock")
	require.Eventually(t, func() bool { return h.privately(dave, "is locked by <@"+alice+">") == 4 }, 15*time.Second, time.Millisecond)
	assert.Empty(t, h.up.actions(), "neither replica sent anything")
}

// openStore opens the harness's database beside the bot.
func openStore(t *testing.T, h *harness, driver string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), driver, strings.TrimPrefix(h.dbURL, "sqlite:"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestE2EAuditExport(t *testing.T) { forEachDriver(t, testE2EAuditExport) }

func testE2EAuditExport(t *testing.T, driver string) {
	h := startBotOn(t, driver, nil)
	st := openStore(t, h, driver)
	hostile := release.AuditEntry{At: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), User: "=cmd|' /C calc'!A0", Channel: channel,
		Verb: "start", TaskName: `say "hi", then`, PipelineID: sandbox.DemoWebFrontendID, Sent: "@SUM(1)", Execution: "+1",
		Outcome: "two\nlines <!channel>"}
	require.NoError(t, st.AddAudit(context.Background(), hostile))
	require.NoError(t, st.AddAudit(context.Background(), release.AuditEntry{At: time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC),
		User: alice, Channel: channel, Verb: "list", Outcome: "ok"}))

	h.command(t, mallory, "audit export")
	h.reply(t, mallory, "Only operators and approvers may do that")
	h.command(t, alice, "audit export since 2026-11-01")
	h.reply(t, alice, "is in your direct messages")
	done := h.awaitCall(t, "files.completeUploadExternal", "the upload", func(fakeslack.Call) bool { return true })
	assert.Equal(t, "D"+alice, done.Params["channel_id"], "shared in alice's direct message only")
	files := h.slack.Files()
	require.Len(t, files, 1)
	assert.True(t, files[0].Complete)
	assert.True(t, strings.HasSuffix(files[0].Name, ".csv"))

	rows, err := csv.NewReader(strings.NewReader(string(files[0].Content))).ReadAll()
	require.NoError(t, err, "RFC 4180")
	require.NotEmpty(t, rows)
	assert.Equal(t, []string{"time", "user", "channel", "verb", "release task", "release task ID", "execution ID", "sent upstream", "outcome"}, rows[0])
	var found []string
	for _, r := range rows[1:] {
		assert.NotEqual(t, "list", r[3], "the October entry is before since")
		assert.False(t, r[3] == "audit export" && r[1] == alice, "the export is audited after its file is made")
		if r[0] == "2026-11-02T09:00:00Z" {
			found = r
		}
	}
	assert.Equal(t, []string{"2026-11-02T09:00:00Z", "'=cmd|' /C calc'!A0", channel, "start", `say "hi", then`,
		sandbox.DemoWebFrontendID, "'+1", "'@SUM(1)", "two\nlines <!channel>"}, found)

	h.logged(t, `"outcome":"exported`)
	last, err := st.LastAudit(context.Background(), 1, "")
	require.NoError(t, err)
	require.Len(t, last, 1)
	assert.Equal(t, "audit export", last[0].Verb)
	assert.Regexp(t, `^exported \d+ rows$`, last[0].Outcome)
}

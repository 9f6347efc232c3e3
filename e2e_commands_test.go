package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestE2EHelpListStatus(t *testing.T) {
	h := startBot(t, nil)

	h.command(t, mallory, "help")
	h.reply(t, mallory, "/release start payments-api")

	h.command(t, mallory, "list")
	c := h.reply(t, mallory, "4 release tasks")
	for _, name := range []string{"web-frontend", "payments-api", "legacy-batch", "data-pipeline"} {
		assert.Contains(t, content(c), name)
	}

	h.command(t, mallory, "status web-frontend")
	h.reply(t, mallory, "No executions yet")
	assert.Empty(t, h.up.actions())
	assert.Empty(t, h.slack.Calls("chat.postMessage"), "help, list and status answer privately")
}

func TestE2EAudit(t *testing.T) { forEachDriver(t, testE2EAudit) }

func testE2EAudit(t *testing.T, driver string) {
	h := startBotOn(t, driver, nil)
	h.command(t, alice, "start web-frontend")
	h.posted(t, "started *web-frontend*")
	h.logged(t, `"verb":"start"`)
	h.command(t, alice, "audit")
	c := h.reply(t, alice, "Last actions through releasebot")
	assert.Contains(t, content(c), "web-frontend")
	assert.Contains(t, content(c), "`286541`")

	h.command(t, bob, "audit web-frontend")
	h.reply(t, bob, "on web-frontend")

	h.command(t, mallory, "audit")
	h.reply(t, mallory, "Only operators and approvers may do that")
}

func TestE2ENothingUpstreamWhenRefused(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		user  string
		ch    string
		text  string
		reply string
	}{
		{"not an operator", nil, mallory, channel, "start web-frontend", "Only operators may operate release tasks"},
		{"nobody configured", map[string]string{"RELEASEBOT_OPERATORS": ""}, alice, channel, "start web-frontend", "ask an admin to set RELEASEBOT_OPERATORS"},
		{"approver is not operator", nil, bob, channel, "retry web-frontend", "Only operators may operate release tasks"},
		{"malformed", nil, alice, channel, "start", "Usage: `/release start &lt;task&gt;"},
		{"unknown verb", nil, alice, channel, "deploy web-frontend", "Unknown command"},
		{"unterminated quote", nil, alice, channel, `start "web`, "quote is not closed"},
		{"unknown task", nil, alice, channel, "start web-frontnd", "Did you mean `web-frontend`"},
		{"refuse without reason", nil, bob, channel, "refuse payments-api approve-prod", "a reason is required"},
		{"other channel", map[string]string{"RELEASEBOT_CHANNELS": channel}, alice, "C0OTHER", "start web-frontend", "does not work in this channel. Use <#" + channel + ">"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startBot(t, tt.env)
			before := h.up.total()
			h.commandIn(t, tt.user, tt.ch, tt.text)
			h.reply(t, tt.user, tt.reply)
			assert.Empty(t, h.up.actions(), "nothing may be sent upstream")
			if tt.ch != channel || strings.HasPrefix(tt.name, "malformed") {
				assert.Equal(t, before, h.up.total(), "not even a read")
			}
			assert.Empty(t, h.slack.Calls("chat.postMessage"), "refusals are private")
		})
	}
}

func TestE2EUserGroupsAndAliases(t *testing.T) {
	h := startBot(t, map[string]string{"RELEASEBOT_OPERATORS": "S0APPROVERS"})
	h.command(t, carol, "start pay")
	h.posted(t, "started *payments-api*")
	_, err := h.slack.WaitCall(waitCtx(t), "usergroups.users.list", nil)
	require.NoError(t, err)
	h.command(t, carol, "start web-frontend")
	h.posted(t, "started *web-frontend*")
	assert.Len(t, h.slack.Calls("usergroups.users.list"), 1, "members are cached")
}

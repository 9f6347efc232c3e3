package fakeslack_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/internal/fakeslack"
)

func TestEphemeralMessages(t *testing.T) {
	s, b, ctx := startConnected(t, fakeslack.Options{})
	_, parent, err := b.api.PostMessage("C0REL", slack.MsgOptionText("Releasing", false))
	require.NoError(t, err)

	// chat.postEphemeral, in a thread.
	ets, err := b.api.PostEphemeral("C0REL", "U0BOB", slack.MsgOptionText("only bob", false), slack.MsgOptionTS(parent))
	require.NoError(t, err)

	// A slash command's ack payload, and its response_url.
	env, err := s.SendSlashCommand(ctx, fakeslack.SlashCommand{UserID: "U0CAROL", Text: "help"})
	require.NoError(t, err)
	b.ack(t, b.next(t, ctx, socketmode.EventTypeSlashCommand), map[string]any{"text": "ack text"})
	_, err = env.Ack(ctx)
	require.NoError(t, err)
	_, _, err = b.api.PostMessage("", slack.MsgOptionResponseURL(env.ResponseURL, slack.ResponseTypeEphemeral),
		slack.MsgOptionText("usage", false), slack.MsgOptionBlocks(approvalBlocks()...))
	require.NoError(t, err)

	bob := s.Ephemerals("U0BOB")
	require.Len(t, bob, 1)
	assert.Equal(t, fakeslack.Message{
		Channel: "C0REL", TS: ets, ThreadTS: parent, Text: "only bob", User: fakeslack.BotUserID, To: "U0BOB", Posted: bob[0].Posted,
	}, bob[0])
	carol := s.Ephemerals("U0CAROL")
	require.Len(t, carol, 2)
	assert.Equal(t, "ack text", carol[0].Text)
	assert.Equal(t, "usage", carol[1].Text)
	assert.Empty(t, s.Ephemerals(fakeslack.DefaultUserID))
	assert.Len(t, s.Messages("C0REL"), 1, "ephemeral messages are not channel messages")

	// A click on an ephemeral message, answered through its response_url.
	click, err := s.SendClick(ctx, fakeslack.Click{UserID: "U0CAROL", MessageTS: carol[1].TS, Ephemeral: true, ActionID: "approve"})
	require.NoError(t, err)
	evt := b.next(t, ctx, socketmode.EventTypeInteractive)
	cb := evt.Data.(slack.InteractionCallback)
	assert.True(t, cb.Container.IsEphemeral)
	assert.Equal(t, "prompt-42", cb.ActionCallback.BlockActions[0].Value, "the value comes from the ephemeral message")
	b.ack(t, evt)
	_, _, err = b.api.PostMessage("", slack.MsgOptionResponseURL(click.ResponseURL, slack.ResponseTypeEphemeral),
		slack.MsgOptionReplaceOriginal(click.ResponseURL), slack.MsgOptionText("replaced", false))
	require.NoError(t, err)
	carol = s.Ephemerals("U0CAROL")
	require.Len(t, carol, 2)
	assert.Equal(t, "replaced", carol[1].Text)
	assert.Equal(t, 1, carol[1].Edits)

	_, _, err = b.api.PostMessage("", slack.MsgOptionDeleteOriginal(click.ResponseURL))
	require.NoError(t, err)
	assert.Len(t, s.Ephemerals("U0CAROL"), 1, "delete_original removes an ephemeral source")
}

func TestThreadsAndDirectMessages(t *testing.T) {
	s, b, _ := startConnected(t, fakeslack.Options{Scopes: fakeslack.AllScopes()})
	_, parent, err := b.api.PostMessage("C0REL", slack.MsgOptionText("Releasing", false))
	require.NoError(t, err)
	_, _, err = b.api.PostMessage("C0REL", slack.MsgOptionText("prompt", false), slack.MsgOptionTS(parent), slack.MsgOptionBroadcast())
	require.NoError(t, err)
	_, _, err = b.api.PostMessage("C0REL", slack.MsgOptionText("finished", false), slack.MsgOptionTS(parent))
	require.NoError(t, err)

	msgs := s.Messages("C0REL")
	require.Len(t, msgs, 3)
	assert.Equal(t, []bool{false, true, false}, []bool{msgs[0].ReplyBroadcast, msgs[1].ReplyBroadcast, msgs[2].ReplyBroadcast})
	assert.Equal(t, parent, msgs[2].ThreadTS)

	ch, _, _, err := b.api.OpenConversation(&slack.OpenConversationParameters{Users: []string{"U0BOB"}})
	require.NoError(t, err)
	_, _, err = b.api.PostMessage(ch.ID, slack.MsgOptionText("reminder", false))
	require.NoError(t, err)
	dmCh, _, err := b.api.PostMessage("U0BOB", slack.MsgOptionText("to the user ID", false))
	require.NoError(t, err)
	assert.Equal(t, ch.ID, dmCh, "a user ID as channel posts to the direct message channel")
	dms := s.DirectMessages("U0BOB")
	require.Len(t, dms, 2)
	assert.Equal(t, "reminder", dms[0].Text)
	assert.Empty(t, s.DirectMessages("U0CAROL"))

	said := s.Say("C0REL", "U0BOB", "<!here> ship it")
	assert.Equal(t, "&lt;!here&gt; ship it", said.Text, "what a person types mentions nobody")
	assert.Equal(t, "U0BOB", said.User)
}

func TestModalsFollowTheirAck(t *testing.T) {
	s, b, ctx := startConnected(t, fakeslack.Options{})
	_, ts, err := b.api.PostMessage("C0REL", slack.MsgOptionText("Approval needed", false), slack.MsgOptionBlocks(approvalBlocks()...))
	require.NoError(t, err)
	reason := slack.NewInputBlock("reason", slack.NewTextBlockObject("plain_text", "Reason", false, false), nil,
		slack.NewPlainTextInputBlockElement(nil, "reason_input"))
	open := func(t *testing.T) string {
		t.Helper()
		env, err := s.SendClick(ctx, fakeslack.Click{UserID: "U0BOB", MessageTS: ts, ActionID: "refuse"})
		require.NoError(t, err)
		b.ack(t, b.next(t, ctx, socketmode.EventTypeInteractive))
		req := modal("Refuse", "prompt-42", reason)
		req.Submit = slack.NewTextBlockObject("plain_text", "Refuse", false, false)
		v, err := b.api.OpenView(env.TriggerID, req)
		require.NoError(t, err)
		return v.ID
	}
	tests := []struct {
		name       string
		ack        []any
		wantOpen   bool
		wantErrors map[string]string
	}{
		{"bare ack closes", nil, false, nil},
		{"errors keep it open", []any{slack.NewErrorsViewSubmissionResponse(map[string]string{"reason": "Say why"})}, true, map[string]string{"reason": "Say why"}},
		{"clear closes", []any{slack.NewClearViewSubmissionResponse()}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := open(t)
			v, ok := s.View(id)
			require.True(t, ok)
			assert.Equal(t, "U0BOB", v.User, "the modal is the clicker's")
			assert.True(t, v.Open)

			env, err := s.SendSubmission(ctx, fakeslack.Submission{ViewID: id, Values: map[string]map[string]string{"reason": {"reason_input": "x"}}})
			require.NoError(t, err)
			evt := b.next(t, ctx, socketmode.EventTypeInteractive)
			assert.Equal(t, "U0BOB", evt.Data.(slack.InteractionCallback).User.ID)
			b.ack(t, evt, tt.ack...)
			_, err = env.Ack(ctx)
			require.NoError(t, err)
			v, _ = s.View(id)
			assert.Equal(t, tt.wantOpen, v.Open)
			assert.Equal(t, tt.wantErrors, v.Errors)
		})
	}

	id := open(t)
	require.Error(t, s.CloseView("U0CAROL", id), "nobody closes another person's modal")
	require.NoError(t, s.CloseView("U0BOB", id))
	v, _ := s.View(id)
	assert.False(t, v.Open)
}

func TestAppHome(t *testing.T) {
	s, b, ctx := startConnected(t, fakeslack.Options{})

	env, err := s.OpenHome(ctx, "U0BOB")
	require.NoError(t, err)
	evt := b.next(t, ctx, socketmode.EventTypeEventsAPI)
	b.ack(t, evt)
	_, err = env.Ack(ctx)
	require.NoError(t, err)
	api, ok := evt.Data.(slackevents.EventsAPIEvent)
	require.True(t, ok, "got %T", evt.Data)
	opened, ok := api.InnerEvent.Data.(*slackevents.AppHomeOpenedEvent)
	require.True(t, ok, "got %T", api.InnerEvent.Data)
	assert.Equal(t, "U0BOB", opened.User)
	assert.Equal(t, "home", opened.Tab)
	assert.Nil(t, opened.View, "nothing published yet")

	home := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: approvalBlocks()}}
	published, err := b.api.PublishView("U0BOB", home, "")
	require.NoError(t, err)
	again, err := b.api.PublishView("U0BOB", home, "")
	require.NoError(t, err)
	assert.Equal(t, published.ID, again.ID, "a Home tab keeps its ID")
	v, ok := s.Home("U0BOB")
	require.True(t, ok)
	assert.Equal(t, "home", v.Type)
	_, ok = s.Home("U0CAROL")
	assert.False(t, ok)

	_, err = b.api.PublishView("U0BOB", slack.HomeTabViewRequest{Type: slack.VTModal, Blocks: home.Blocks}, "")
	var slackErr slack.SlackErrorResponse
	require.ErrorAs(t, err, &slackErr)
	assert.Equal(t, "invalid_arguments", slackErr.Err)

	_, err = s.OpenHome(ctx, "U0BOB")
	require.NoError(t, err)
	evt = b.next(t, ctx, socketmode.EventTypeEventsAPI)
	b.ack(t, evt)
	opened = evt.Data.(slackevents.EventsAPIEvent).InnerEvent.Data.(*slackevents.AppHomeOpenedEvent)
	require.NotNil(t, opened.View)
	assert.Equal(t, published.ID, opened.View.ID)

	click, err := s.SendClick(ctx, fakeslack.Click{UserID: "U0BOB", ViewID: published.ID, ActionID: "approve"})
	require.NoError(t, err)
	evt = b.next(t, ctx, socketmode.EventTypeInteractive)
	b.ack(t, evt)
	cb := evt.Data.(slack.InteractionCallback)
	assert.Equal(t, "view", cb.Container.Type)
	assert.Equal(t, published.ID, cb.Container.ViewID)
	assert.Equal(t, published.ID, cb.View.ID)
	require.Len(t, cb.ActionCallback.BlockActions, 1)
	assert.Equal(t, "prompt-42", cb.ActionCallback.BlockActions[0].Value)
	assert.Empty(t, click.ResponseURL, "a click in a view has no response_url")
}

func TestFilesUploadV2(t *testing.T) {
	s, b, ctx := startConnected(t, fakeslack.Options{Scopes: fakeslack.AllScopes()})
	csv := "time,user\n2026-11-29T10:00:00Z,U0BOB\n"
	sum, err := b.api.UploadFileContext(ctx, slack.UploadFileParameters{
		Filename: "audit.csv", FileSize: len(csv), Reader: strings.NewReader(csv), Title: "Audit export",
		Channel: "DU0BOB", InitialComment: "Your export",
	})
	require.NoError(t, err)
	assert.Equal(t, "Audit export", sum.Title)

	f, ok := s.File(sum.ID)
	require.True(t, ok)
	assert.Equal(t, csv, string(f.Content))
	assert.Equal(t, "audit.csv", f.Name)
	assert.True(t, f.Complete)
	assert.Equal(t, "DU0BOB", f.Channel)
	assert.Len(t, s.Files(), 1)

	msgs := s.Messages("DU0BOB")
	require.Len(t, msgs, 1)
	assert.Equal(t, "Your export", msgs[0].Text)
	require.Len(t, msgs[0].Files, 1)
	assert.Equal(t, sum.ID, msgs[0].Files[0].ID)
	assert.Nil(t, msgs[0].Files[0].Content)

	up := s.Calls(fakeslack.UploadMethod)
	require.Len(t, up, 1)
	assert.Equal(t, fakeslack.DefaultBotToken, up[0].Token)

	_, err = b.api.CompleteUploadExternalContext(ctx, slack.CompleteUploadExternalParameters{
		Files: []slack.FileSummary{{ID: sum.ID}}, Channel: "C0REL",
	})
	var slackErr slack.SlackErrorResponse
	require.ErrorAs(t, err, &slackErr)
	assert.Equal(t, "file_not_found", slackErr.Err, "a file is completed once")

	raw, _ := json.Marshal(msgs[0].Files[0])
	assert.NotContains(t, string(raw), "time,user", "a file's JSON never carries its content")
}

// Package bot is a fixture for manifest_test.go: it calls the Web API methods
// the real bot/ calls, and some look-alikes that are not Web API calls.
package bot

import (
	"context"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	sm "github.com/slack-go/slack/socketmode"
)

type poster interface {
	PostMessageContext(ctx context.Context, channelID string, options ...slack.MsgOption) (string, string, error)
}

type Bot struct {
	api    *slack.Client
	socket *sm.Client
	post   poster
	log    zerolog.Logger
}

func (b *Bot) reply(ctx context.Context) error {
	b.log.Debug().Msg("replying") // zerolog's Debug, not slack's
	_, _, err := b.post.PostMessageContext(ctx, "C1")
	if err != nil {
		return err
	}
	if _, err := b.api.PostEphemeralContext(ctx, "C1", "U1"); err != nil {
		return err
	}
	_, _, _, err = b.socket.UpdateMessageContext(ctx, "C1", "1.2")
	return err
}

func (b *Bot) open(ctx context.Context) error {
	open := b.api.OpenViewContext // a method value counts as a call
	_, err := open(ctx, "T1", slack.ModalViewRequest{})
	return err
}

func (b *Bot) members(ctx context.Context) ([]string, error) {
	_ = slack.New("xoxb-") // package-qualified: not a method
	return b.api.GetUserGroupMembersContext(ctx, "S1")
}

package bot

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// Message is what the bot posts: a notification text (shown in
// notifications and where blocks cannot be), blocks, and an optional thread.
type Message struct {
	Text     string        `json:"text"`
	Blocks   []slack.Block `json:"blocks"`
	ThreadTS string        `json:"thread_ts,omitempty"`
	// Broadcast shows a thread reply in the channel too (reply_broadcast).
	Broadcast bool `json:"reply_broadcast,omitempty"`
}

func (m Message) options() []slack.MsgOption {
	opts := []slack.MsgOption{slack.MsgOptionText(m.Text, false)}
	if len(m.Blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(m.Blocks...))
	}
	if m.ThreadTS != "" {
		opts = append(opts, slack.MsgOptionTS(m.ThreadTS))
		if m.Broadcast {
			opts = append(opts, slack.MsgOptionBroadcast())
		}
	}
	return opts
}

// Post sends m to a channel and returns its timestamp.
func (b *Bot) Post(ctx context.Context, channel string, m Message) (string, error) {
	var ts string
	err := b.retryRateLimited(ctx, func() error {
		var err error
		_, ts, err = b.api.PostMessageContext(ctx, channel, m.options()...)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("chat.postMessage: %w", err)
	}
	return ts, nil
}

// PostEphemeral sends m to user only, in channel.
func (b *Bot) PostEphemeral(ctx context.Context, channel, user string, m Message) error {
	err := b.retryRateLimited(ctx, func() error {
		_, err := b.api.PostEphemeralContext(ctx, channel, user, m.options()...)
		return err
	})
	if err != nil {
		return fmt.Errorf("chat.postEphemeral: %w", err)
	}
	return nil
}

// Update replaces the message at ts in channel with m.
func (b *Bot) Update(ctx context.Context, channel, ts string, m Message) error {
	err := b.retryRateLimited(ctx, func() error {
		_, _, _, err := b.api.UpdateMessageContext(ctx, channel, ts, m.options()...)
		return err
	})
	if err != nil {
		return fmt.Errorf("chat.update: %w", err)
	}
	return nil
}

// Respond sends m privately through a command's or click's response_url:
// it reaches the user even where the bot is not a member of the channel.
func (b *Bot) Respond(ctx context.Context, responseURL string, m Message) error {
	if responseURL == "" {
		return errors.New("no response_url")
	}
	opts := append(m.options(), slack.MsgOptionResponseURL(responseURL, slack.ResponseTypeEphemeral))
	if _, _, err := b.api.PostMessageContext(ctx, "", opts...); err != nil {
		return fmt.Errorf("response_url: %w", withoutURL(err))
	}
	return nil
}

// withoutURL drops the URL net/http quotes in its errors: a response_url
// lets anyone post to the user for 30 minutes, so it is a secret.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}

// OpenModal opens v for the user whose click gave triggerID.
func (b *Bot) OpenModal(ctx context.Context, triggerID string, v slack.ModalViewRequest) error {
	if _, err := b.api.OpenViewContext(ctx, triggerID, v); err != nil {
		return fmt.Errorf("views.open: %w", err)
	}
	return nil
}

// PublishHome shows v as userID's App Home tab; retried after Slack's
// Retry-After.
func (b *Bot) PublishHome(ctx context.Context, userID string, v slack.HomeTabViewRequest) error {
	return b.retryRateLimited(ctx, func() error {
		if _, err := b.api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: userID, View: v}); err != nil {
			return fmt.Errorf("views.publish: %w", err)
		}
		return nil
	})
}

// UserGroupMembers lists the members of a user group.
func (b *Bot) UserGroupMembers(ctx context.Context, group string) ([]string, error) {
	var users []string
	err := b.retryRateLimited(ctx, func() error {
		var err error
		users, err = b.api.GetUserGroupMembersContext(ctx, group)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("usergroups.users.list: %w", err)
	}
	return users, nil
}

// retryRateLimited runs call again after Slack's Retry-After, a few times,
// as long as the wait is short; any other error is returned as it is.
func (b *Bot) retryRateLimited(ctx context.Context, call func() error) error {
	const attempts = 3
	for i := 1; ; i++ {
		err := call()
		var rl *slack.RateLimitedError
		if !errors.As(err, &rl) || i == attempts || rl.RetryAfter > 30*time.Second {
			return err
		}
		t := time.NewTimer(rl.RetryAfter)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

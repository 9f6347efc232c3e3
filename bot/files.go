package bot

import (
	"bytes"
	"context"
	"fmt"

	"github.com/slack-go/slack"
)

// UploadPrivate sends content as a file to user alone: it opens (or finds)
// the direct message between user and the bot with conversations.open, then
// uploads there with files.uploadV2 (files.getUploadURLExternal, a POST to
// the upload URL, files.completeUploadExternal). Opening the conversation is
// retried after Slack's Retry-After; the upload is not, as a step of it may
// have been done. Errors never carry the upload URL.
func (b *Bot) UploadPrivate(ctx context.Context, user, filename, title string, content []byte) error {
	var dm *slack.Channel
	err := b.retryRateLimited(ctx, func() error {
		var err error
		dm, _, _, err = b.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{user}, ReturnIM: true})
		return err
	})
	if err != nil {
		return fmt.Errorf("conversations.open: %w", err)
	}
	_, err = b.api.UploadFileContext(ctx, slack.UploadFileParameters{
		Reader: bytes.NewReader(content), FileSize: len(content), Filename: filename, Title: title, Channel: dm.ID,
	})
	if err != nil {
		return fmt.Errorf("files.uploadV2: %w", withoutURL(err))
	}
	return nil
}

package bot

import (
	"context"

	"github.com/slack-go/slack"
)

func away(ctx context.Context, api *slack.Client) error {
	if _, _, err := api.PostMessageContext(ctx, "C1"); err != nil {
		return err
	}
	return api.SetUserPresenceContext(ctx, "away")
}

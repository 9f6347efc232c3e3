// Package slack is a stand-in for github.com/slack-go/slack in manifest_test.go:
// only the shape of its method declarations matters.
package slack

import "context"

type Client struct{}

func New(token string) *Client { return &Client{} }

func (api *Client) PostMessageContext(ctx context.Context, channelID string) (string, string, error) {
	return "", "", nil
}
func (api *Client) PostEphemeralContext(ctx context.Context, channelID, userID string) (string, error) {
	return "", nil
}
func (api *Client) UpdateMessageContext(ctx context.Context, channelID, timestamp string) (string, string, string, error) {
	return "", "", "", nil
}
func (api *Client) OpenViewContext(ctx context.Context, triggerID string) error { return nil }
func (api *Client) GetUserGroupMembersContext(ctx context.Context, userGroup string) ([]string, error) {
	return nil, nil
}
func (api *Client) GetUserInfoContext(ctx context.Context, user string) error         { return nil }
func (api *Client) SetUserPresenceContext(ctx context.Context, presence string) error { return nil }
func (api *Client) Debugf(format string, v ...any)                                    {}
func (api Client) AuthTest() error                                                    { return nil }
func (api *Client) unexported()                                                       {}

type Attachment struct{}

func (a *Attachment) UpdateMessageContext() {}

package slack

func (api *Client) OnlyInTests() {}

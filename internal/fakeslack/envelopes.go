package fakeslack

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

// responseURLMaxUses and responseURLTTL are Slack's response_url limits.
const (
	responseURLMaxUses = 5
	responseURLTTL     = 30 * time.Minute
)

type trigger struct {
	created time.Time
	used    bool
	user    string // who clicked or typed: a modal it opens is theirs
}

type responseURL struct {
	created   time.Time
	uses      int
	channel   string
	user      string // who an ephemeral reply goes to
	threadTS  string // thread of the source message, for ephemeral replies
	messageTS string // source message of a click; "" for slash commands
	ephemeral bool
}

// SlashCommand is a /command the user typed. Empty fields take the Default* values.
type SlashCommand struct {
	UserID, UserName, ChannelID, ChannelName, TeamID, Command, Text string
}

// Click is a button press (block_actions) on a message or in a view.
type Click struct {
	UserID, UserName, ChannelID, MessageTS string
	ActionID, BlockID, Value               string
	// Message is the original message as Slack would embed it. When nil and
	// ChannelID/MessageTS name a message in the fake's model, that message is
	// embedded, and empty BlockID/Value are taken from its element with ActionID.
	Message json.RawMessage
	// Ephemeral marks the source message as ephemeral (container.is_ephemeral).
	// Slack embeds no message then; BlockID/Value still come from the model.
	Ephemeral bool
	// ViewID, if set, is the modal or App Home view the button is in
	// (container.type "view"); ChannelID and MessageTS are then ignored.
	ViewID string
}

// Submission is a modal submitted by the user (view_submission).
type Submission struct {
	// UserID defaults to the person the view was opened for, else DefaultUserID.
	UserID string
	// ViewID, if set, must be a view returned by views.open; its callback_id,
	// private_metadata, title and blocks are used unless overridden below.
	// Its ack's response_action is applied: no action closes the view,
	// "errors" shows the errors, "update" replaces it, "clear" closes them all.
	ViewID          string
	CallbackID      string
	PrivateMetadata string
	// Values are the input values: block_id → action_id → value (plain_text_input).
	Values map[string]map[string]string
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// newTriggerLocked registers a single-use trigger_id for user; s.mu must be held.
func (s *Server) newTriggerLocked(user string) string {
	n := s.nextIDLocked()
	id := fmt.Sprintf("%d.738474920.%016x", 13345224600+n, uint64(n)*0x9e3779b97f4a7c15)
	s.triggers[id] = &trigger{created: s.now(), user: user}
	return id
}

// newResponseURLLocked registers a response_url; s.mu must be held.
func (s *Server) newResponseURLLocked(ru *responseURL) string {
	n := s.nextIDLocked()
	id := fmt.Sprintf("%s-%d-%08x", DefaultTeamID, 1000+n, uint32(n)*2654435761)
	ru.created = s.now()
	s.responseURLs[id] = ru
	return s.url + "/response/" + id
}

// SendSlashCommand delivers a slash_commands envelope on one live socket,
// waiting for one if none is live. The envelope gets a fresh response_url and
// trigger_id. A message in its ack's payload is shown as Slack shows it: to
// the user alone, or in the channel with "response_type":"in_channel".
// It returns ctx's error or ErrClosed.
func (s *Server) SendSlashCommand(ctx context.Context, c SlashCommand) (*Envelope, error) {
	userID := orDefault(c.UserID, DefaultUserID)
	channelID := orDefault(c.ChannelID, DefaultChannelID)
	s.mu.Lock()
	respURL := s.newResponseURLLocked(&responseURL{channel: channelID, user: userID})
	trig := s.newTriggerLocked(userID)
	userName := orDefault(c.UserName, s.userNameLocked(userID))
	s.mu.Unlock()
	payload, _ := json.Marshal(map[string]any{
		"token":                 VerificationToken,
		"team_id":               orDefault(c.TeamID, DefaultTeamID),
		"team_domain":           TeamDomain,
		"channel_id":            channelID,
		"channel_name":          orDefault(c.ChannelName, nameFor(channelID, DefaultChannelID, DefaultChannelName)),
		"user_id":               userID,
		"user_name":             userName,
		"command":               orDefault(c.Command, DefaultCommand),
		"text":                  c.Text,
		"api_app_id":            AppID,
		"is_enterprise_install": "false",
		"response_url":          respURL,
		"trigger_id":            trig,
	})
	onAck := func(ack json.RawMessage) { s.commandAckLocked(channelID, userID, ack) }
	return s.deliver(ctx, "slash_commands", payload, respURL, trig, onAck)
}

// commandAckLocked shows the message a slash command's ack carries, if any.
func (s *Server) commandAckLocked(channel, user string, ack json.RawMessage) {
	var msg struct {
		Text         string          `json:"text"`
		Blocks       json.RawMessage `json:"blocks"`
		ResponseType string          `json:"response_type"`
	}
	if len(ack) == 0 || json.Unmarshal(ack, &msg) != nil {
		return
	}
	text, blocks, _, bad := messageContent(msg.Text, msg.Blocks, "/blocks")
	if bad != nil || (text == "" && blocks == nil) {
		return
	}
	m := &Message{Channel: channel, Text: text, Blocks: blocks}
	if msg.ResponseType != "in_channel" {
		m.To = user
	}
	s.postLocked(m)
}

// SendClick delivers an interactive block_actions envelope for a button
// press, shaped as slack-go decodes it into InteractionCallback.BlockActions.
// The envelope gets a fresh response_url (none for a click in a view) and trigger_id.
func (s *Server) SendClick(ctx context.Context, c Click) (*Envelope, error) {
	userID := orDefault(c.UserID, DefaultUserID)
	channelID := orDefault(c.ChannelID, DefaultChannelID)

	s.mu.Lock()
	userName := orDefault(c.UserName, s.userNameLocked(userID))
	message := c.Message
	buttonText := c.ActionID
	var blocks json.RawMessage
	var inView map[string]any
	var threadTS string
	switch {
	case c.ViewID != "":
		v, ok := s.views[c.ViewID]
		if !ok {
			s.mu.Unlock()
			return nil, fmt.Errorf("click in view %q: no such view", c.ViewID)
		}
		inView = maps.Clone(v.body)
		blocks, _ = json.Marshal(v.body["blocks"])
	case c.Ephemeral:
		if m, ok := s.ephemerals[msgKey{channelID, c.MessageTS}]; ok {
			blocks, threadTS = m.Blocks, m.ThreadTS
		}
	default:
		if m, ok := s.msgs[msgKey{channelID, c.MessageTS}]; ok {
			blocks = m.Blocks
			if m.ThreadTS != m.TS {
				threadTS = m.ThreadTS
			}
			if message == nil {
				message, _ = json.Marshal(m.apiJSON())
			}
		}
	}
	if el, ok := findElement(blocks, c.BlockID, c.ActionID); ok {
		c.BlockID = orDefault(c.BlockID, el.blockID)
		c.Value = orDefault(c.Value, el.value)
		buttonText = orDefault(el.text, buttonText)
	}
	var respURL string
	if inView == nil {
		respURL = s.newResponseURLLocked(&responseURL{
			channel: channelID, user: userID, threadTS: threadTS, messageTS: c.MessageTS, ephemeral: c.Ephemeral,
		})
	}
	trig := s.newTriggerLocked(userID)
	actionTS := s.nextTSLocked()
	s.mu.Unlock()

	p := map[string]any{
		"type":       "block_actions",
		"api_app_id": AppID,
		"token":      VerificationToken,
		"team":       map[string]any{"id": DefaultTeamID, "domain": TeamDomain},
		"user":       map[string]any{"id": userID, "username": userName, "name": userName, "team_id": DefaultTeamID},
		"state":      map[string]any{"values": map[string]any{}},
		"trigger_id": trig,
		// block_id must be a string or slack-go files the action under AttachmentActions.
		"actions": []any{map[string]any{
			"type":      "button",
			"action_id": c.ActionID,
			"block_id":  c.BlockID,
			"value":     c.Value,
			"text":      map[string]any{"type": "plain_text", "text": buttonText, "emoji": true},
			"action_ts": actionTS,
		}},
		"is_enterprise_install": false,
	}
	if inView != nil {
		p["container"] = map[string]any{"type": "view", "view_id": c.ViewID}
		p["view"] = inView
	} else {
		// attachment_id is a json.Number in slack-go: omit it, never "".
		p["container"] = map[string]any{
			"type": "message", "message_ts": c.MessageTS, "channel_id": channelID, "is_ephemeral": c.Ephemeral,
		}
		p["channel"] = map[string]any{"id": channelID, "name": nameFor(channelID, DefaultChannelID, DefaultChannelName)}
		p["response_url"] = respURL
	}
	if message != nil {
		p["message"] = message
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("build click payload: %w", err)
	}
	return s.deliver(ctx, "interactive", payload, respURL, trig, nil)
}

// SendSubmission delivers an interactive view_submission envelope. It fails
// if ViewID is set but was never returned by views.open.
// submittedState is a view's state.values for the values typed.
func submittedState(values map[string]map[string]string) map[string]any {
	state := map[string]any{}
	for blockID, actions := range values {
		a := map[string]any{}
		for actionID, value := range actions {
			a[actionID] = map[string]any{"type": "plain_text_input", "value": value}
		}
		state[blockID] = a
	}
	return state
}

func (s *Server) SendSubmission(ctx context.Context, v Submission) (*Envelope, error) {
	s.mu.Lock()
	var body map[string]any
	userID := v.UserID
	if v.ViewID != "" {
		stored, ok := s.views[v.ViewID]
		if !ok {
			s.mu.Unlock()
			return nil, fmt.Errorf("submit view %q: no such view was opened", v.ViewID)
		}
		body = maps.Clone(stored.body)
		userID = orDefault(userID, stored.user)
	} else {
		n := s.nextIDLocked()
		id := fmt.Sprintf("V%08d", n)
		body = map[string]any{
			"id": id, "team_id": DefaultTeamID, "type": "modal",
			"title":        map[string]any{"type": "plain_text", "text": "Modal"},
			"submit":       map[string]any{"type": "plain_text", "text": "Submit"},
			"blocks":       inputBlocks(v.Values),
			"hash":         fmt.Sprintf("%d.%08x", 156772938+n, n),
			"root_view_id": id, "app_id": AppID, "bot_id": BotID,
			"clear_on_close": false, "notify_on_close": false, "external_id": "",
			"callback_id": "", "private_metadata": "",
		}
	}
	userID = orDefault(userID, DefaultUserID)
	userName := s.userNameLocked(userID)
	trig := s.newTriggerLocked(userID)
	s.mu.Unlock()

	if v.CallbackID != "" {
		body["callback_id"] = v.CallbackID
	}
	if v.PrivateMetadata != "" {
		body["private_metadata"] = v.PrivateMetadata
	}
	body["state"] = map[string]any{"values": submittedState(v.Values)}
	body["previous_view_id"] = nil

	payload, err := json.Marshal(map[string]any{
		"type":                  "view_submission",
		"api_app_id":            AppID,
		"token":                 VerificationToken,
		"trigger_id":            trig,
		"team":                  map[string]any{"id": DefaultTeamID, "domain": TeamDomain},
		"user":                  map[string]any{"id": userID, "username": userName, "name": userName, "team_id": DefaultTeamID},
		"view":                  body,
		"response_urls":         []any{},
		"is_enterprise_install": false,
	})
	if err != nil {
		return nil, fmt.Errorf("build submission payload: %w", err)
	}
	var onAck func(json.RawMessage)
	if v.ViewID != "" {
		onAck = func(ack json.RawMessage) { s.submissionAckLocked(v.ViewID, ack) }
	}
	return s.deliver(ctx, "interactive", payload, "", trig, onAck)
}

// OpenHome delivers the events_api envelope of user opening the app's Home
// tab (app_home_opened), with the view views.publish last gave them, if any.
func (s *Server) OpenHome(ctx context.Context, user string) (*Envelope, error) {
	s.mu.Lock()
	channel := s.dmChannelLocked(user)
	n := s.nextIDLocked()
	ev := map[string]any{
		"type": "app_home_opened", "user": user, "channel": channel, "tab": "home", "event_ts": s.nextTSLocked(),
	}
	if id, ok := s.homes[user]; ok {
		ev["view"] = maps.Clone(s.views[id].body)
	}
	now := s.now()
	s.mu.Unlock()
	payload, err := json.Marshal(map[string]any{
		"token": VerificationToken, "team_id": DefaultTeamID, "api_app_id": AppID,
		"event": ev, "type": "event_callback",
		"event_id":   fmt.Sprintf("Ev%010d", n),
		"event_time": now.Unix(),
		"authorizations": []any{map[string]any{
			"team_id": DefaultTeamID, "user_id": BotUserID, "is_bot": true, "is_enterprise_install": false,
		}},
		"is_ext_shared_channel": false,
	})
	if err != nil {
		return nil, fmt.Errorf("build app_home_opened payload: %w", err)
	}
	return s.deliver(ctx, "events_api", payload, "", "", nil)
}

// inputBlocks renders one plain_text_input block per value so a view built
// from Submission.Values alone is self-consistent.
func inputBlocks(values map[string]map[string]string) []any {
	blocks := []any{}
	for blockID, actions := range values {
		for actionID := range actions {
			blocks = append(blocks, map[string]any{
				"type":     "input",
				"block_id": blockID,
				"label":    map[string]any{"type": "plain_text", "text": blockID},
				"element":  map[string]any{"type": "plain_text_input", "action_id": actionID},
			})
			break // an input block holds one element
		}
	}
	return blocks
}

// SendRaw delivers an envelope of any type with payload written verbatim
// (it need not be valid JSON; nil omits the field). For hostile-input tests.
func (s *Server) SendRaw(ctx context.Context, envelopeType string, payload json.RawMessage) (*Envelope, error) {
	return s.deliver(ctx, envelopeType, payload, "", "", nil)
}

type element struct {
	blockID, value, text string
}

// findElement finds the interactive element with actionID (and blockID, if
// set) in a message's blocks: actions elements and section accessories.
func findElement(blocks json.RawMessage, blockID, actionID string) (element, bool) {
	var bs []struct {
		BlockID   string            `json:"block_id"`
		Elements  []json.RawMessage `json:"elements"`
		Accessory json.RawMessage   `json:"accessory"`
	}
	if len(blocks) == 0 || json.Unmarshal(blocks, &bs) != nil {
		return element{}, false
	}
	for _, b := range bs {
		if blockID != "" && b.BlockID != blockID {
			continue
		}
		candidates := b.Elements
		if b.Accessory != nil {
			candidates = append(candidates, b.Accessory)
		}
		for _, raw := range candidates {
			var el struct {
				ActionID string `json:"action_id"`
				Value    string `json:"value"`
				Text     struct {
					Text string `json:"text"`
				} `json:"text"`
			}
			if json.Unmarshal(raw, &el) == nil && el.ActionID == actionID {
				return element{blockID: b.BlockID, value: el.Value, text: el.Text.Text}, true
			}
		}
	}
	return element{}, false
}

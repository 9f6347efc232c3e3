package fakeslack

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
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
}

type responseURL struct {
	created   time.Time
	uses      int
	channel   string
	messageTS string // source message of a click; "" for slash commands
	ephemeral bool
}

// SlashCommand is a /command the user typed. Empty fields take the Default* values.
type SlashCommand struct {
	UserID, UserName, ChannelID, ChannelName, TeamID, Command, Text string
}

// Click is a button press (block_actions) on a channel message.
type Click struct {
	UserID, UserName, ChannelID, MessageTS string
	ActionID, BlockID, Value               string
	// Message is the original message as Slack would embed it. When nil and
	// ChannelID/MessageTS name a message in the fake's model, that message is
	// embedded, and empty BlockID/Value are taken from its element with ActionID.
	Message json.RawMessage
	// Ephemeral marks the source message as ephemeral (container.is_ephemeral).
	Ephemeral bool
}

// Submission is a modal submitted by the user (view_submission).
type Submission struct {
	UserID string
	// ViewID, if set, must be a view returned by views.open; its callback_id,
	// private_metadata, title and blocks are used unless overridden below.
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

// nameFor invents a user or channel name for an id that has none.
func nameFor(id, defID, defName string) string {
	if id == defID {
		return defName
	}
	return strings.ToLower(id)
}

// newTriggerLocked registers a single-use trigger_id; s.mu must be held.
func (s *Server) newTriggerLocked() string {
	n := s.nextIDLocked()
	id := fmt.Sprintf("%d.738474920.%016x", 13345224600+n, uint64(n)*0x9e3779b97f4a7c15)
	s.triggers[id] = &trigger{created: s.now()}
	return id
}

// newResponseURLLocked registers a response_url; s.mu must be held.
func (s *Server) newResponseURLLocked(ru *responseURL) string {
	n := s.nextIDLocked()
	id := fmt.Sprintf("%s-%d-%08x", DefaultTeamID, 1000+n, uint32(n)*2654435761)
	ru.created = s.now()
	s.responseURLs[id] = ru
	return s.srv.URL + "/response/" + id
}

// SendSlashCommand delivers a slash_commands envelope on one live socket,
// waiting for one if none is live. The envelope gets a fresh response_url and
// trigger_id. It returns ctx's error or ErrClosed.
func (s *Server) SendSlashCommand(ctx context.Context, c SlashCommand) (*Envelope, error) {
	userID := orDefault(c.UserID, DefaultUserID)
	channelID := orDefault(c.ChannelID, DefaultChannelID)
	s.mu.Lock()
	respURL := s.newResponseURLLocked(&responseURL{channel: channelID})
	trig := s.newTriggerLocked()
	s.mu.Unlock()
	payload, _ := json.Marshal(map[string]any{
		"token":                 VerificationToken,
		"team_id":               orDefault(c.TeamID, DefaultTeamID),
		"team_domain":           TeamDomain,
		"channel_id":            channelID,
		"channel_name":          orDefault(c.ChannelName, nameFor(channelID, DefaultChannelID, DefaultChannelName)),
		"user_id":               userID,
		"user_name":             orDefault(c.UserName, nameFor(userID, DefaultUserID, DefaultUserName)),
		"command":               orDefault(c.Command, DefaultCommand),
		"text":                  c.Text,
		"api_app_id":            AppID,
		"is_enterprise_install": "false",
		"response_url":          respURL,
		"trigger_id":            trig,
	})
	return s.deliver(ctx, "slash_commands", payload, respURL, trig)
}

// SendClick delivers an interactive block_actions envelope for a button
// press, shaped as slack-go decodes it into InteractionCallback.BlockActions.
// The envelope gets a fresh response_url and trigger_id.
func (s *Server) SendClick(ctx context.Context, c Click) (*Envelope, error) {
	userID := orDefault(c.UserID, DefaultUserID)
	channelID := orDefault(c.ChannelID, DefaultChannelID)
	userName := orDefault(c.UserName, nameFor(userID, DefaultUserID, DefaultUserName))

	s.mu.Lock()
	message := c.Message
	buttonText := c.ActionID
	if m, ok := s.msgs[msgKey{channelID, c.MessageTS}]; ok && message == nil {
		message, _ = json.Marshal(m.apiJSON())
		if el, ok := findElement(m.Blocks, c.BlockID, c.ActionID); ok {
			c.BlockID = orDefault(c.BlockID, el.blockID)
			c.Value = orDefault(c.Value, el.value)
			buttonText = orDefault(el.text, buttonText)
		}
	}
	respURL := s.newResponseURLLocked(&responseURL{channel: channelID, messageTS: c.MessageTS, ephemeral: c.Ephemeral})
	trig := s.newTriggerLocked()
	actionTS := s.nextTSLocked()
	s.mu.Unlock()

	p := map[string]any{
		"type":       "block_actions",
		"api_app_id": AppID,
		"token":      VerificationToken,
		"team":       map[string]any{"id": DefaultTeamID, "domain": TeamDomain},
		"user":       map[string]any{"id": userID, "username": userName, "name": userName, "team_id": DefaultTeamID},
		// attachment_id is a json.Number in slack-go: omit it, never "".
		"container": map[string]any{
			"type": "message", "message_ts": c.MessageTS, "channel_id": channelID, "is_ephemeral": c.Ephemeral,
		},
		"channel":      map[string]any{"id": channelID, "name": nameFor(channelID, DefaultChannelID, DefaultChannelName)},
		"state":        map[string]any{"values": map[string]any{}},
		"trigger_id":   trig,
		"response_url": respURL,
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
	if message != nil {
		p["message"] = message
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("build click payload: %w", err)
	}
	return s.deliver(ctx, "interactive", payload, respURL, trig)
}

// SendSubmission delivers an interactive view_submission envelope. It fails
// if ViewID is set but was never returned by views.open.
func (s *Server) SendSubmission(ctx context.Context, v Submission) (*Envelope, error) {
	userID := orDefault(v.UserID, DefaultUserID)
	userName := nameFor(userID, DefaultUserID, DefaultUserName)

	s.mu.Lock()
	var view map[string]any
	if v.ViewID != "" {
		stored, ok := s.views[v.ViewID]
		if !ok {
			s.mu.Unlock()
			return nil, fmt.Errorf("submit view %q: no such view was opened", v.ViewID)
		}
		view = maps.Clone(stored)
	} else {
		n := s.nextIDLocked()
		id := fmt.Sprintf("V%08d", n)
		view = map[string]any{
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
	trig := s.newTriggerLocked()
	s.mu.Unlock()

	if v.CallbackID != "" {
		view["callback_id"] = v.CallbackID
	}
	if v.PrivateMetadata != "" {
		view["private_metadata"] = v.PrivateMetadata
	}
	state := map[string]any{}
	for blockID, actions := range v.Values {
		a := map[string]any{}
		for actionID, value := range actions {
			a[actionID] = map[string]any{"type": "plain_text_input", "value": value}
		}
		state[blockID] = a
	}
	view["state"] = map[string]any{"values": state}
	view["previous_view_id"] = nil

	payload, err := json.Marshal(map[string]any{
		"type":                  "view_submission",
		"api_app_id":            AppID,
		"token":                 VerificationToken,
		"trigger_id":            trig,
		"team":                  map[string]any{"id": DefaultTeamID, "domain": TeamDomain},
		"user":                  map[string]any{"id": userID, "username": userName, "name": userName, "team_id": DefaultTeamID},
		"view":                  view,
		"response_urls":         []any{},
		"is_enterprise_install": false,
	})
	if err != nil {
		return nil, fmt.Errorf("build submission payload: %w", err)
	}
	return s.deliver(ctx, "interactive", payload, "", trig)
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
	return s.deliver(ctx, envelopeType, payload, "", "")
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

package fakeslack

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Message is the fake's view of a message: in a channel or a direct message
// channel, or ephemeral (only To sees it).
type Message struct {
	Channel  string
	TS       string
	ThreadTS string // "" unless posted in a thread
	// ReplyBroadcast marks a thread reply that is also shown in the channel.
	ReplyBroadcast bool
	Text           string
	Blocks         json.RawMessage // nil when the message has none
	User           string          // BotUserID, or the person who wrote it (Say)
	// To is the one person who sees an ephemeral message; "" otherwise.
	To     string
	Files  []File    // files shared with the message, without their Content
	Posted time.Time // when it was posted, by Options.Now
	Edits  int       // chat.update and replace_original count
}

type msgKey struct{ channel, ts string }

// itemKey names something the page shows: a message, an ephemeral message
// or a view. id is "channel/ts" for messages and the view ID for views.
type itemKey struct{ kind, id string }

const (
	kindMessage   = "message"
	kindEphemeral = "ephemeral"
	kindView      = "view"
)

func (k msgKey) item(kind string) itemKey { return itemKey{kind, k.channel + "/" + k.ts} }

// touchLocked records that k changed (or went away); s.mu must be held.
func (s *Server) touchLocked(k itemKey) {
	s.rev++
	s.revs[k] = s.rev
	s.notifyLocked()
}

// nextTSLocked returns a unique, increasing message timestamp such as
// 1700000000.000100; s.mu must be held.
func (s *Server) nextTSLocked() string {
	s.tsSeq += 100
	return fmt.Sprintf("%d.%06d", 1700000000+s.tsSeq/1000000, s.tsSeq%1000000)
}

// DMChannel is the ID of the direct message channel between the app and
// user, as conversations.open returns it.
func DMChannel(user string) string { return "D" + user }

// dmChannelLocked returns the direct message channel between the app and
// user, creating it; s.mu must be held.
func (s *Server) dmChannelLocked(user string) string {
	ch := DMChannel(user)
	s.dms[ch] = user
	return ch
}

// channelFor maps a user ID given as a channel to that user's direct
// message channel, as Slack does for chat.postMessage.
func (s *Server) channelForLocked(channel string) string {
	if strings.HasPrefix(channel, "U") || strings.HasPrefix(channel, "W") {
		return s.dmChannelLocked(channel)
	}
	return channel
}

func (s *Server) postLocked(m *Message) *Message {
	m.TS, m.Posted = s.nextTSLocked(), s.now()
	if m.User == "" {
		m.User = BotUserID
	}
	k := msgKey{m.Channel, m.TS}
	if m.To != "" {
		s.ephemerals[k] = m
		s.ephOrder = append(s.ephOrder, k)
		s.touchLocked(k.item(kindEphemeral))
		return m
	}
	s.msgs[k] = m
	s.msgOrder = append(s.msgOrder, k)
	s.touchLocked(k.item(kindMessage))
	return m
}

// editLocked replaces the content of m, a stored message, in place.
func (s *Server) editLocked(m *Message, text string, blocks json.RawMessage) {
	m.Text, m.Blocks = text, blocks
	m.Edits++
	kind := kindMessage
	if m.To != "" {
		kind = kindEphemeral
	}
	s.touchLocked(msgKey{m.Channel, m.TS}.item(kind))
}

func (s *Server) deleteLocked(m *Message) {
	k := msgKey{m.Channel, m.TS}
	if m.To != "" {
		delete(s.ephemerals, k)
		s.ephOrder = slices.DeleteFunc(s.ephOrder, func(o msgKey) bool { return o == k })
		s.touchLocked(k.item(kindEphemeral))
		return
	}
	delete(s.msgs, k)
	s.msgOrder = slices.DeleteFunc(s.msgOrder, func(o msgKey) bool { return o == k })
	s.touchLocked(k.item(kindMessage))
}

// apiJSON renders the message the way Slack embeds it in API answers and payloads.
func (m *Message) apiJSON() map[string]any {
	out := map[string]any{"type": "message", "user": m.User, "ts": m.TS, "text": m.Text}
	if m.User == BotUserID {
		out["bot_id"] = BotID
	}
	if m.Blocks != nil {
		out["blocks"] = m.Blocks
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	if len(m.Files) > 0 {
		files := make([]any, len(m.Files))
		for i, f := range m.Files {
			files[i] = f.apiJSON()
		}
		out["files"] = files
	}
	return out
}

func (m *Message) clone() Message {
	c := *m
	c.Files = slices.Clone(m.Files)
	return c
}

// Message returns the current state of the message channel/ts. Deleted,
// ephemeral and unknown messages report false.
func (s *Server) Message(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.msgs[msgKey{channel, ts}]
	if !ok {
		return Message{}, false
	}
	return m.clone(), true
}

// Messages lists the current messages of channel, oldest first; ephemeral
// messages are not among them (see Ephemerals).
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, k := range s.msgOrder {
		if k.channel == channel {
			out = append(out, s.msgs[k].clone())
		}
	}
	return out
}

// Ephemerals lists the ephemeral messages user can see, in every channel,
// oldest first. They come from chat.postEphemeral, from ephemeral
// response_url posts and from a slash command's ack payload.
func (s *Server) Ephemerals(user string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, k := range s.ephOrder {
		if m := s.ephemerals[k]; m.To == user {
			out = append(out, m.clone())
		}
	}
	return out
}

// DirectMessages lists the messages of the direct message channel between
// the app and user, oldest first.
func (s *Server) DirectMessages(user string) []Message {
	s.mu.Lock()
	ch := s.dmChannelLocked(user)
	s.mu.Unlock()
	return s.Messages(ch)
}

// Say posts text as user in channel, as a person typing in the channel
// would; the text is escaped, so it mentions and links nobody. The app gets
// no envelope: releasebot does not subscribe to message events.
func (s *Server) Say(channel, user, text string) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	text = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(text)
	m := s.postLocked(&Message{Channel: channel, Text: text, User: user})
	return m.clone()
}

package fakeslack

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Message is the fake's view of a channel message the bot posted.
type Message struct {
	Channel  string
	TS       string
	ThreadTS string // "" unless posted in a thread
	Text     string
	Blocks   json.RawMessage // nil when the message has none
	User     string          // always BotUserID
	Edits    int             // chat.update and replace_original count
}

type msgKey struct{ channel, ts string }

// nextTSLocked returns a unique, increasing message timestamp such as
// 1700000000.000100; s.mu must be held.
func (s *Server) nextTSLocked() string {
	s.tsSeq += 100
	return fmt.Sprintf("%d.%06d", 1700000000+s.tsSeq/1000000, s.tsSeq%1000000)
}

func (s *Server) postLocked(channel, threadTS, text string, blocks json.RawMessage) *Message {
	m := &Message{Channel: channel, TS: s.nextTSLocked(), ThreadTS: threadTS, Text: text, Blocks: blocks, User: BotUserID}
	k := msgKey{channel, m.TS}
	s.msgs[k] = m
	s.msgOrder = append(s.msgOrder, k)
	return m
}

func (s *Server) deleteLocked(m *Message) {
	k := msgKey{m.Channel, m.TS}
	delete(s.msgs, k)
	s.msgOrder = slices.DeleteFunc(s.msgOrder, func(o msgKey) bool { return o == k })
}

// apiJSON renders the message the way Slack embeds it in API answers and payloads.
func (m *Message) apiJSON() map[string]any {
	out := map[string]any{"type": "message", "user": m.User, "bot_id": BotID, "ts": m.TS, "text": m.Text}
	if m.Blocks != nil {
		out["blocks"] = m.Blocks
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	return out
}

// Message returns the current state of the message channel/ts. Deleted and
// unknown messages report false.
func (s *Server) Message(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.msgs[msgKey{channel, ts}]
	if !ok {
		return Message{}, false
	}
	return *m, true
}

// Messages lists the current messages of channel, oldest first.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, k := range s.msgOrder {
		if k.channel == channel {
			out = append(out, *s.msgs[k])
		}
	}
	return out
}

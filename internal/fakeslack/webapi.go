package fakeslack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	maxRequestBody = 4 << 20
	maxTextRunes   = 40000
	maxViewBytes   = 250000
)

// ResponseURLMethod is the Call.Method recorded for posts to a response_url.
const ResponseURLMethod = "response_url"

// Call is one recorded Web API request (or response_url post).
type Call struct {
	Method string
	// Params are the form fields (first value each, token excluded) or, for a
	// JSON body, its top-level fields: JSON strings decoded, anything else as raw JSON text.
	Params map[string]string
	JSON   json.RawMessage // the body, for JSON requests
	Token  string          // Bearer token, else form field token
	URL    string          // the URL posted to, for response_url posts
	At     time.Time
	// What the fake answered.
	Status   int
	Error    string // Slack error code; "" when ok
	Response json.RawMessage
}

type injected struct {
	err        string
	retryAfter int // >0: answer HTTP 429
}

// FailNext makes the next call to method ("chat.postMessage", …, or ResponseURLMethod)
// that passes the token and scope checks answer {"ok":false,"error":slackError}. Calls queue up.
func (s *Server) FailNext(method, slackError string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inject[method] = append(s.inject[method], injected{err: slackError})
}

// RateLimitNext makes the next call to method answer HTTP 429 with Retry-After: retryAfter (seconds, ≥1).
func (s *Server) RateLimitNext(method string, retryAfter int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inject[method] = append(s.inject[method], injected{err: "ratelimited", retryAfter: max(retryAfter, 1)})
}

// Calls lists the recorded calls to method, oldest first; "" lists all.
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			out = append(out, c.clone())
		}
	}
	return out
}

// CallCount counts recorded calls per method, forgotten ones included.
func (s *Server) CallCount() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.counts)
}

// WaitCount waits until at least n calls to method were recorded, forgotten
// ones included. It returns ctx's error or ErrClosed.
func (s *Server) WaitCount(ctx context.Context, method string, n int) error {
	if err := s.waitFor(ctx, func() bool { return s.counts[method] >= n }); err != nil {
		return fmt.Errorf("wait for %d %s calls: %w", n, method, err)
	}
	return nil
}

// WaitCall returns the first call to method, past (not forgotten) or
// future, for which match (nil matches all) returns true. match runs without the server's lock, so it
// may call the Server. It returns ctx's error or ErrClosed.
func (s *Server) WaitCall(ctx context.Context, method string, match func(Call) bool) (Call, error) {
	for seen := 0; ; { // seen counts forgotten calls too
		s.mu.Lock()
		from := max(seen-s.callBase, 0)
		fresh := make([]Call, 0, len(s.calls)-from)
		for _, c := range s.calls[from:] {
			fresh = append(fresh, c.clone())
		}
		seen = s.callBase + len(s.calls)
		changed, closed := s.changed, s.closed
		s.mu.Unlock()

		for _, c := range fresh {
			if c.Method == method && (match == nil || match(c)) {
				return c, nil
			}
		}
		if closed {
			return Call{}, fmt.Errorf("wait for %s call: %w", method, ErrClosed)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Call{}, fmt.Errorf("wait for %s call: %w", method, ctx.Err())
		}
	}
}

func (c Call) clone() Call {
	c.Params = maps.Clone(c.Params)
	return c
}

type reply struct {
	status     int
	retryAfter int
	body       map[string]any
}

func ok(fields map[string]any) reply {
	body := map[string]any{"ok": true}
	maps.Copy(body, fields)
	return reply{status: http.StatusOK, body: body}
}

func fail(code string) reply {
	return reply{status: http.StatusOK, body: map[string]any{"ok": false, "error": code}}
}

// failWith answers code with Slack's per-field messages.
func failWith(code string, msgs []string) reply {
	r := fail(code)
	r.body["errors"] = msgs
	prefixed := make([]string, len(msgs))
	for i, m := range msgs {
		prefixed[i] = "[ERROR] " + m
	}
	r.body["response_metadata"] = map[string]any{"messages": prefixed}
	return r
}

type methodSpec struct {
	appToken bool
	handle   func(s *Server, c *Call) reply
}

var methods = map[string]methodSpec{
	"apps.connections.open":        {appToken: true, handle: (*Server).appsConnectionsOpen},
	"auth.test":                    {handle: (*Server).authTest},
	"chat.postMessage":             {handle: (*Server).chatPostMessage},
	"chat.postEphemeral":           {handle: (*Server).chatPostEphemeral},
	"chat.update":                  {handle: (*Server).chatUpdate},
	"conversations.open":           {handle: (*Server).conversationsOpen},
	"files.getUploadURLExternal":   {handle: (*Server).filesGetUploadURLExternal},
	"files.completeUploadExternal": {handle: (*Server).filesCompleteUploadExternal},
	"views.open":                   {handle: (*Server).viewsOpen},
	"views.publish":                {handle: (*Server).viewsPublish},
	"usergroups.users.list":        {handle: (*Server).usergroupsUsersList},
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		return
	}
	call := Call{Method: method, Params: map[string]string{}, At: s.now()}
	if tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); found {
		call.Token = tok
	}
	var rep reply
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType == "application/json" {
		call.JSON = body
		if len(bytes.TrimSpace(body)) > 0 && !jsonParams(body, call.Params) {
			rep = fail("invalid_json")
		}
	} else {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			rep = fail("invalid_form_data")
		}
		for k, v := range r.URL.Query() {
			if _, dup := form[k]; !dup {
				form[k] = v
			}
		}
		for k, v := range form {
			if k == "token" {
				if call.Token == "" {
					call.Token = v[0]
				}
				continue
			}
			call.Params[k] = v[0]
		}
	}

	s.mu.Lock()
	if rep.body == nil {
		rep = s.dispatchLocked(&call)
	}
	s.recordLocked(&call, rep)
	s.mu.Unlock()

	if call.Error != "" {
		s.logf("%s -> %d %s", method, call.Status, call.Error)
	} else {
		s.logf("%s -> ok", method)
	}
	writeReply(w, rep, call.Response)
}

// jsonParams flattens a JSON object's top-level fields into params.
func jsonParams(body []byte, params map[string]string) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return false
	}
	for k, v := range top {
		var str string
		if json.Unmarshal(v, &str) == nil {
			params[k] = str
		} else {
			params[k] = string(v)
		}
	}
	return true
}

func (s *Server) recordLocked(call *Call, rep reply) {
	call.Status = rep.status
	call.Response, _ = json.Marshal(rep.body)
	if okv, _ := rep.body["ok"].(bool); !okv {
		call.Error, _ = rep.body["error"].(string)
	}
	s.appendCallLocked(*call)
}

// writeReply answers with rep's status and body, already encoded (the
// recorded call's Response).
func writeReply(w http.ResponseWriter, rep reply, body json.RawMessage) {
	// slack-go parses response_url replies by Content-Type; always label JSON as such.
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if rep.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(rep.retryAfter))
	}
	w.WriteHeader(rep.status)
	_, _ = w.Write(body)
	_, _ = w.Write([]byte("\n"))
}

func (s *Server) dispatchLocked(call *Call) reply {
	spec, known := methods[call.Method]
	if !known {
		return fail("unknown_method")
	}
	if call.Method == "apps.connections.open" {
		s.opens++
	}
	want, other := s.opts.BotToken, s.opts.AppToken
	if spec.appToken {
		want, other = other, want
	}
	switch call.Token {
	case want:
	case "":
		return fail("not_authed")
	case other:
		return fail("not_allowed_token_type")
	default:
		return fail("invalid_auth")
	}
	if need := methodScopes[call.Method]; need != "" && !s.scopes[need] {
		r := fail("missing_scope")
		r.body["needed"] = need
		r.body["provided"] = s.grantedScopes()
		return r
	}
	if r, injected := s.popInjectedLocked(call.Method); injected {
		return r
	}
	return spec.handle(s, call)
}

func (s *Server) popInjectedLocked(method string) (reply, bool) {
	q := s.inject[method]
	if len(q) == 0 {
		return reply{}, false
	}
	in := q[0]
	s.inject[method] = q[1:]
	r := fail(in.err)
	if in.retryAfter > 0 {
		r.status = http.StatusTooManyRequests
		r.retryAfter = in.retryAfter
	}
	return r, true
}

func (s *Server) appsConnectionsOpen(*Call) reply {
	n := s.nextIDLocked()
	ticket := fmt.Sprintf("%d-%08x", n, uint32(n)*2654435761)
	s.tickets[ticket] = true
	return ok(map[string]any{"url": "ws" + strings.TrimPrefix(s.url, "http") + "/link/?ticket=" + ticket})
}

func (s *Server) authTest(*Call) reply {
	return ok(map[string]any{
		"url": "https://" + TeamDomain + ".slack.com/", "team": "Acme", "user": "releasebot",
		"team_id": DefaultTeamID, "user_id": BotUserID, "bot_id": BotID,
	})
}

func (s *Server) usergroupsUsersList(c *Call) reply {
	members, found := s.groups[c.Params["usergroup"]]
	if !found {
		return fail("no_such_subteam")
	}
	return ok(map[string]any{"users": append([]string{}, members...)})
}

// messageContent validates and normalises the text and blocks of a message.
// A nil blocks result means the request carried none.
func messageContent(text string, blocks json.RawMessage, ptr string) (string, json.RawMessage, []string, *reply) {
	var warnings []string
	if trimmed := bytes.TrimSpace(blocks); len(trimmed) == 0 || string(trimmed) == "null" {
		blocks = nil
	} else if errs := validateBlocks(trimmed, maxMessageBlocks, ptr); len(errs) > 0 {
		r := failWith("invalid_blocks", errs)
		return "", nil, nil, &r
	} else {
		blocks = slices.Clone(trimmed)
	}
	if rs := []rune(text); len(rs) > maxTextRunes {
		text = string(rs[:maxTextRunes])
		warnings = append(warnings, "message_truncated")
	}
	return text, blocks, warnings, nil
}

func withWarnings(r reply, warnings []string) reply {
	if len(warnings) > 0 {
		r.body["warning"] = strings.Join(warnings, ",")
		r.body["response_metadata"] = map[string]any{"warnings": warnings}
	}
	return r
}

func (s *Server) chatPostMessage(c *Call) reply {
	channel := c.Params["channel"]
	if channel == "" {
		return fail("channel_not_found")
	}
	channel = s.channelForLocked(channel)
	text, blocks, warnings, bad := messageContent(c.Params["text"], json.RawMessage(c.Params["blocks"]), "/blocks")
	if bad != nil {
		return *bad
	}
	if text == "" && blocks == nil && c.Params["attachments"] == "" {
		return fail("no_text")
	}
	m := s.postLocked(&Message{
		Channel: channel, ThreadTS: c.Params["thread_ts"], Text: text, Blocks: blocks,
		ReplyBroadcast: c.Params["thread_ts"] != "" && c.Params["reply_broadcast"] == "true",
	})
	return withWarnings(ok(map[string]any{"channel": channel, "ts": m.TS, "message": m.apiJSON()}), warnings)
}

func (s *Server) chatPostEphemeral(c *Call) reply {
	channel := c.Params["channel"]
	if channel == "" {
		return fail("channel_not_found")
	}
	user := c.Params["user"]
	if user == "" {
		return fail("user_not_in_channel")
	}
	text, blocks, warnings, bad := messageContent(c.Params["text"], json.RawMessage(c.Params["blocks"]), "/blocks")
	if bad != nil {
		return *bad
	}
	if text == "" && blocks == nil && c.Params["attachments"] == "" {
		return fail("no_text")
	}
	m := s.postLocked(&Message{Channel: channel, ThreadTS: c.Params["thread_ts"], Text: text, Blocks: blocks, To: user})
	return withWarnings(ok(map[string]any{"message_ts": m.TS}), warnings)
}

func (s *Server) chatUpdate(c *Call) reply {
	m, found := s.msgs[msgKey{c.Params["channel"], c.Params["ts"]}]
	if !found {
		return fail("message_not_found")
	}
	text, blocks, warnings, bad := messageContent(c.Params["text"], json.RawMessage(c.Params["blocks"]), "/blocks")
	if bad != nil {
		return *bad
	}
	_, hasText := c.Params["text"]
	_, hasBlocks := c.Params["blocks"]
	if !hasText && !hasBlocks {
		return fail("no_text")
	}
	// Omitted fields keep their previous value, as on Slack.
	if !hasText {
		text = m.Text
	}
	if !hasBlocks {
		blocks = m.Blocks
	}
	s.editLocked(m, text, blocks)
	return withWarnings(ok(map[string]any{
		"channel": m.Channel, "ts": m.TS, "text": m.Text, "message": m.apiJSON(),
	}), warnings)
}

func (s *Server) conversationsOpen(c *Call) reply {
	users := c.Params["users"]
	if users == "" || strings.Contains(users, ",") {
		// Group DMs are not modelled: releasebot only writes to one person.
		return fail("users_list_not_supplied")
	}
	return ok(map[string]any{"channel": map[string]any{"id": s.dmChannelLocked(users)}})
}

func (s *Server) serveResponseURL(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/response/")
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		return
	}
	call := Call{Method: ResponseURLMethod, Params: map[string]string{}, JSON: body, URL: s.url + r.URL.Path, At: s.now()}
	parsed := jsonParams(body, call.Params)

	s.mu.Lock()
	rep := s.responseURLLocked(id, r.Method, body, parsed)
	s.recordLocked(&call, rep)
	s.mu.Unlock()

	s.logf("response_url -> %d %s", call.Status, call.Error)
	writeReply(w, rep, call.Response)
}

func (s *Server) responseURLLocked(id, httpMethod string, body []byte, parsed bool) reply {
	ru, found := s.responseURLs[id]
	switch {
	case !found || s.now().Sub(ru.created) > responseURLTTL:
		r := fail("expired_url")
		r.status = http.StatusNotFound
		return r
	case httpMethod != http.MethodPost:
		r := fail("method_not_allowed")
		r.status = http.StatusMethodNotAllowed
		return r
	case !parsed:
		r := fail("invalid_payload")
		r.status = http.StatusBadRequest
		return r
	}
	if r, injected := s.popInjectedLocked(ResponseURLMethod); injected {
		return r
	}
	if ru.uses >= responseURLMaxUses {
		r := fail("used_url")
		r.status = http.StatusNotFound
		return r
	}
	var msg struct {
		Text            string          `json:"text"`
		Blocks          json.RawMessage `json:"blocks"`
		ResponseType    string          `json:"response_type"`
		ReplaceOriginal bool            `json:"replace_original"`
		DeleteOriginal  bool            `json:"delete_original"`
		ThreadTS        string          `json:"thread_ts"`
	}
	if json.Unmarshal(body, &msg) != nil {
		r := fail("invalid_payload")
		r.status = http.StatusBadRequest
		return r
	}
	text, blocks, warnings, bad := messageContent(msg.Text, msg.Blocks, "/blocks")
	if bad != nil {
		return *bad
	}
	ru.uses++
	var source *Message
	if ru.messageTS != "" {
		k := msgKey{ru.channel, ru.messageTS}
		if ru.ephemeral {
			source = s.ephemerals[k]
		} else {
			source = s.msgs[k]
		}
	}
	switch {
	case msg.DeleteOriginal:
		if source != nil {
			s.deleteLocked(source)
		}
	case msg.ReplaceOriginal:
		if source != nil {
			s.editLocked(source, text, blocks)
		}
	case msg.ResponseType == "in_channel":
		s.postLocked(&Message{Channel: ru.channel, ThreadTS: msg.ThreadTS, Text: text, Blocks: blocks})
	default:
		thread := orDefault(msg.ThreadTS, ru.threadTS)
		s.postLocked(&Message{Channel: ru.channel, ThreadTS: thread, Text: text, Blocks: blocks, To: orDefault(ru.user, DefaultUserID)})
	}
	return withWarnings(ok(nil), warnings)
}

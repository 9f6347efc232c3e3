package fakeslack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"
)

// BotName is the app's display name on the page.
const BotName = "releasebot"

// uiAckTimeout is how long the page waits for the app to acknowledge what a
// person did: Slack's own budget is 3 seconds.
const uiAckTimeout = 5 * time.Second

// UIHandler serves the API through which a web page acts as the workspace's
// people and sees what they would see. Mount it under a prefix with
// http.StripPrefix. Every POST takes a JSON body (Content-Type
// application/json, which a form on another site cannot send) and answers
// 204, or JSON; an error is {"error": "..."}, with 504 when the app did not
// acknowledge in time.
//
//	GET  /users                 {"bot": User, "users": [User], "channels": [{"id","name"}]}
//	GET  /events?user=U…        server-sent events, see below
//	POST /command  {"user", "channel", "text", "command"}  a slash command (default /release)
//	POST /message  {"user", "channel", "text"}             a message typed in a channel
//	POST /click    {"user", "channel", "ts", "ephemeral", "view_id", "action_id", "block_id", "value"}
//	POST /submit   {"user", "view_id", "values": {block_id: {action_id: value}}}  → {"open", "errors"}
//	POST /close    {"user", "view_id"}                     closes a modal (its Cancel button)
//	POST /home     {"user"}                                opens the app's Home tab
//	GET  /files/{id}                                       a shared file's content
//
// /events streams "state" events whose data is
// {"rev", "reset", "connected", "items": [...]}: the items the person can see
// that changed since the previous event (all of them when reset is true),
// and whether the app's socket is connected. An item is a message
// ("kind":"message", in a channel or the person's direct messages with the
// app), an ephemeral message ("kind":"ephemeral") or a view ("kind":"view",
// a modal or the Home tab), keyed by "key"; "deleted":true removes it.
func (s *Server) UIHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users", s.uiUsers)
	mux.HandleFunc("GET /events", s.uiEvents)
	mux.HandleFunc("POST /{action}", s.uiPost)
	mux.HandleFunc("GET /files/{id}", s.uiFile)
	return mux
}

// uiRequest is every POST body; each route reads the fields it needs.
type uiRequest struct {
	User      string                       `json:"user"`
	Channel   string                       `json:"channel"`
	Command   string                       `json:"command"`
	Text      string                       `json:"text"`
	TS        string                       `json:"ts"`
	Ephemeral bool                         `json:"ephemeral"`
	ViewID    string                       `json:"view_id"`
	ActionID  string                       `json:"action_id"`
	BlockID   string                       `json:"block_id"`
	Value     string                       `json:"value"`
	Values    map[string]map[string]string `json:"values"`
}

// uiError is an error the page shows as it is.
type uiError struct {
	status int
	msg    string
}

func (e *uiError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &uiError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// uiPost serves every POST route: one handler, so that the playground's
// binary carries one copy of the decoding and answering.
func (s *Server) uiPost(w http.ResponseWriter, r *http.Request) {
	var h func(ctx context.Context, req uiRequest) (any, error)
	switch r.PathValue("action") {
	case "command":
		h = s.uiCommand
	case "message":
		h = s.uiMessage
	case "click":
		h = s.uiClick
	case "submit":
		h = s.uiSubmit
	case "close":
		h = s.uiClose
	case "home":
		h = s.uiHome
	default:
		writeUI(w, http.StatusNotFound, map[string]string{"error": "no such action"})
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeUI(w, http.StatusUnsupportedMediaType, map[string]string{"error": "send JSON"})
		return
	}
	var req uiRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		writeUI(w, http.StatusBadRequest, map[string]string{"error": "bad JSON: " + err.Error()})
		return
	}
	if req.User == "" {
		writeUI(w, http.StatusBadRequest, map[string]string{"error": "user is required"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), uiAckTimeout)
	defer cancel()
	out, err := h(ctx, req)
	var ue *uiError
	switch {
	case errors.As(err, &ue):
		writeUI(w, ue.status, map[string]string{"error": ue.msg})
	case errors.Is(err, context.DeadlineExceeded):
		writeUI(w, http.StatusGatewayTimeout, map[string]string{"error": "releasebot did not answer in time; is it connected?"})
	case err != nil:
		writeUI(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
	case out == nil:
		w.WriteHeader(http.StatusNoContent)
	default:
		writeUI(w, http.StatusOK, out)
	}
}

func writeUI(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) uiUsers(w http.ResponseWriter, _ *http.Request) {
	writeUI(w, http.StatusOK, map[string]any{
		"bot":      User{ID: BotUserID, Name: BotName, Title: "app"},
		"users":    s.Users(),
		"channels": []any{map[string]string{"id": DefaultChannelID, "name": DefaultChannelName}},
	})
}

// acked waits for env's ack, so that the page's request ends when the app
// has taken the action.
func acked(ctx context.Context, env *Envelope, err error) error {
	if err != nil {
		return err
	}
	_, err = env.Ack(ctx)
	return err
}

func (s *Server) uiCommand(ctx context.Context, req uiRequest) (any, error) {
	cmd := orDefault(req.Command, DefaultCommand)
	if !strings.HasPrefix(cmd, "/") || strings.ContainsAny(cmd, " \n") {
		return nil, badRequest("%q is not a slash command", cmd)
	}
	env, err := s.SendSlashCommand(ctx, SlashCommand{UserID: req.User, ChannelID: req.Channel, Command: cmd, Text: req.Text})
	return nil, acked(ctx, env, err)
}

func (s *Server) uiMessage(_ context.Context, req uiRequest) (any, error) {
	if strings.TrimSpace(req.Text) == "" {
		return nil, badRequest("the message is empty")
	}
	s.Say(orDefault(req.Channel, DefaultChannelID), req.User, req.Text)
	return nil, nil
}

func (s *Server) uiClick(ctx context.Context, req uiRequest) (any, error) {
	if req.ActionID == "" {
		return nil, badRequest("action_id is required")
	}
	env, err := s.SendClick(ctx, Click{
		UserID: req.User, ChannelID: req.Channel, MessageTS: req.TS, Ephemeral: req.Ephemeral, ViewID: req.ViewID,
		ActionID: req.ActionID, BlockID: req.BlockID, Value: req.Value,
	})
	return nil, acked(ctx, env, err)
}

func (s *Server) uiSubmit(ctx context.Context, req uiRequest) (any, error) {
	if v, ok := s.View(req.ViewID); !ok || v.User != req.User || v.Type != "modal" {
		return nil, badRequest("no such modal for %s", req.User)
	}
	env, err := s.SendSubmission(ctx, Submission{UserID: req.User, ViewID: req.ViewID, Values: req.Values})
	if err := acked(ctx, env, err); err != nil {
		return nil, err
	}
	v, _ := s.View(req.ViewID)
	return map[string]any{"open": v.Open, "errors": v.Errors}, nil
}

func (s *Server) uiClose(_ context.Context, req uiRequest) (any, error) {
	if err := s.CloseView(req.User, req.ViewID); err != nil {
		return nil, badRequest("%v", err)
	}
	return nil, nil
}

func (s *Server) uiHome(ctx context.Context, req uiRequest) (any, error) {
	env, err := s.OpenHome(ctx, req.User)
	return nil, acked(ctx, env, err)
}

func (s *Server) uiFile(w http.ResponseWriter, r *http.Request) {
	f, ok := s.File(r.PathValue("id"))
	if !ok || !f.Complete {
		http.NotFound(w, r)
		return
	}
	ct := mime.TypeByExtension(path.Ext(f.Name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
	_, _ = w.Write(f.Content)
}

// uiItem is one thing a person sees on the page.
type uiItem struct {
	Kind    string `json:"kind"` // message, ephemeral or view
	Key     string `json:"key"`
	Deleted bool   `json:"deleted,omitempty"`

	Channel        string          `json:"channel,omitempty"`
	TS             string          `json:"ts,omitempty"`
	ThreadTS       string          `json:"thread_ts,omitempty"`
	ReplyBroadcast bool            `json:"reply_broadcast,omitempty"`
	User           string          `json:"user,omitempty"`
	Text           string          `json:"text,omitempty"`
	Blocks         json.RawMessage `json:"blocks,omitempty"`
	Files          []File          `json:"files,omitempty"`
	Edits          int             `json:"edits,omitempty"`
	Posted         int64           `json:"posted,omitempty"` // Unix milliseconds

	ViewType string            `json:"view_type,omitempty"` // modal or home
	View     json.RawMessage   `json:"view,omitempty"`
	Open     bool              `json:"open,omitempty"`
	Errors   map[string]string `json:"errors,omitempty"`
}

type uiState struct {
	Rev       int64    `json:"rev"`
	Reset     bool     `json:"reset"`
	Connected bool     `json:"connected"`
	Items     []uiItem `json:"items"`
}

func messageItem(kind string, m *Message) uiItem {
	return uiItem{
		Kind: kind, Key: kind + ":" + m.Channel + "/" + m.TS,
		Channel: m.Channel, TS: m.TS, ThreadTS: m.ThreadTS, ReplyBroadcast: m.ReplyBroadcast,
		User: m.User, Text: m.Text, Blocks: m.Blocks, Files: m.Files, Edits: m.Edits, Posted: m.Posted.UnixMilli(),
	}
}

// uiStateLocked is what changed for user since rev; s.mu must be held.
func (s *Server) uiStateLocked(user string, since int64) uiState {
	st := uiState{Rev: s.rev, Reset: since == 0, Connected: s.liveLocked() > 0, Items: []uiItem{}}
	keys := make([]itemKey, 0)
	for k, rev := range s.revs {
		if rev > since {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b itemKey) int { return int(s.revs[a] - s.revs[b]) })
	for _, k := range keys {
		gone := uiItem{Kind: k.kind, Key: k.kind + ":" + k.id, Deleted: true}
		switch k.kind {
		case kindMessage, kindEphemeral:
			channel, ts, _ := strings.Cut(k.id, "/")
			store := s.msgs
			if k.kind == kindEphemeral {
				store = s.ephemerals
			}
			m, ok := store[msgKey{channel, ts}]
			switch {
			case !ok:
				if !st.Reset {
					st.Items = append(st.Items, gone)
				}
			case m.To != "" && m.To != user:
			case strings.HasPrefix(channel, "D") && s.dms[channel] != user:
			default:
				st.Items = append(st.Items, messageItem(k.kind, m))
			}
		case kindView:
			v, ok := s.views[k.id]
			if ok && v.user == user {
				pub := v.public()
				st.Items = append(st.Items, uiItem{
					Kind: kindView, Key: gone.Key, ViewType: v.typ, View: pub.JSON, Open: v.open, Errors: pub.Errors,
				})
			}
		}
	}
	return st
}

func (s *Server) uiEvents(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	if user == "" {
		http.Error(w, "user is required", http.StatusBadRequest)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming is not supported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)

	var since int64
	connected := false
	for first := true; ; first = false {
		var st uiState
		err := s.waitFor(r.Context(), func() bool {
			if !first && s.rev == since && (s.liveLocked() > 0) == connected {
				return false
			}
			st = s.uiStateLocked(user, since)
			return true
		})
		if err != nil {
			return // the page went away, or the simulator closed
		}
		since, connected = st.Rev, st.Connected
		data, err := json.Marshal(st)
		if err != nil {
			return
		}
		if _, err := fmt.Fprintf(w, "event: state\ndata: %s\n\n", data); err != nil {
			return
		}
		flusher.Flush()
	}
}

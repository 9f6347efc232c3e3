// Package fakeslack is an in-process fake Slack (Socket Mode and Web API) for end-to-end tests that drive the real slack-go client.
package fakeslack

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Identities the fake answers with, and the defaults for envelopes whose fields are left empty.
const (
	DefaultBotToken    = "xoxb-fakeslack-bot-token"
	DefaultAppToken    = "xapp-1-A0RELEASE-1-fakeslack"
	DefaultCommand     = "/release"
	DefaultUserID      = "U0ALICE"
	DefaultUserName    = "alice"
	DefaultChannelID   = "C0REL"
	DefaultChannelName = "releases"
	DefaultTeamID      = "T0TEAM"

	AppID      = "A0RELEASE"
	TeamDomain = "acme"
	BotUserID  = "U0BOT"
	BotID      = "B0BOT"
	// VerificationToken is the deprecated per-app token Slack puts in every payload.
	VerificationToken = "fakeslack-verification-token"
)

// DefaultScopes is what Options.Scopes == nil grants.
var DefaultScopes = []string{"commands", "chat:write", "usergroups:read"}

// methodScopes is the table the server enforces; MethodScopes is a copy so
// that a test touching the exported map cannot race with the server.
var methodScopes = map[string]string{
	"apps.connections.open": "", // needs connections:write on the app-level token, not a bot scope
	"auth.test":             "",
	"chat.postMessage":      "chat:write",
	"chat.postEphemeral":    "chat:write",
	"chat.update":           "chat:write",
	"views.open":            "",
	"usergroups.users.list": "usergroups:read",
}

// MethodScopes maps every Web API method the fake serves to the bot scope it
// requires; "" means the method needs none.
var MethodScopes = maps.Clone(methodScopes)

// Options configures a Server. The zero value is usable.
type Options struct {
	// BotToken and AppToken are the only tokens accepted (DefaultBotToken and
	// DefaultAppToken when empty). Web API methods want the bot token, in the
	// form field `token` or as `Authorization: Bearer`; apps.connections.open
	// wants the app-level token as Bearer.
	BotToken, AppToken string
	// Scopes are the bot scopes granted; nil means DefaultScopes. A call to a
	// method whose scope (MethodScopes) is missing answers missing_scope.
	Scopes []string
	// PingInterval is how often the server pings each socket (default 5s).
	PingInterval time.Duration
	// TriggerTTL is how long a trigger_id stays valid. Zero (the default)
	// never expires them, since -race runs are slow; they stay single-use.
	TriggerTTL time.Duration
	// Now is the clock for timestamps and trigger/response_url expiry (default time.Now).
	Now func() time.Time
	// Logf, if set, receives one line per connection event and Web API call (e.g. t.Logf).
	Logf func(format string, args ...any)
}

// ErrClosed is returned by waits and sends once the server is closed.
var ErrClosed = errors.New("fakeslack: server closed")

// Server is a fake Slack. Create it with New or MustStart; the caller must call Close.
type Server struct {
	opts     Options
	scopes   map[string]bool
	srv      *httptest.Server
	upgrader websocket.Upgrader
	stop     chan struct{} // closed by Close
	wg       sync.WaitGroup

	mu           sync.Mutex
	changed      chan struct{} // closed and replaced on every state change
	closed       bool
	seq          int
	tsSeq        int
	opens        int
	tickets      map[string]bool
	origins      []string
	conns        []*conn
	rr           int
	pongs        int
	envelopes    map[string]*envelope
	envOrder     []*envelope
	acks         []AckFrame
	calls        []Call
	inject       map[string][]injected
	groups       map[string][]string
	msgs         map[msgKey]*Message
	msgOrder     []msgKey
	triggers     map[string]*trigger
	responseURLs map[string]*responseURL
	views        map[string]map[string]any
	fileStore    fileStore // files.go
}

// New starts a fake Slack on a loopback httptest.Server. The caller must call Close.
func New(opts Options) *Server {
	if opts.BotToken == "" {
		opts.BotToken = DefaultBotToken
	}
	if opts.AppToken == "" {
		opts.AppToken = DefaultAppToken
	}
	if opts.Scopes == nil {
		opts.Scopes = DefaultScopes
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:         opts,
		scopes:       make(map[string]bool),
		stop:         make(chan struct{}),
		changed:      make(chan struct{}),
		tickets:      make(map[string]bool),
		envelopes:    make(map[string]*envelope),
		inject:       make(map[string][]injected),
		groups:       make(map[string][]string),
		msgs:         make(map[msgKey]*Message),
		triggers:     make(map[string]*trigger),
		responseURLs: make(map[string]*responseURL),
		views:        make(map[string]map[string]any),
	}
	for _, sc := range opts.Scopes {
		s.scopes[sc] = true
	}
	s.upgrader = websocket.Upgrader{CheckOrigin: s.checkOrigin}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", s.serveAPI)
	mux.HandleFunc("/link/", s.serveLink)
	mux.HandleFunc("/response/", s.serveResponseURL)
	mux.HandleFunc("/upload/", s.serveUpload)
	s.srv = httptest.NewServer(mux)
	return s
}

// MustStart is New with Logf defaulting to tb.Logf and Close registered with tb.Cleanup.
func MustStart(tb testing.TB, opts Options) *Server {
	tb.Helper()
	if opts.Logf == nil {
		opts.Logf = tb.Logf
	}
	s := New(opts)
	tb.Cleanup(s.Close)
	return s
}

// URL is the server's base URL, e.g. http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.srv.URL }

// APIURL is the Web API endpoint with its trailing slash, as slack.OptionAPIURL and SLACK_API_URL need it.
func (s *Server) APIURL() string { return s.srv.URL + "/api/" }

// Close closes every socket, stops the server and waits for all its goroutines. It is idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.stop)
	conns := slices.Clone(s.conns)
	s.notifyLocked()
	s.mu.Unlock()

	for _, c := range conns {
		_ = c.ws.Close()
	}
	s.srv.Close()
	s.wg.Wait()
}

func (s *Server) now() time.Time { return s.opts.Now() }

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf("fakeslack: "+format, args...)
	}
}

// notifyLocked wakes every waiter; s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitFor blocks until cond (called with s.mu held) is true, ctx ends or the server closes.
func (s *Server) waitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		if cond() {
			s.mu.Unlock()
			return nil
		}
		ch, closed := s.changed, s.closed
		s.mu.Unlock()
		if closed {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// nextIDLocked returns a fresh sequence number; s.mu must be held.
func (s *Server) nextIDLocked() int {
	s.seq++
	return s.seq
}

func (s *Server) grantedScopes() string {
	granted := slices.Sorted(maps.Keys(s.scopes))
	return strings.Join(granted, ",")
}

// SetUserGroup defines (or replaces) the members usergroups.users.list returns for id.
// Unknown ids answer no_such_subteam.
func (s *Server) SetUserGroup(id string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[id] = slices.Clone(members)
}

// Package fakeslack is a Slack simulator (Socket Mode and Web API) that the real slack-go client talks to: the test suite's fake Slack and the playground's.
package fakeslack

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	"apps.connections.open":        "", // needs connections:write on the app-level token, not a bot scope
	"auth.test":                    "",
	"chat.postMessage":             "chat:write",
	"chat.postEphemeral":           "chat:write",
	"chat.update":                  "chat:write",
	"conversations.open":           "im:write",
	"files.getUploadURLExternal":   "files:write",
	"files.completeUploadExternal": "files:write",
	"views.open":                   "",
	"views.publish":                "",
	"usergroups.users.list":        "usergroups:read",
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
	// Users are the people of the workspace: their names appear in payloads
	// and on the page. Others get a name made from their ID.
	Users []User
}

// ErrClosed is returned by waits and sends once the server is closed.
var ErrClosed = errors.New("fakeslack: server closed")

// Server is a fake Slack. Create it with New or MustStart; the caller must call Close.
type Server struct {
	opts     Options
	scopes   map[string]bool
	url      string // http://127.0.0.1:PORT
	http     *http.Server
	served   chan struct{} // closed when http.Serve returns
	tcpConns atomic.Int64  // TCP connections accepted
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
	callBase     int            // calls forgotten before calls[0]
	counts       map[string]int // calls recorded, forgotten ones included, by method
	inject       map[string][]injected
	groups       map[string][]string
	msgs         map[msgKey]*Message
	msgOrder     []msgKey
	ephemerals   map[msgKey]*Message
	ephOrder     []msgKey
	triggers     map[string]*trigger
	responseURLs map[string]*responseURL
	views        map[string]*view
	homes        map[string]string // user → ID of the view views.publish gave them
	dms          map[string]string // direct message channel → its person
	users        map[string]User
	userOrder    []string
	files        map[string]*File
	// rev counts changes a person can see; revs holds each item's last one,
	// so the page's stream sends what changed since the rev it has.
	rev  int64
	revs map[itemKey]int64
}

// New starts a fake Slack on a loopback port. It panics if no port can be
// bound, as httptest.NewServer does. The caller must call Close.
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
		ephemerals:   make(map[msgKey]*Message),
		triggers:     make(map[string]*trigger),
		responseURLs: make(map[string]*responseURL),
		views:        make(map[string]*view),
		homes:        make(map[string]string),
		dms:          make(map[string]string),
		users:        make(map[string]User),
		files:        make(map[string]*File),
		revs:         make(map[itemKey]int64),
		counts:       make(map[string]int),
	}
	for _, sc := range opts.Scopes {
		s.scopes[sc] = true
	}
	for _, u := range opts.Users {
		s.setUserLocked(u)
	}
	s.upgrader = websocket.Upgrader{CheckOrigin: s.checkOrigin}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", s.serveAPI)
	mux.HandleFunc("/link/", s.serveLink)
	mux.HandleFunc("/response/", s.serveResponseURL)
	mux.HandleFunc("/upload/", s.serveUpload)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("fakeslack: listen on loopback: %v", err))
	}
	s.url = "http://" + ln.Addr().String()
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ConnState: func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.tcpConns.Add(1)
		}
	}}
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		_ = s.http.Serve(ln) // ErrServerClosed after Close
	}()
	return s
}

// TB is the part of testing.TB that MustStart uses; *testing.T is one.
// (The playground links this package into the binary, without package testing.)
type TB interface {
	Helper()
	Logf(format string, args ...any)
	Cleanup(func())
}

// MustStart is New with Logf defaulting to tb.Logf and Close registered with tb.Cleanup.
func MustStart(tb TB, opts Options) *Server {
	tb.Helper()
	if opts.Logf == nil {
		opts.Logf = tb.Logf
	}
	s := New(opts)
	tb.Cleanup(s.Close)
	return s
}

// Forget drops most of what the server recorded so far, for runs too long
// to keep it all (the benchmark's soak sends 60,000 commands, whose calls
// and messages made the garbage collector of the process that runs the
// fake, and so the timings it takes, slower as the run went on): the calls
// (CallCount and WaitCount still count them; Calls and WaitCall no longer
// see them), the acks and the envelopes acknowledged, and the messages,
// channel and ephemeral, with what the page knew of them, so that a
// message forgotten can no longer be edited. Envelopes not yet acknowledged
// stay, and an Envelope already handed out still returns its ack.
func (s *Server) Forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.callBase += len(s.calls)
	s.calls, s.acks = nil, nil
	var kept []*envelope
	for _, e := range s.envOrder {
		if e.ack == nil {
			kept = append(kept, e)
			continue
		}
		delete(s.envelopes, e.id)
	}
	s.envOrder = kept
	for _, k := range s.msgOrder {
		delete(s.revs, k.item(kindMessage))
	}
	for _, k := range s.ephOrder {
		delete(s.revs, k.item(kindEphemeral))
	}
	clear(s.msgs)
	clear(s.ephemerals)
	s.msgOrder, s.ephOrder = nil, nil
}

// Conns returns how many TCP connections the server accepted: a client
// that keeps its connections alive opens few.
func (s *Server) Conns() int64 { return s.tcpConns.Load() }

// URL is the server's base URL, e.g. http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.url }

// APIURL is the Web API endpoint with its trailing slash, as slack.OptionAPIURL and SLACK_API_URL need it.
func (s *Server) APIURL() string { return s.url + "/api/" }

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
	// Shutdown waits for the requests in flight; sockets are hijacked, closed above and waited for by wg.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := s.http.Shutdown(ctx); err != nil {
		_ = s.http.Close()
	}
	cancel()
	<-s.served
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

// appendCallLocked records c; s.mu must be held.
func (s *Server) appendCallLocked(c Call) {
	s.calls = append(s.calls, c)
	s.counts[c.Method]++
	s.notifyLocked()
}

// nextIDLocked returns a fresh sequence number; s.mu must be held.
func (s *Server) nextIDLocked() int {
	s.seq++
	return s.seq
}

// AllScopes lists every bot scope: the ones MethodScopes names, and
// commands. The playground grants them all.
func AllScopes() []string {
	set := map[string]bool{"commands": true}
	for _, sc := range methodScopes {
		if sc != "" {
			set[sc] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

func (s *Server) grantedScopes() string {
	granted := slices.Sorted(maps.Keys(s.scopes))
	return strings.Join(granted, ",")
}

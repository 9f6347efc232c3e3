package fakeslack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// slackOrigin is the Origin header slack-go sends on the WebSocket dial.
const slackOrigin = "https://api.slack.com"

const writeTimeout = 5 * time.Second

// errQuiet means the socket must not be written to any more (disconnect sent, or broken).
var errQuiet = errors.New("fakeslack: socket is quiet")

type conn struct {
	id  int
	ws  *websocket.Conn
	wmu sync.Mutex // serialises every write on ws
	// ready and quiet are guarded by Server.mu. Disconnect sets quiet while
	// holding wmu, so no writer can slip a frame in after the disconnect frame.
	ready bool // hello written
	quiet bool // disconnect sent, write failed or reader ended
	done  chan struct{}
}

// AckFrame is one frame the app sent on a socket: {"envelope_id", "payload"?}.
type AckFrame struct {
	EnvelopeID string
	Payload    json.RawMessage // nil when the ack had no payload
	At         time.Time
	Conn       int // connection the ack arrived on
}

// Envelope is one envelope the server delivered. Its fields never change.
type Envelope struct {
	ID          string
	Type        string // slash_commands, interactive, events_api, or SendRaw's type
	Payload     json.RawMessage
	SentAt      time.Time
	Conn        int    // connection it was written to
	ResponseURL string // "" when the envelope has none
	TriggerID   string // "" when the envelope has none

	s  *Server
	st *envelope
}

// envelope is the mutable side of an Envelope; guarded by Server.mu.
type envelope struct {
	id    string
	pub   *Envelope // nil until delivered
	ack   *AckFrame
	acked chan struct{}
	// onAck, if set, applies what the first ack's payload asks for; it is
	// called with Server.mu held.
	onAck func(payload json.RawMessage)
}

// Ack waits for the first ack of the envelope. It returns ctx's error, or
// ErrClosed if the server closes first.
func (e *Envelope) Ack(ctx context.Context) (AckFrame, error) {
	select {
	case <-e.st.acked:
	case <-ctx.Done():
	case <-e.s.stop:
	}
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	if e.st.ack != nil {
		return *e.st.ack, nil
	}
	if ctx.Err() != nil {
		return AckFrame{}, fmt.Errorf("wait for ack of %s: %w", e.ID, ctx.Err())
	}
	return AckFrame{}, ErrClosed
}

// Acked reports whether the envelope has been acked.
func (e *Envelope) Acked() bool {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	return e.st.ack != nil
}

func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	s.mu.Lock()
	s.origins = append(s.origins, origin)
	s.mu.Unlock()
	if origin != slackOrigin {
		s.logf("websocket dial with Origin %q, slack-go sends %q", origin, slackOrigin)
	}
	return true
}

// Origins lists the Origin header of every WebSocket upgrade, in order.
func (s *Server) Origins() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.origins)
}

func (s *Server) serveLink(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "server closed", http.StatusServiceUnavailable)
		return
	}
	if !s.tickets[ticket] {
		s.mu.Unlock()
		s.logf("websocket dial with unknown or used ticket")
		http.Error(w, "invalid ticket", http.StatusUnauthorized)
		return
	}
	delete(s.tickets, ticket)
	// Hijacked connections are not waited for by http.Server.Shutdown.
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.logf("websocket upgrade: %v", err)
		return
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.Close()
		return
	}
	c := &conn{id: s.nextIDLocked(), ws: ws, done: make(chan struct{})}
	s.conns = append(s.conns, c)
	n := 1
	for _, o := range s.conns {
		if o.ready && !o.quiet {
			n++
		}
	}
	s.mu.Unlock()

	s.runConn(c, n)
}

// runConn sends hello, starts the pinger and reads acks until the socket ends.
func (s *Server) runConn(c *conn, numConnections int) {
	defer func() {
		s.mu.Lock()
		c.quiet = true
		s.conns = slices.DeleteFunc(s.conns, func(o *conn) bool { return o == c })
		s.notifyLocked()
		s.mu.Unlock()
		close(c.done)
		_ = c.ws.Close()
		s.logf("conn %d: closed", c.id)
	}()

	s.setControlHandlers(c)
	hello, _ := json.Marshal(map[string]any{
		"type":            "hello",
		"num_connections": numConnections,
		"debug_info": map[string]any{
			"host":                        fmt.Sprintf("applink-fakeslack-%d", c.id),
			"build_number":                1,
			"approximate_connection_time": 18060,
		},
		"connection_info": map[string]any{"app_id": AppID},
	})
	if err := s.writeFrame(c, websocket.TextMessage, hello, false); err != nil {
		s.logf("conn %d: write hello: %v", c.id, err)
		return
	}
	s.mu.Lock()
	c.ready = true
	closed := s.closed
	if !closed {
		s.wg.Add(1)
	}
	s.notifyLocked()
	s.mu.Unlock()
	if closed {
		return
	}
	s.logf("conn %d: hello sent", c.id)
	go s.pinger(c)

	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return // slack-go closes without a close frame: any read error ends the connection
		}
		s.handleFrame(c, data)
	}
}

// setControlHandlers answers pings, counts pongs and echoes close frames,
// as Slack does.
func (s *Server) setControlHandlers(c *conn) {
	c.ws.SetPingHandler(func(data string) error {
		return s.writeFrame(c, websocket.PongMessage, []byte(data), false)
	})
	c.ws.SetPongHandler(func(string) error {
		s.mu.Lock()
		s.pongs++
		s.notifyLocked()
		s.mu.Unlock()
		return nil
	})
	c.ws.SetCloseHandler(func(code int, _ string) error {
		_ = s.writeFrame(c, websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), true)
		return nil
	})
}

func (s *Server) pinger(c *conn) {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-s.stop:
			return
		case <-t.C:
			if err := s.writeFrame(c, websocket.PingMessage, []byte("fakeslack"), false); err != nil {
				return
			}
		}
	}
}

// writeFrame writes one frame unless the socket is quiet. last makes the
// socket quiet after this frame (the disconnect frame).
func (s *Server) writeFrame(c *conn, kind int, data []byte, last bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	s.mu.Lock()
	quiet := c.quiet
	s.mu.Unlock()
	if quiet {
		return errQuiet
	}
	deadline := time.Now().Add(writeTimeout)
	var err error
	switch kind {
	case websocket.TextMessage:
		_ = c.ws.SetWriteDeadline(deadline)
		err = c.ws.WriteMessage(kind, data)
	default:
		err = c.ws.WriteControl(kind, data, deadline)
	}
	if err != nil || last {
		s.mu.Lock()
		c.quiet = true
		s.notifyLocked()
		s.mu.Unlock()
	}
	if err != nil {
		_ = c.ws.Close()
		return fmt.Errorf("write on conn %d: %w", c.id, err)
	}
	return nil
}

func (s *Server) handleFrame(c *conn, data []byte) {
	var f struct {
		EnvelopeID string          `json:"envelope_id"`
		Payload    json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		s.logf("conn %d: unparsable frame from app: %v", c.id, err)
		return
	}
	if string(f.Payload) == "null" {
		f.Payload = nil
	}
	ack := AckFrame{EnvelopeID: f.EnvelopeID, Payload: f.Payload, At: s.now(), Conn: c.id}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acks = append(s.acks, ack)
	s.notifyLocked()
	e, ok := s.envelopes[f.EnvelopeID]
	switch {
	case !ok:
		s.logf("conn %d: ack for unknown envelope %q", c.id, f.EnvelopeID)
	case e.ack != nil:
		s.logf("conn %d: duplicate ack for envelope %s", c.id, f.EnvelopeID)
	default:
		e.ack = &ack
		close(e.acked)
		if e.onAck != nil {
			e.onAck(ack.Payload)
		}
	}
}

// Acks lists every frame the app sent, in arrival order, including duplicate
// acks and acks for unknown envelopes.
func (s *Server) Acks() []AckFrame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.acks)
}

// Unacked lists the delivered envelopes that have not been acked yet.
func (s *Server) Unacked() []*Envelope {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Envelope
	for _, e := range s.envOrder {
		if e.pub != nil && e.ack == nil {
			out = append(out, e.pub)
		}
	}
	return out
}

// Connections counts live sockets: hello sent and no disconnect sent.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.liveLocked()
}

func (s *Server) liveLocked() int {
	n := 0
	for _, c := range s.conns {
		if c.ready && !c.quiet {
			n++
		}
	}
	return n
}

// Opens counts apps.connections.open calls, failed ones included.
func (s *Server) Opens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opens
}

// Pongs counts pongs received for the server's pings, over all sockets.
func (s *Server) Pongs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pongs
}

// WaitConnected waits until at least n sockets are live. It returns ctx's error or ErrClosed.
func (s *Server) WaitConnected(ctx context.Context, n int) error {
	if err := s.waitFor(ctx, func() bool { return s.liveLocked() >= n }); err != nil {
		return fmt.Errorf("wait for %d connections: %w", n, err)
	}
	return nil
}

// WaitPongs waits until at least n pongs have been received in total.
func (s *Server) WaitPongs(ctx context.Context, n int) error {
	if err := s.waitFor(ctx, func() bool { return s.pongs >= n }); err != nil {
		return fmt.Errorf("wait for %d pongs: %w", n, err)
	}
	return nil
}

// Disconnect sends {"type":"disconnect","reason":reason} on every live socket;
// nothing more is written to those sockets afterwards. It does not wait for the app to reconnect.
func (s *Server) Disconnect(reason string) {
	frame, _ := json.Marshal(map[string]any{
		"type":       "disconnect",
		"reason":     reason,
		"debug_info": map[string]any{"host": "applink-fakeslack"},
	})
	for _, c := range s.liveConns() {
		if err := s.writeFrame(c, websocket.TextMessage, frame, true); err != nil {
			s.logf("conn %d: disconnect: %v", c.id, err)
			continue
		}
		s.logf("conn %d: disconnect %q sent", c.id, reason)
	}
}

// Drop closes every socket abruptly (TCP close, no close frame).
func (s *Server) Drop() {
	s.mu.Lock()
	conns := slices.Clone(s.conns)
	// Stop counting them as live now, not when their readers notice.
	for _, c := range conns {
		c.quiet = true
	}
	s.notifyLocked()
	s.mu.Unlock()
	for _, c := range conns {
		s.logf("conn %d: dropping", c.id)
		_ = c.ws.Close()
	}
}

func (s *Server) liveConns() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*conn
	for _, c := range s.conns {
		if c.ready && !c.quiet {
			out = append(out, c)
		}
	}
	return out
}

// SendFrame writes frame verbatim on one live socket (round-robin), waiting
// for one if none is live. For hostile-input tests.
func (s *Server) SendFrame(ctx context.Context, frame []byte) error {
	_, _, err := s.writeAny(ctx, frame)
	return err
}

// writeAny writes frame on the next live socket in round-robin order, waiting
// for a socket while none is live. It returns the socket's id and the time of the write.
func (s *Server) writeAny(ctx context.Context, frame []byte) (int, time.Time, error) {
	for {
		var c *conn
		err := s.waitFor(ctx, func() bool {
			live := make([]*conn, 0, len(s.conns))
			for _, o := range s.conns {
				if o.ready && !o.quiet {
					live = append(live, o)
				}
			}
			if len(live) == 0 {
				return false
			}
			c = live[s.rr%len(live)]
			s.rr++
			return true
		})
		if err != nil {
			return 0, time.Time{}, fmt.Errorf("wait for a live connection: %w", err)
		}
		at := s.now()
		err = s.writeFrame(c, websocket.TextMessage, frame, false)
		if err == nil {
			return c.id, at, nil
		}
		s.logf("conn %d: %v; trying another connection", c.id, err)
	}
}

// deliver registers an envelope, writes it and returns it once written.
func (s *Server) deliver(ctx context.Context, typ string, payload json.RawMessage, responseURL, triggerID string,
	onAck func(json.RawMessage),
) (*Envelope, error) {
	s.mu.Lock()
	n := s.nextIDLocked()
	st := &envelope{
		id:    fmt.Sprintf("%08x-fa4e-4e5e-8a4e-%012x", n*2654435761%(1<<32), n),
		acked: make(chan struct{}),
		onAck: onAck,
	}
	s.envelopes[st.id] = st
	s.envOrder = append(s.envOrder, st)
	s.mu.Unlock()

	head, _ := json.Marshal(struct {
		EnvelopeID             string `json:"envelope_id"`
		Type                   string `json:"type"`
		AcceptsResponsePayload bool   `json:"accepts_response_payload"`
		RetryAttempt           int    `json:"retry_attempt"`
		RetryReason            string `json:"retry_reason"`
	}{st.id, typ, typ != "events_api", 0, ""})
	// Built by hand so SendRaw can deliver a payload that is not valid JSON.
	frame := head
	if payload != nil {
		frame = append(head[:len(head)-1], `,"payload":`...)
		frame = append(frame, payload...)
		frame = append(frame, '}')
	}

	connID, sentAt, err := s.writeAny(ctx, frame)
	if err != nil {
		return nil, fmt.Errorf("deliver %s envelope: %w", typ, err)
	}
	pub := &Envelope{
		ID: st.id, Type: typ, Payload: payload, SentAt: sentAt, Conn: connID,
		ResponseURL: responseURL, TriggerID: triggerID, s: s, st: st,
	}
	s.mu.Lock()
	st.pub = pub
	s.mu.Unlock()
	s.logf("conn %d: %s envelope %s sent", connID, typ, st.id)
	return pub, nil
}

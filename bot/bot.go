// Package bot is releasebot's Slack transport: Socket Mode in, Web API out.
package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// Command is a slash command, as the handlers need it.
type Command struct {
	EnvelopeID  string
	Command     string // "/release"
	Text        string
	UserID      string
	ChannelID   string
	TeamID      string
	TriggerID   string
	ResponseURL string
}

// Action is one click on a button of a message.
type Action struct {
	EnvelopeID  string
	ActionID    string
	BlockID     string
	Value       string
	UserID      string
	ChannelID   string
	MessageTS   string
	TriggerID   string
	ResponseURL string
	Ephemeral   bool // the message clicked was ephemeral: update it through ResponseURL only
}

// Submission is a submitted modal.
type Submission struct {
	EnvelopeID      string
	CallbackID      string
	PrivateMetadata string
	UserID          string
	// Values maps block_id, then action_id, to the value typed or chosen.
	Values map[string]map[string]string
}

// Handler receives normalised Slack input, each call on a worker of a
// bounded pool, after the envelope has been acknowledged.
type Handler interface {
	HandleCommand(ctx context.Context, c Command)
	HandleAction(ctx context.Context, a Action)
	HandleSubmission(ctx context.Context, s Submission)
}

// HomeHandler is a Handler that also shows the App Home tab: HandleHome is
// called when userID opens it.
type HomeHandler interface {
	HandleHome(ctx context.Context, envelopeID, userID string)
}

// Config configures a Bot.
type Config struct {
	BotToken   string
	AppToken   string
	APIURL     string // must end with "/"
	HTTPClient *http.Client
	Workers    int // most handler calls at once (default 1024)
	// Queue is how many acknowledged envelopes may wait for a free slot
	// (default 1024). When it is full, the read loop waits with the envelope
	// it has just acknowledged: later ones are neither read nor acknowledged
	// until a slot frees.
	Queue      int
	DrainLimit time.Duration // how long Run waits for in-flight work at shutdown (default 10 s)
	// PingInterval is how long the socket may go without a ping from Slack
	// before it is considered dead (default slack-go's 30 s).
	PingInterval time.Duration
	// OnAck, when set, is told how long each acknowledgement took from the
	// envelope's arrival on the read loop (metrics).
	OnAck func(time.Duration)
	// OnReconnect, when set, is called each time the socket is up again
	// after the first connection (metrics).
	OnReconnect func()
}

// Bot connects to Slack with Socket Mode, acknowledges every envelope at
// once and hands the work to a bounded pool. It also sends replies.
type Bot struct {
	cfg       Config
	log       zerolog.Logger
	api       *slack.Client
	socket    *socketmode.Client
	connected atomic.Bool
	everUp    bool // touched by the read loop only
}

// New returns a Bot; it does not dial. Run connects.
func New(cfg Config, log zerolog.Logger) *Bot {
	if cfg.Workers <= 0 {
		// Handlers mostly wait on ServiceStage (seconds): many may wait at
		// once, and an idle slot costs nothing.
		cfg.Workers = 1024
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 1024
	}
	if cfg.DrainLimit <= 0 {
		cfg.DrainLimit = 10 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	api := slack.New(cfg.BotToken,
		slack.OptionAppLevelToken(cfg.AppToken),
		slack.OptionAPIURL(cfg.APIURL),
		slack.OptionHTTPClient(NewEcholess(cfg.HTTPClient)),
	)
	var opts []socketmode.Option
	if cfg.PingInterval > 0 {
		opts = append(opts, socketmode.OptionPingInterval(cfg.PingInterval))
	}
	return &Bot{cfg: cfg, log: log, api: api, socket: socketmode.New(api, opts...)}
}

// Connected reports whether the socket is up.
func (b *Bot) Connected() bool { return b.connected.Load() }

// Run connects and serves h until ctx is done. Then it stops reading
// envelopes, lets in-flight work finish for up to DrainLimit, and returns.
// It returns an error when Slack refuses the app token.
func (b *Bot) Run(ctx context.Context, h Handler) error {
	socketCtx, stopSocket := context.WithCancel(ctx)
	defer stopSocket()
	socketDone := make(chan error, 1)
	go func() { socketDone <- b.socket.RunContext(socketCtx) }()

	// Work outlives ctx by up to DrainLimit, so that a command acknowledged
	// before SIGTERM is still carried out.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	pool := newPool(workCtx, b.log, b.cfg.Workers, b.cfg.Queue)

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-socketDone:
			socketDone <- err
			if err != nil && !errors.Is(err, context.Canceled) {
				runErr = fmt.Errorf("slack socket mode: %w", err)
			}
			break loop
		case evt := <-b.socket.Events:
			b.handle(ctx, evt, h, pool)
		}
	}
	b.connected.Store(false)
	stopSocket()
	<-socketDone

	drained := make(chan struct{})
	go func() { pool.close(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(b.cfg.DrainLimit):
		b.log.Warn().Dur("limit", b.cfg.DrainLimit).Msg("in-flight work did not finish in time; cancelling it")
		stopWork()
		<-drained
	}
	b.cfg.HTTPClient.CloseIdleConnections()
	return runErr
}

// handle runs on the read loop: it acknowledges and queues, nothing more.
func (b *Bot) handle(ctx context.Context, evt socketmode.Event, h Handler, pool *pool) {
	switch evt.Type {
	case socketmode.EventTypeConnected, socketmode.EventTypeHello:
		if !b.connected.Swap(true) {
			b.log.Info().Bool("reconnect", b.everUp).Msg("connected to Slack")
			if b.everUp && b.cfg.OnReconnect != nil {
				b.cfg.OnReconnect()
			}
			b.everUp = true
		}
		return
	case socketmode.EventTypeConnecting, socketmode.EventTypeConnectionError, socketmode.EventTypeDisconnect:
		if b.connected.Swap(false) {
			b.log.Warn().Str("event", string(evt.Type)).Msg("Slack connection lost; reconnecting")
		}
		return
	case socketmode.EventTypeInvalidAuth:
		b.log.Error().Msg("Slack rejected the app token")
		return
	case socketmode.EventTypeErrorBadMessage:
		b.ackUnreadable(ctx, evt.Data)
		return
	}
	if evt.Request == nil {
		return
	}
	b.ack(ctx, evt.Request.EnvelopeID)
	b.dispatch(ctx, pool, h, evt.Request.EnvelopeID, evt.Data)
}

// dispatch turns the payload of the acknowledged envelope id into plain
// structs and queues the handler calls for them.
func (b *Bot) dispatch(ctx context.Context, pool *pool, h Handler, id string, data any) {
	switch data := data.(type) {
	case slack.SlashCommand:
		c := Command{
			EnvelopeID: id, Command: data.Command, Text: data.Text, UserID: data.UserID, ChannelID: data.ChannelID,
			TeamID: data.TeamID, TriggerID: data.TriggerID, ResponseURL: data.ResponseURL,
		}
		b.submit(ctx, pool, id, func(ctx context.Context) { h.HandleCommand(ctx, c) })
	case slack.InteractionCallback:
		switch data.Type {
		case slack.InteractionTypeBlockActions:
			for _, ba := range data.ActionCallback.BlockActions {
				a := Action{
					EnvelopeID: id, ActionID: ba.ActionID, BlockID: ba.BlockID, Value: ba.Value,
					UserID: data.User.ID, ChannelID: data.Channel.ID, MessageTS: data.Container.MessageTs,
					TriggerID: data.TriggerID, ResponseURL: data.ResponseURL, Ephemeral: data.Container.IsEphemeral,
				}
				if a.ChannelID == "" {
					a.ChannelID = data.Container.ChannelID
				}
				b.submit(ctx, pool, id, func(ctx context.Context) { h.HandleAction(ctx, a) })
			}
		case slack.InteractionTypeViewSubmission:
			s := Submission{
				EnvelopeID: id, CallbackID: data.View.CallbackID, PrivateMetadata: data.View.PrivateMetadata,
				UserID: data.User.ID, Values: map[string]map[string]string{},
			}
			if data.View.State != nil {
				for block, actions := range data.View.State.Values {
					s.Values[block] = map[string]string{}
					for action, v := range actions {
						s.Values[block][action] = v.Value
					}
				}
			}
			b.submit(ctx, pool, id, func(ctx context.Context) { h.HandleSubmission(ctx, s) })
		}
	case slackevents.EventsAPIEvent:
		b.dispatchEvent(ctx, pool, h, id, data)
	}
}

// dispatchEvent queues the Events API events the bot uses: the App Home
// tab opened.
func (b *Bot) dispatchEvent(ctx context.Context, pool *pool, h Handler, id string, e slackevents.EventsAPIEvent) {
	home, ok := h.(HomeHandler)
	if !ok {
		return
	}
	if ev, ok := e.InnerEvent.Data.(*slackevents.AppHomeOpenedEvent); ok && ev.Tab == "home" {
		user := ev.User
		b.submit(ctx, pool, id, func(ctx context.Context) { home.HandleHome(ctx, id, user) })
	}
}

// ack acknowledges the envelope id.
func (b *Bot) ack(ctx context.Context, id string) {
	arrived := time.Now()
	// Ack queues on slack-go's sender, which waits while it reconnects; the
	// bound keeps the read loop from hanging on it.
	ackCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := b.socket.AckCtx(ackCtx, id, nil)
	cancel()
	if err != nil {
		b.log.Warn().Err(err).Str("envelope_id", id).Msg("ack failed")
	} else if b.cfg.OnAck != nil {
		b.cfg.OnAck(time.Since(arrived))
	}
}

// ackUnreadable acknowledges an envelope slack-go could not read (a type it
// does not know, a payload of the wrong shape): no handler can use it, and
// unacknowledged, Slack would send it again and show the user an error.
func (b *Bot) ackUnreadable(ctx context.Context, data any) {
	bad, ok := data.(*socketmode.ErrorBadMessage)
	if !ok {
		return
	}
	var head struct {
		EnvelopeID string `json:"envelope_id"`
		Type       string `json:"type"`
	}
	if json.Unmarshal(bad.Message, &head) != nil || head.EnvelopeID == "" {
		return
	}
	// The payload is not logged: it may hold what a user typed.
	b.log.Warn().Str("envelope_id", head.EnvelopeID).Str("type", head.Type).Msg("unreadable envelope acknowledged and dropped")
	b.ack(ctx, head.EnvelopeID)
}

// pool runs each submitted job on a goroutine, at most limit at once; jobs
// beyond that wait in a bounded queue, and submit blocks while the queue is
// full: back-pressure instead of unbounded goroutines. A goroutine whose job
// ends takes the next one waiting, if any, and otherwise ends: idle, the pool
// holds one goroutine.
type pool struct {
	jobs chan func(context.Context)
	done chan struct{}
}

func newPool(ctx context.Context, log zerolog.Logger, limit, queue int) *pool {
	p := &pool{jobs: make(chan func(context.Context), queue), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		var running sync.WaitGroup
		slots := make(chan struct{}, limit)
		for {
			// A slot first, then a job: a job taken before its slot would
			// wait outside the queue, one more than Queue allows.
			slots <- struct{}{}
			job, ok := <-p.jobs
			if !ok {
				break
			}
			running.Go(func() {
				defer func() { <-slots }()
				for {
					run(ctx, log, job)
					// A job already waiting runs here, on a stack grown to a
					// handler's depth, rather than on a new goroutine that
					// grows its own again (stack growth was 5 to 7 % of the bot's CPU
					// under load, by perf).
					select {
					case next, ok := <-p.jobs:
						if !ok {
							return
						}
						job = next
					default:
						return
					}
				}
			})
		}
		running.Wait()
	}()
	return p
}

// run calls job; a panic is logged and the pool lives on.
func run(ctx context.Context, log zerolog.Logger, job func(context.Context)) {
	defer func() {
		if r := recover(); r != nil {
			// As text: most panic values are errors (runtime ones included),
			// which JSON renders as {}.
			log.Error().Str("panic", fmt.Sprint(r)).Str("stack", string(debug.Stack())).Msg("handler panicked")
		}
	}()
	job(ctx)
}

func (p *pool) submit(ctx context.Context, job func(context.Context)) bool {
	// Room first: select picks at random among ready cases, and an
	// envelope acknowledged just before shutdown would otherwise be
	// dropped half the time, the queue not full (TestDrainLimit caught
	// it, once in many runs).
	select {
	case p.jobs <- job:
		return true
	default:
	}
	select {
	case p.jobs <- job:
		return true
	case <-ctx.Done():
		return false
	}
}

// submit queues the work of an acknowledged envelope; one that cannot be
// queued because shutdown began is logged, not silently lost.
func (b *Bot) submit(ctx context.Context, p *pool, envelope string, job func(context.Context)) {
	if !p.submit(ctx, job) {
		b.log.Warn().Str("envelope_id", envelope).Msg("shutting down with the queue full: acknowledged envelope dropped")
	}
}

// close stops taking work and waits for the queued and running jobs.
func (p *pool) close() {
	close(p.jobs)
	<-p.done
}

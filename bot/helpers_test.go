package bot_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/releasebot/releasebot/bot"
	"github.com/releasebot/releasebot/internal/fakeslack"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitTimeout bounds every wait of a test; nothing here waits on a clock.
const waitTimeout = 15 * time.Second

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// logBuffer collects the bot's log and tells when a line containing a text
// has been written.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func newLogBuffer() *logBuffer { return &logBuffer{changed: make(chan struct{})} }

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	close(l.changed)
	l.changed = make(chan struct{})
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// line waits for the first log line that contains every one of texts.
func (l *logBuffer) line(t *testing.T, ctx context.Context, texts ...string) string {
	t.Helper()
	for {
		l.mu.Lock()
		for line := range strings.Lines(l.buf.String()) {
			if containsAll(line, texts) {
				l.mu.Unlock()
				return line
			}
		}
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("no log line with %q: %v\nlog:\n%s", texts, ctx.Err(), l.String())
		}
	}
}

func containsAll(s string, texts []string) bool {
	for _, x := range texts {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}

// handler is a bot.Handler that reports every call as it starts, then runs
// do (when set) with the call's context and input.
type handler struct {
	started chan any // bot.Command, bot.Action or bot.Submission
	do      func(ctx context.Context, in any)
}

func newHandler(do func(ctx context.Context, in any)) *handler {
	return &handler{started: make(chan any, 1024), do: do}
}

func (h *handler) HandleCommand(ctx context.Context, c bot.Command)       { h.handle(ctx, c) }
func (h *handler) HandleAction(ctx context.Context, a bot.Action)         { h.handle(ctx, a) }
func (h *handler) HandleSubmission(ctx context.Context, s bot.Submission) { h.handle(ctx, s) }

func (h *handler) handle(ctx context.Context, in any) {
	h.started <- in
	if h.do != nil {
		h.do(ctx, in)
	}
}

// next waits for the next call to start and returns its input.
func (h *handler) next(t *testing.T, ctx context.Context) any {
	t.Helper()
	select {
	case in := <-h.started:
		return in
	case <-ctx.Done():
		t.Fatalf("waiting for a handler call: %v", ctx.Err())
		return nil
	}
}

// nextCommand waits for the next call and requires it to be a command.
func (h *handler) nextCommand(t *testing.T, ctx context.Context) bot.Command {
	t.Helper()
	in := h.next(t, ctx)
	c, ok := in.(bot.Command)
	require.True(t, ok, "got %#v, want a bot.Command", in)
	return c
}

// gate holds handler calls until the test lets them go; a call also ends
// when its context is cancelled, so that a failed test cannot hang the drain.
type gate struct {
	mu    sync.Mutex
	open  map[string]chan struct{} // by text of the command
	inUse atomic.Int32
	most  atomic.Int32 // highest inUse seen
}

func newGate() *gate { return &gate{open: map[string]chan struct{}{}} }

func (g *gate) ch(text string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	ch, ok := g.open[text]
	if !ok {
		ch = make(chan struct{})
		g.open[text] = ch
	}
	return ch
}

// release lets the call for the command with text go (before or after it starts).
func (g *gate) release(text string) { close(g.ch(text)) }

// hold blocks a command's call until release(text) or ctx is done; it
// returns ctx.Err() as the call saw it.
func (g *gate) hold(ctx context.Context, in any) error {
	n := g.inUse.Add(1)
	defer g.inUse.Add(-1)
	for {
		most := g.most.Load()
		if n <= most || g.most.CompareAndSwap(most, n) {
			break
		}
	}
	select {
	case <-g.ch(in.(bot.Command).Text):
		return ctx.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// harness runs a real bot.Bot (slack-go Socket Mode) against fakeslack.
type harness struct {
	slack *fakeslack.Server
	bot   *bot.Bot
	log   *logBuffer
	ctx   context.Context // the test's deadline
	acks  atomic.Int32    // OnAck calls
	stop  context.CancelFunc
	done  chan struct{} // closed when Run has returned
	err   error         // Run's result, once done
}

// start runs a bot with cfg (tokens, URL and HTTP client filled in) serving h
// until stop is called or the test ends; cleanup waits for Run to return.
func start(t *testing.T, cfg bot.Config, h bot.Handler) *harness {
	t.Helper()
	return startWith(t, fakeslack.Options{}, cfg, h)
}

// startWith is start with a fake Slack configured by opts.
func startWith(t *testing.T, opts fakeslack.Options, cfg bot.Config, h bot.Handler) *harness {
	t.Helper()
	hs := &harness{slack: fakeslack.MustStart(t, opts), log: newLogBuffer(), ctx: testContext(t)}
	if cfg.BotToken == "" {
		cfg.BotToken = fakeslack.DefaultBotToken
	}
	if cfg.AppToken == "" {
		cfg.AppToken = fakeslack.DefaultAppToken
	}
	cfg.APIURL = hs.slack.APIURL()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	cfg.HTTPClient = &http.Client{Transport: tr}
	if cfg.DrainLimit == 0 {
		cfg.DrainLimit = waitTimeout
	}
	if cfg.OnAck == nil {
		cfg.OnAck = func(d time.Duration) {
			if d >= 0 {
				hs.acks.Add(1)
			}
		}
	}
	hs.bot = bot.New(cfg, zerolog.New(hs.log))

	runCtx, stop := context.WithCancel(context.Background())
	hs.stop, hs.done = stop, make(chan struct{})
	go func() {
		defer close(hs.done)
		hs.err = hs.bot.Run(runCtx, h)
	}()
	t.Cleanup(func() {
		stop()
		select {
		case <-hs.done:
		case <-time.After(2 * waitTimeout):
			t.Errorf("Run did not return\nlog:\n%s", hs.log.String())
		}
	})
	return hs
}

// shutdown cancels Run's context and waits for Run to return its error.
func (hs *harness) shutdown(t *testing.T) error {
	t.Helper()
	hs.stop()
	return hs.wait(t)
}

// wait waits for Run to return its error.
func (hs *harness) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-hs.done:
		return hs.err
	case <-hs.ctx.Done():
		t.Fatalf("Run did not return: %v\nlog:\n%s", hs.ctx.Err(), hs.log.String())
		return nil
	}
}

// returned reports, without waiting, whether Run has returned.
func (hs *harness) returned() bool {
	select {
	case <-hs.done:
		return true
	default:
		return false
	}
}

// command delivers a slash command whose text is text.
func (hs *harness) command(t *testing.T, text string) *fakeslack.Envelope {
	t.Helper()
	env, err := hs.slack.SendSlashCommand(hs.ctx, fakeslack.SlashCommand{Text: text})
	require.NoError(t, err)
	return env
}

// ack waits for env's acknowledgement.
func (hs *harness) ack(t *testing.T, env *fakeslack.Envelope) fakeslack.AckFrame {
	t.Helper()
	ack, err := env.Ack(hs.ctx)
	require.NoError(t, err, "log:\n%s", hs.log.String())
	return ack
}

// connected waits until the bot reports its socket up.
func (hs *harness) connected(t *testing.T) {
	t.Helper()
	require.NoError(t, hs.slack.WaitConnected(hs.ctx, 1))
	require.Eventually(t, hs.bot.Connected, waitTimeout, time.Millisecond, "Connected() never became true")
}

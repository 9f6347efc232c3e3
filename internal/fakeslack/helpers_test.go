package fakeslack_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/releasebot/releasebot/internal/fakeslack"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const waitTimeout = 15 * time.Second

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// bot is the real slack-go Socket Mode client, run against the fake.
type bot struct {
	api    *slack.Client
	client *socketmode.Client
	events chan socketmode.Event
	runErr chan error // RunContext's result
}

type botConfig struct {
	appToken string
	smOpts   []socketmode.Option
}

// startBot runs slack-go's Socket Mode client against s until the test ends.
// Its cleanup cancels RunContext, waits for it and closes idle HTTP
// connections, so goleak sees no slack-go goroutines.
func startBot(t *testing.T, s *fakeslack.Server, cfg botConfig) *bot {
	t.Helper()
	b := newAPIBot(t, s, fakeslack.DefaultBotToken, cfg.appToken)
	b.client = socketmode.New(b.api, cfg.smOpts...)
	b.events = make(chan socketmode.Event, 64)
	b.runErr = make(chan error, 1)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { b.runErr <- b.client.RunContext(ctx) })
	wg.Go(func() {
		for {
			select {
			case evt := <-b.client.Events:
				select {
				case b.events <- evt:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return b
}

// newAPIBot is a Web API client only, with its own transport whose idle
// connections are closed at cleanup.
func newAPIBot(t *testing.T, s *fakeslack.Server, botToken, appToken string) *bot {
	t.Helper()
	if appToken == "" {
		appToken = fakeslack.DefaultAppToken
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &bot{api: slack.New(botToken,
		slack.OptionAppLevelToken(appToken),
		slack.OptionAPIURL(s.APIURL()),
		slack.OptionHTTPClient(&http.Client{Transport: tr}),
	)}
}

// next returns the next event of type typ, skipping others.
func (b *bot) next(t *testing.T, ctx context.Context, typ socketmode.EventType) socketmode.Event {
	t.Helper()
	for {
		select {
		case evt := <-b.events:
			if evt.Type == typ {
				return evt
			}
		case <-ctx.Done():
			t.Fatalf("waiting for %s event: %v", typ, ctx.Err())
		}
	}
}

func (b *bot) ack(t *testing.T, evt socketmode.Event, payload ...any) {
	t.Helper()
	require.NotNil(t, evt.Request, "event %s has no request", evt.Type)
	require.NoError(t, b.client.Ack(*evt.Request, payload...))
}

func startConnected(t *testing.T, opts fakeslack.Options) (*fakeslack.Server, *bot, context.Context) {
	t.Helper()
	ctx := testContext(t)
	s := fakeslack.MustStart(t, opts)
	b := startBot(t, s, botConfig{})
	require.NoError(t, s.WaitConnected(ctx, 1))
	return s, b, ctx
}

func approvalBlocks() []slack.Block {
	return []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "Approval needed", false, true), nil, nil),
		slack.NewActionBlock("approval",
			slack.NewButtonBlockElement("approve", "prompt-42", slack.NewTextBlockObject("plain_text", "Approve", false, false)),
			slack.NewButtonBlockElement("refuse", "prompt-42", slack.NewTextBlockObject("plain_text", "Refuse", false, false)),
		),
	}
}

// clock is a settable clock for trigger expiry.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func modal(title string, metadata string, blocks ...slack.Block) slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		Title:           slack.NewTextBlockObject("plain_text", title, false, false),
		PrivateMetadata: metadata,
		Blocks:          slack.Blocks{BlockSet: append([]slack.Block{slack.NewDividerBlock()}, blocks...)},
	}
}

func dividers(n int) []slack.Block {
	out := make([]slack.Block, n)
	for i := range out {
		out[i] = slack.NewDividerBlock()
	}
	return out
}

func section(n int) slack.Block {
	return slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", strings.Repeat("a", n), false, false), nil, nil)
}

func button(valueLen int) slack.Block {
	return slack.NewActionBlock("a", slack.NewButtonBlockElement("approve", strings.Repeat("v", valueLen),
		slack.NewTextBlockObject("plain_text", "Approve", false, false)))
}

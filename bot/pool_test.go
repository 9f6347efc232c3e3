package bot_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/bot"
	"github.com/releasebot/releasebot/internal/fakeslack"
)

// ended is how a held command's call ended.
type ended struct {
	text string
	err  error // the call's ctx.Err() when it ended
}

// held returns a handler whose commands wait on g, and the channel that
// reports each call's end.
func held(g *gate) (*handler, chan ended) {
	ends := make(chan ended, 64)
	h := newHandler(func(ctx context.Context, in any) {
		err := g.hold(ctx, in)
		ends <- ended{in.(bot.Command).Text, err}
	})
	return h, ends
}

func (hs *harness) ended(t *testing.T, ends chan ended) ended {
	t.Helper()
	select {
	case e := <-ends:
		return e
	case <-hs.ctx.Done():
		t.Fatalf("waiting for a call to end: %v", hs.ctx.Err())
		return ended{}
	}
}

// TestWorkersBound: no more than Workers calls run at once; the rest wait
// in the queue, already acknowledged, and start one by one as calls end.
func TestWorkersBound(t *testing.T) {
	const workers, n = 3, 8
	g := newGate()
	h, ends := held(g)
	hs := start(t, bot.Config{Workers: workers, Queue: 16}, h)

	for i := range n {
		hs.ack(t, hs.command(t, fmt.Sprint("c", i)))
	}
	var running []string
	for range workers {
		running = append(running, h.nextCommand(t, hs.ctx).Text)
	}
	assert.Empty(t, h.started, "a call beyond the bound started")
	for range n - workers {
		g.release(running[0])
		assert.Equal(t, running[0], hs.ended(t, ends).text)
		running = append(running[1:], h.nextCommand(t, hs.ctx).Text)
	}
	for _, text := range running {
		g.release(text)
	}
	require.NoError(t, hs.shutdown(t))
	assert.Equal(t, int32(workers), g.most.Load(), "most calls at once")
	assert.Len(t, ends, workers, "every call ended")
	assert.Equal(t, int32(n), hs.acks.Load())
}

// TestBackPressure: with every worker busy and the queue full, the envelope
// that finds the queue full is still acknowledged, but the read loop waits
// with it, so the next one is not acknowledged until a worker is free.
func TestBackPressure(t *testing.T) {
	g := newGate()
	h, ends := held(g)
	hs := startWith(t, fakeslack.Options{PingInterval: 5 * time.Millisecond}, bot.Config{Workers: 1, Queue: 1}, h)

	hs.ack(t, hs.command(t, "one"))
	assert.Equal(t, "one", h.nextCommand(t, hs.ctx).Text)
	hs.ack(t, hs.command(t, "two"))   // queued
	hs.ack(t, hs.command(t, "three")) // finds the queue full
	four := hs.command(t, "four")

	// The socket is read past "four" (pongs answer later pings), so an ack
	// not held back by the full queue would have come by now.
	pongs := hs.slack.Pongs()
	require.NoError(t, hs.slack.WaitPongs(hs.ctx, pongs+3))
	assert.False(t, four.Acked(), "acknowledged while the queue was full")

	g.release("one")
	assert.Equal(t, "one", hs.ended(t, ends).text)
	hs.ack(t, four)
	assert.Equal(t, "two", h.nextCommand(t, hs.ctx).Text)

	order := []string{"two", "three", "four"}
	for i, text := range order {
		g.release(text)
		assert.Equal(t, text, hs.ended(t, ends).text)
		if i+1 < len(order) {
			assert.Equal(t, order[i+1], h.nextCommand(t, hs.ctx).Text, "calls run in the order of their envelopes")
		}
	}
	require.NoError(t, hs.shutdown(t))
}

// TestDroppedAtShutdown: an envelope acknowledged while the queue is full,
// when shutdown begins, is logged as dropped and never handled.
func TestDroppedAtShutdown(t *testing.T) {
	g := newGate()
	h, ends := held(g)
	hs := start(t, bot.Config{Workers: 1, Queue: 1}, h)

	hs.ack(t, hs.command(t, "one"))
	assert.Equal(t, "one", h.nextCommand(t, hs.ctx).Text)
	hs.ack(t, hs.command(t, "two"))
	three := hs.command(t, "three")
	hs.ack(t, three)

	hs.stop()
	line := hs.log.line(t, hs.ctx, "acknowledged envelope dropped", three.ID)
	assert.Contains(t, line, `"level":"warn"`)
	assert.False(t, hs.returned(), "Run returned with a call in flight")

	g.release("one")
	g.release("two")
	require.NoError(t, hs.wait(t))
	assert.Equal(t, ended{"one", nil}, hs.ended(t, ends))
	assert.Equal(t, ended{"two", nil}, hs.ended(t, ends), "queued work is carried out with a live context")
	assert.Equal(t, "two", (<-h.started).(bot.Command).Text)
	assert.Empty(t, h.started, "the dropped envelope was handled")
}

// TestDrain: cancelling Run's context closes the socket at once, then Run
// waits for the running and queued calls, whose context stays live.
func TestDrain(t *testing.T) {
	g := newGate()
	h, ends := held(g)
	hs := start(t, bot.Config{Workers: 1, Queue: 4}, h)

	hs.ack(t, hs.command(t, "one"))
	assert.Equal(t, "one", h.nextCommand(t, hs.ctx).Text)
	hs.ack(t, hs.command(t, "two"))
	hs.ack(t, hs.command(t, "three"))

	hs.stop()
	require.Eventually(t, func() bool { return hs.slack.Connections() == 0 && !hs.bot.Connected() },
		waitTimeout, time.Millisecond, "the socket stays open during the drain")
	assert.False(t, hs.returned(), "Run returned with calls in flight")

	for _, text := range []string{"one", "two", "three"} {
		g.release(text)
		assert.Equal(t, ended{text, nil}, hs.ended(t, ends))
	}
	require.NoError(t, hs.wait(t))
	assert.Equal(t, 1, hs.slack.Opens(), "no reconnection after shutdown began")
	assert.NotContains(t, hs.log.String(), "dropped")
	assert.NotContains(t, hs.log.String(), "did not finish in time")
}

// TestDrainLimit: work still running after DrainLimit has its context
// cancelled, queued work runs with a cancelled context, and Run returns.
func TestDrainLimit(t *testing.T) {
	g := newGate() // never released
	h, ends := held(g)
	hs := start(t, bot.Config{Workers: 1, Queue: 4, DrainLimit: 50 * time.Millisecond}, h)

	hs.ack(t, hs.command(t, "stuck"))
	assert.Equal(t, "stuck", h.nextCommand(t, hs.ctx).Text)
	hs.ack(t, hs.command(t, "queued"))

	require.NoError(t, hs.shutdown(t))
	assert.Equal(t, ended{"stuck", context.Canceled}, hs.ended(t, ends))
	assert.Equal(t, ended{"queued", context.Canceled}, hs.ended(t, ends))
	hs.log.line(t, hs.ctx, "in-flight work did not finish in time", `"limit":50`)
}

// TestPanicRecovered: a handler's panic is logged with its value, whatever
// its type, and the worker it ran on serves the next envelope.
func TestPanicRecovered(t *testing.T) {
	h := newHandler(func(_ context.Context, in any) {
		switch v := in.(type) {
		case bot.Command:
			if v.Text == "boom" {
				_ = []string{}[len(v.Text)] // a runtime error, as real bugs panic
			}
		case bot.Action:
			panic(fmt.Errorf("action %s", v.ActionID))
		}
	})
	hs := start(t, bot.Config{Workers: 1, Queue: 1}, h)

	hs.ack(t, hs.command(t, "boom"))
	click, err := hs.slack.SendClick(hs.ctx, fakeslack.Click{ActionID: "approve", BlockID: "b", Value: "v", MessageTS: "1.2"})
	require.NoError(t, err)
	hs.ack(t, click)
	after := hs.command(t, "after")
	hs.ack(t, after)

	assert.Equal(t, "boom", h.nextCommand(t, hs.ctx).Text)
	assert.Equal(t, click.ID, envelopeID(h.next(t, hs.ctx)))
	assert.Equal(t, after.ID, h.nextCommand(t, hs.ctx).EnvelopeID, "the bot serves on after panics")

	line := hs.log.line(t, hs.ctx, "handler panicked", "index out of range [4] with length 0")
	assert.Contains(t, line, `"level":"error"`)
	assert.Contains(t, line, "bot_test.TestPanicRecovered", "the stack shows where")
	hs.log.line(t, hs.ctx, "handler panicked", `"panic":"action approve"`)
	require.NoError(t, hs.shutdown(t))
}

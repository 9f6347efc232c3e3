package bot

import (
	"context"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
)

// A job is queued whenever the queue has room, even once shutdown has
// cancelled the read loop's context: only a full queue drops it.
func TestSubmitTakesRoomOverACancelledContext(t *testing.T) {
	const queue = 64
	block := make(chan struct{})
	p := newPool(context.Background(), zerolog.Nop(), 1, queue)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	// The only worker holds the first job, so the queue fills and stays full.
	running := make(chan struct{})
	assert.True(t, p.submit(context.Background(), func(context.Context) { close(running); <-block }))
	<-running
	queued := 0
	for range queue {
		if p.submit(cancelled, func(context.Context) {}) {
			queued++
		}
	}
	assert.Equal(t, queue, queued, "jobs queued with room in the queue")
	assert.False(t, p.submit(cancelled, func(context.Context) {}), "a full queue and a cancelled context")
	close(block)
	p.close()
}

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// shutdownTimeout bounds how long Close waits for in-flight requests.
const shutdownTimeout = 5 * time.Second

// Listener is a Server listening on loopback.
type Listener struct {
	// URL is the base URL of the simulator, like "http://127.0.0.1:PORT";
	// API paths start with /v3.
	URL    string
	Server *Server

	srv       *http.Server
	done      chan struct{}
	stopAfter func() bool
	closeOnce sync.Once
	closeErr  error
}

// Listen serves a Server for opts on 127.0.0.1, on a port the system picks,
// until ctx is done or Close is called. It fails when opts is invalid or no
// port can be bound. The caller should call Close when finished, even after
// ctx is done, to release the port and wait for the server to stop.
func Listen(ctx context.Context, opts Options) (*Listener, error) {
	s, err := New(opts)
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sandbox: listen: %w", err)
	}
	l := &Listener{
		URL:    "http://" + ln.Addr().String(),
		Server: s,
		srv:    &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second},
		done:   make(chan struct{}),
	}
	go func() {
		defer close(l.done)
		_ = l.srv.Serve(ln) // always non-nil; ErrServerClosed after Close
	}()
	l.stopAfter = context.AfterFunc(ctx, func() { _ = l.shutdown() })
	return l, nil
}

// Done is closed once the server has stopped, after ctx is done or Close.
func (l *Listener) Done() <-chan struct{} { return l.done }

// Close stops the server, letting in-flight requests finish for a few
// seconds, and waits for it to stop. Later calls return the first's result.
func (l *Listener) Close() error {
	l.stopAfter()
	return l.shutdown()
}

// shutdown does the work of Close. It leaves stopAfter alone because the
// AfterFunc may call it before Listen has stored stopAfter.
func (l *Listener) shutdown() error {
	l.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		err := l.srv.Shutdown(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			err = errors.Join(err, l.srv.Close())
		}
		<-l.done
		if err != nil {
			l.closeErr = fmt.Errorf("sandbox: shut down: %w", err)
		}
	})
	return l.closeErr
}

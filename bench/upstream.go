package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// upstream is a fake ServiceStage v3: it lists release tasks, starts any
// number of executions at once (the sandbox refuses a start while one runs)
// and lists no records, each after a configurable delay, and counts what it
// is asked.
type upstream struct {
	srv     *http.Server
	url     string
	project string
	token   string
	list    []byte // the body of every list answer

	delay   atomic.Int64 // nanoseconds before every answer
	nextID  atomic.Int64
	pending atomic.Int64 // requests being answered now
	peak    atomic.Int64 // the most pending at once
	conns   atomic.Int64 // TCP connections accepted

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every count change
	counts  map[string]int
	lists   []time.Time // when each list request arrived
}

// firstExecutionID numbers the fake's first execution; the next count up
// from it. ServiceStage's execution IDs are numbers of six digits or more
// (286541 in its documentation's example), so a bot's index of them grows
// at its end; the fake counted from 1, and IDs of three, four and five
// digits, compared as the text they are, landed all over such an index.
const firstExecutionID = 286541

// release task of every command the benchmark sends.
const (
	benchTask   = "bench-task"
	benchTaskID = "0b5e7c1a-0000-4000-8000-000000000000"
	benchStatus = 4 // Releasing: the fake's executions never move
)

// newUpstream serves on loopback a list of bench-task plus extra pipeline IDs.
func newUpstream(project, token string, extra []string) (*upstream, error) {
	type pipeline struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Status int    `json:"status"`
	}
	ps := []pipeline{{ID: benchTaskID, Name: benchTask, Status: benchStatus}}
	for i, id := range extra {
		ps = append(ps, pipeline{ID: id, Name: fmt.Sprintf("followed-%04d", i), Status: benchStatus})
	}
	list, err := json.Marshal(map[string]any{"pipelines": ps, "count": len(ps)})
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u := &upstream{
		url: "http://" + l.Addr().String(), project: project, token: token, list: list,
		changed: make(chan struct{}), counts: map[string]int{},
	}
	u.nextID.Store(firstExecutionID - 1)
	u.srv = &http.Server{Handler: u, ReadHeaderTimeout: 10 * time.Second, ConnState: func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			u.conns.Add(1)
		}
	}}
	go func() { _ = u.srv.Serve(l) }()
	return u, nil
}

func (u *upstream) close() { _ = u.srv.Close() }

func (u *upstream) setDelay(d time.Duration) { u.delay.Store(int64(d)) }

// ServeHTTP answers /v3/{project}/pipeline/pipelines[/{id}/action|/{id}/records].
func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := u.pending.Add(1)
	for p := u.peak.Load(); n > p && !u.peak.CompareAndSwap(p, n); p = u.peak.Load() {
	}
	defer u.pending.Add(-1)

	prefix := "/v3/" + u.project + "/pipeline/pipelines"
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	kind := "other"
	switch {
	case !ok:
	case rest == "" && r.Method == http.MethodGet:
		kind = "list"
	case strings.HasSuffix(rest, "/action") && r.Method == http.MethodPost:
		kind = "action"
	case strings.HasSuffix(rest, "/records") && r.Method == http.MethodGet:
		kind = "records"
	}
	u.count(kind)

	if d := time.Duration(u.delay.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("X-Auth-Token") != u.token {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information"}`))
		return
	}
	switch kind {
	case "list":
		_, _ = w.Write(u.list)
	case "action":
		id := strings.TrimSuffix(strings.TrimPrefix(rest, "/"), "/action")
		_, _ = fmt.Fprintf(w, `{"id":%d,"pipeline_id":%q,"status":%d}`, u.nextID.Add(1), id, benchStatus)
	case "records":
		_, _ = w.Write([]byte(`{"count":0,"records":[]}`))
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error_code":"SVCSTG.00100404","error_msg":"not found"}`))
	}
}

func (u *upstream) count(kind string) {
	u.mu.Lock()
	u.counts[kind]++
	if kind == "list" {
		u.lists = append(u.lists, time.Now())
	}
	close(u.changed)
	u.changed = make(chan struct{})
	u.mu.Unlock()
}

// counted returns how many requests of kind arrived.
func (u *upstream) counted(kind string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.counts[kind]
}

// countsCopy returns how many requests of each kind arrived so far.
func (u *upstream) countsCopy() map[string]int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return maps.Clone(u.counts)
}

// listTimes returns when each list request arrived.
func (u *upstream) listTimes() []time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]time.Time(nil), u.lists...)
}

// waitCount waits until at least n requests of kind arrived.
func (u *upstream) waitCount(ctx context.Context, kind string, n int) error {
	for {
		u.mu.Lock()
		got, ch := u.counts[kind], u.changed
		u.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("fake upstream: %d of %d %s requests: %w", got, n, kind, context.Cause(ctx))
		}
	}
}

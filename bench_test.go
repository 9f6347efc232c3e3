package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/bench/baseline"
	"github.com/releasebot/releasebot/config"
	"github.com/releasebot/releasebot/internal/fakeslack"
	"github.com/releasebot/releasebot/store/storetest"
)

// benchUpstream answers a list with one release task and accepts any number
// of starts at once, with no delay: the bot is what is measured.
func benchUpstream() (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			fmt.Fprintf(w, `{"id":%d,"pipeline_id":"caf409b1-10df-483a-b14d-7b05f7e12c88","status":4}`, n.Add(1))
			return
		}
		_, _ = w.Write([]byte(`{"pipelines":[{"id":"caf409b1-10df-483a-b14d-7b05f7e12c88","name":"bench-task","status":4}]}`))
	}))
	return srv, &n
}

// BenchmarkCommandEndToEnd measures /release start from envelope to channel
// message through the real bot, in process, so that a CPU profile shows the
// bot's own costs: go test -run '^$' -bench CommandEndToEnd -cpuprofile cpu.out .
func BenchmarkCommandEndToEnd(b *testing.B) {
	up, _ := benchUpstream()
	defer up.Close()
	fs := fakeslack.New(fakeslack.Options{})
	defer fs.Close()
	env := map[string]string{
		"SLACK_BOT_TOKEN": fakeslack.DefaultBotToken, "SLACK_APP_TOKEN": fakeslack.DefaultAppToken, "SLACK_API_URL": fs.APIURL(),
		"SERVICESTAGE_ENDPOINT": up.URL, "HUAWEICLOUD_PROJECT_ID": "benchproject", "HUAWEICLOUD_AUTH_TOKEN": "bench-token",
		"RELEASEBOT_OPERATORS": "*", "RELEASEBOT_DATABASE_URL": "sqlite:" + storetest.DSN(b, "sqlite"),
		"RELEASEBOT_HTTP_ADDR": "127.0.0.1:0", "RELEASEBOT_POLL_INTERVAL": "1h",
	}
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, zerolog.Nop()) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := fs.WaitConnected(wctx, 1); err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, err := fs.SendSlashCommand(wctx, fakeslack.SlashCommand{Text: "start bench-task"}); err != nil {
			b.Fatal(err)
		}
	}
	if err := fs.WaitCount(wctx, "chat.postMessage", b.N); err != nil {
		b.Fatalf("%d of %d commands posted: %v", fs.CallCount()["chat.postMessage"], b.N, err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "commands/s")
}

// transportDiff names the exported fields of http.Transport in which a and b
// differ. Funcs are compared by code pointer: clones of one transport share
// theirs and another func shows, but two method values of one method (two
// net.Dialers' DialContext) look alike, whatever their receivers hold.
// The minimal bot's Slack client drops Slack's echo of a posted message, as
// releasebot's does: a baseline gets the bot's tunings.
func TestBaselineDropsSlacksEcho(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"channel":"C0REL","ts":"1.2","message":{"text":"started","blocks":[]}}`)
	}))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/chat.postMessage", strings.NewReader("channel=C0REL&text=started"))
	require.NoError(t, err)
	resp, err := baseline.SlackRequester().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.JSONEq(t, `{"ok":true,"channel":"C0REL","ts":"1.2"}`, string(body))
}

func transportDiff(a, b *http.Transport) []string {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	var diff []string
	for i := range va.NumField() {
		f := va.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		fa, fb := va.Field(i), vb.Field(i)
		same := false
		if f.Type.Kind() == reflect.Func {
			same = fa.IsNil() == fb.IsNil() && (fa.IsNil() || fa.Pointer() == fb.Pointer())
		} else {
			same = reflect.DeepEqual(fa.Interface(), fb.Interface())
		}
		if !same {
			diff = append(diff, f.Name)
		}
	}
	return diff
}

// The benchmark's baseline must be tuned as releasebot is (issue 17): its
// transports must not drift from run.go's.
func TestBaselineTransportMatchesReleasebot(t *testing.T) {
	goDefault := http.DefaultTransport.(*http.Transport).Clone()
	fewerIdle := baseline.NewUpstreamTransport()
	fewerIdle.MaxIdleConnsPerHost = 2
	otherDialer := baseline.NewSlackTransport()
	otherDialer.DialContext = func(context.Context, string, string) (net.Conn, error) { return nil, net.ErrClosed }
	tests := []struct {
		name string
		a, b *http.Transport
		want []string
	}{
		{"Slack: releasebot and the minimal bot", newSlackTransport(), baseline.NewSlackTransport(), nil},
		{"ServiceStage: releasebot and the minimal bot", newUpstreamTransport(), baseline.NewUpstreamTransport(), nil},
		{"Go's default is not releasebot's", goDefault, newSlackTransport(), []string{"MaxIdleConns", "MaxIdleConnsPerHost", "MaxConnsPerHost"}},
		{"the two differ", newUpstreamTransport(), newSlackTransport(), []string{"MaxIdleConns", "MaxIdleConnsPerHost", "MaxConnsPerHost"}},
		{"idle connections per host differ", fewerIdle, newUpstreamTransport(), []string{"MaxIdleConnsPerHost"}},
		{"dialers differ", otherDialer, newSlackTransport(), []string{"DialContext"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, transportDiff(tt.a, tt.b))
		})
	}
}

// Command bench measures releasebot against the SPEC §7 quality bars: it
// builds the real bot and a minimal slack-go Socket Mode bot, runs each as a
// child process against an in-process fake Slack (internal/fakeslack) and a
// fake ServiceStage, and prints one table. Run it from the repository root:
//
//	go run ./bench
//	go run ./bench -soak 10m   # steady mixed commands, one line per 30 s window
//
// It exits with status 1 when a bar is not met, 2 when it cannot measure.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/releasebot/releasebot/internal/fakeslack"
	"github.com/releasebot/releasebot/release"
	"github.com/releasebot/releasebot/store"
)

const (
	project   = "benchproject0000"
	authToken = "bench-upstream-token"
)

var (
	flagN        = flag.Int("n", 1000, "slash commands per ack-latency burst, and operations in flight")
	flagE2E      = flag.Int("e2e", 10000, "slash commands in the end-to-end throughput run")
	flagFollowed = flag.String("followed", "1,1000", "executions followed in the polling runs, one run per comma-separated count")
	flagRounds   = flag.Int("rounds", 7, "pairs of runs (releasebot and the minimal bot back to back, which goes first alternating) per comparison; a ratio is the median of the pairs'")
	flagOnly     = flag.String("only", "", "run only these scenarios, comma-separated: idle,paced,b2b,e2e,follow (the table then shows only what ran)")
	flagEnv      = flag.String("env", "", "extra environment for both bots, K=V,K=V (for experiments, e.g. GOGC=200)")
	flagMessage  = flag.String("baseline-message", "text", "what the minimal bot posts: text (plain text, SPEC §7's minimal bot) or blocks (shaped as releasebot's reply to a start, to compare the bots on the same Slack work)")
	flagKeep     = flag.Bool("keep", false, "keep the temporary directory (binaries, databases, child logs)")
	flagPerf     = flag.String("perf", "", "record each bot during paced bursts, end-to-end and polling runs (with -soak: releasebot during the last window) with `perf record -g` into this `dir` (needs Linux perf)")
)

func main() {
	flag.Parse()
	// The fakes keep every call and envelope; a larger GC target keeps their
	// collections from stealing CPU from the bot being measured.
	debug.SetGCPercent(400)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := mainErr(ctx)
	stop()
	os.Exit(code)
}

func mainErr(ctx context.Context) int {
	if *flagMessage != "text" && *flagMessage != "blocks" {
		fmt.Fprintf(os.Stderr, "bench: -baseline-message is text or blocks, not %q\n", *flagMessage)
		return 2
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	dir, err := os.MkdirTemp("", "releasebot-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if *flagKeep {
		fmt.Fprintln(os.Stderr, "bench: keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	progress("building releasebot and the minimal bot")
	botBin, minBin, err := build(ctx, root, dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	b := &bench{dir: dir, bins: map[string]string{releasebot: botBin, minimal: minBin}}
	if *flagSoak > 0 {
		ok, err := b.soak(ctx, os.Stdout)
		switch {
		case err != nil:
			fmt.Fprintln(os.Stderr, "bench: soak:", err)
			return 2
		case !ok:
			return 1
		}
		return 0
	}
	r, err := b.all(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if !r.print(os.Stdout) {
		return 1
	}
	return 0
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

const (
	releasebot = "releasebot"
	minimal    = "minimal bot"
)

type bench struct {
	dir  string
	bins map[string]string
	runs int
}

// world is one child bot with its own fake Slack and fake upstream.
type world struct {
	fs       *fakeslack.Server
	up       *upstream
	c        *child
	httpAddr string // releasebot's /metrics
}

func (w *world) close() {
	if w.c != nil {
		w.c.stop()
	}
	if w.fs != nil {
		w.fs.Close()
	}
	if w.up != nil {
		w.up.close()
	}
}

// start runs which (releasebot or minimal) against a fresh fake Slack and a
// fresh fake upstream that lists bench-task and followIDs, and waits until its
// socket is connected. prepare, if set, gets the database path first.
func (b *bench) start(ctx context.Context, which string, delay time.Duration, env map[string]string,
	followIDs []string, prepare func(dbPath string) error) (*world, error) {
	b.runs++
	w := &world{}
	ok := false
	defer func() {
		if !ok {
			w.close()
		}
	}()
	var err error
	if w.up, err = newUpstream(project, authToken, followIDs); err != nil {
		return nil, err
	}
	w.up.setDelay(delay)
	w.fs = fakeslack.New(fakeslack.Options{})
	if w.httpAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	dbPath := filepath.Join(b.dir, fmt.Sprintf("bench-%d.db", b.runs))
	if prepare != nil {
		if err := prepare(dbPath); err != nil {
			return nil, err
		}
	}
	vars := map[string]string{
		"SLACK_BOT_TOKEN":         fakeslack.DefaultBotToken,
		"SLACK_APP_TOKEN":         fakeslack.DefaultAppToken,
		"SLACK_API_URL":           w.fs.APIURL(),
		"SERVICESTAGE_ENDPOINT":   w.up.url,
		"HUAWEICLOUD_PROJECT_ID":  project,
		"HUAWEICLOUD_AUTH_TOKEN":  authToken,
		"RELEASEBOT_OPERATORS":    "*",
		"RELEASEBOT_DATABASE_URL": "sqlite:" + dbPath,
		"RELEASEBOT_HTTP_ADDR":    w.httpAddr,
		"LOG_LEVEL":               "warn",
		"MINIMALBOT_PIPELINE_ID":  benchTaskID,
		"MINIMALBOT_MESSAGE":      *flagMessage,
	}
	for k, v := range env {
		vars[k] = v
	}
	if *flagEnv != "" {
		for _, kv := range strings.Split(*flagEnv, ",") {
			k, v, _ := strings.Cut(kv, "=")
			vars[k] = v
		}
	}
	logPath := filepath.Join(b.dir, fmt.Sprintf("child-%d-%s.log", b.runs, strings.ReplaceAll(which, " ", "-")))
	if w.c, err = startChild(ctx, which, b.bins[which], logPath, vars); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeoutCause(w.c.ctx, 15*time.Second, errors.New("not connected after 15 s"))
	defer cancel()
	if err := w.fs.WaitConnected(wctx, 1); err != nil {
		return nil, fmt.Errorf("%s: %w", which, context.Cause(wctx))
	}
	ok = true
	return w, nil
}

// results is everything the table shows; a nil or empty field did not run.
type results struct {
	idle      map[string]memory
	paced     map[string][]pacedRun
	b2b       map[string][]latencies
	e2e       map[string][]throughput
	following []followRun
}

// followRun is one polling run.
type followRun struct {
	n                int
	listsPerInterval float64
	listWindow       string
	records          int
	followedSeen     string        // what releasebot_followed_executions says
	cpuPerInterval   time.Duration // the bot's CPU time per poll interval, idle otherwise
}

// scenario reports whether -only lets name run.
func scenario(name string) bool {
	return *flagOnly == "" || slices.Contains(strings.Split(*flagOnly, ","), name)
}

func (b *bench) all(ctx context.Context) (*results, error) {
	if *flagOnly != "" {
		for _, name := range strings.Split(*flagOnly, ",") {
			if !slices.Contains([]string{"idle", "paced", "b2b", "e2e", "follow"}, name) {
				return nil, fmt.Errorf("-only: unknown scenario %q (idle, paced, b2b, e2e, follow)", name)
			}
		}
	}
	if *flagRounds < 3 && (scenario("b2b") || scenario("e2e")) {
		progress("-rounds %d: the §7 ratios are meant as the median of at least 3 pairs", *flagRounds)
	}
	r := &results{idle: map[string]memory{}, paced: map[string][]pacedRun{}, b2b: map[string][]latencies{}, e2e: map[string][]throughput{}}
	order := alternate(*flagRounds)

	if scenario("idle") {
		for _, which := range []string{releasebot, minimal} {
			progress("idle memory: %s", which)
			m, err := b.idle(ctx, which)
			if err != nil {
				return nil, fmt.Errorf("idle memory of %s: %w", which, err)
			}
			r.idle[which] = m
		}
	}
	if scenario("paced") {
		for _, which := range order {
			progress("ack latency and memory: %d slash commands paced at 1,000/s, upstream 2 s: %s", *flagN, which)
			p, err := b.paced(ctx, which)
			if err != nil {
				return nil, fmt.Errorf("paced burst, %s: %w", which, err)
			}
			r.paced[which] = append(r.paced[which], p)
		}
	}
	if scenario("b2b") {
		for _, which := range order {
			progress("ack latency: %d slash commands back to back, upstream 2 s: %s", *flagN, which)
			l, err := b.backToBack(ctx, which)
			if err != nil {
				return nil, fmt.Errorf("back-to-back burst, %s: %w", which, err)
			}
			r.b2b[which] = append(r.b2b[which], l)
		}
	}
	if scenario("e2e") {
		// This process's heap (the fakes keep every call and message) grows
		// to its size during the first run: page faults, on the shared
		// cores, that only the first run pays, and the first run is always
		// releasebot's. A pair that is not counted pays them.
		for _, which := range []string{releasebot, minimal} {
			progress("end to end: %d slash commands, upstream 0 s: %s (warm-up, not counted)", *flagE2E, which)
			if _, err := b.endToEnd(ctx, which); err != nil {
				return nil, fmt.Errorf("end-to-end warm-up, %s: %w", which, err)
			}
		}
		for _, which := range order {
			progress("end to end: %d slash commands, upstream 0 s: %s", *flagE2E, which)
			t, err := b.endToEnd(ctx, which)
			if err != nil {
				return nil, fmt.Errorf("end-to-end run, %s: %w", which, err)
			}
			r.e2e[which] = append(r.e2e[which], t)
		}
	}
	if scenario("follow") {
		for _, f := range strings.Split(*flagFollowed, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 0 {
				return nil, fmt.Errorf("-followed: %q is not a count", f)
			}
			progress("following %d executions, polling every 1 s", n)
			fr, err := b.following(ctx, n)
			if err != nil {
				return nil, fmt.Errorf("following %d: %w", n, err)
			}
			r.following = append(r.following, fr)
		}
	}
	return r, nil
}

// alternate orders rounds of both bots so that neither always goes first.
func alternate(rounds int) []string {
	var out []string
	for i := range max(rounds, 1) {
		if i%2 == 0 {
			out = append(out, releasebot, minimal)
		} else {
			out = append(out, minimal, releasebot)
		}
	}
	return out
}

// idle reads the resident memory of a bot that has connected and then had
// a second to settle.
func (b *bench) idle(ctx context.Context, which string) (memory, error) {
	w, err := b.start(ctx, which, 0, nil, nil, nil)
	if err != nil {
		return memory{}, err
	}
	defer w.close()
	if err := settle(w.c.ctx, time.Second); err != nil {
		return memory{}, err
	}
	return w.c.memory()
}

// settle waits d, or until ctx ends.
func settle(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// latencies are ack latencies, sorted.
type latencies []time.Duration

func (l latencies) pct(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	i := int(float64(len(l))*p+0.999999) - 1 // nearest rank
	return l[min(max(i, 0), len(l)-1)]
}

// send delivers n `/release start bench-task` commands, one every gap (0:
// back to back), and returns their envelopes.
func send(ctx context.Context, fs *fakeslack.Server, n int, gap time.Duration) ([]*fakeslack.Envelope, error) {
	envs := make([]*fakeslack.Envelope, 0, n)
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for i := range n {
		if gap > 0 {
			if d := time.Until(start.Add(time.Duration(i) * gap)); d > 0 {
				timer.Reset(d)
				select {
				case <-timer.C:
				case <-ctx.Done():
					return nil, context.Cause(ctx)
				}
			}
		}
		e, err := fs.SendSlashCommand(ctx, fakeslack.SlashCommand{Text: "start " + benchTask})
		if err != nil {
			return nil, err
		}
		envs = append(envs, e)
	}
	return envs, nil
}

// acks waits for every envelope's ack and returns the latencies, sorted:
// from the fake writing the envelope to it reading the ack.
func acks(ctx context.Context, envs []*fakeslack.Envelope) (latencies, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	l := make(latencies, 0, len(envs))
	for _, e := range envs {
		a, err := e.Ack(ctx)
		if err != nil {
			return nil, err
		}
		l = append(l, a.At.Sub(e.SentAt))
	}
	slices.Sort(l)
	return l, nil
}

// pacedRun is the outcome of a paced burst.
type pacedRun struct {
	acks     latencies
	mem      memory  // the most seen while the commands ran
	inFlight int64   // the most upstream calls in flight at once
	posted   int     // outcomes posted before sampling stopped
	cpu      float64 // cores the bot used from the first send to the last ack
}

// paced sends *flagN commands at 1,000/s while every upstream call takes
// 2 s, and samples the bot's memory until every outcome is posted (or 10 s
// after the last ack).
func (b *bench) paced(ctx context.Context, which string) (pacedRun, error) {
	w, err := b.start(ctx, which, 2*time.Second, nil, nil, nil)
	if err != nil {
		return pacedRun{}, err
	}
	defer w.close()
	ctx = w.c.ctx

	sampled := make(chan memory, 1)
	stopSampling := make(chan struct{})
	go func() {
		var most memory
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if m, err := w.c.memory(); err == nil {
				most.rss, most.hwm = max(most.rss, m.rss), max(most.hwm, m.hwm)
			}
			select {
			case <-t.C:
			case <-stopSampling:
				sampled <- most
				return
			}
		}
	}()
	stop := func() memory {
		close(stopSampling)
		return <-sampled
	}

	stopPerf, err := b.perf(w.c, "paced-"+which)
	if err != nil {
		stop()
		return pacedRun{}, err
	}
	cpu0, _ := w.c.cpu()
	start := time.Now()
	envs, err := send(ctx, w.fs, *flagN, time.Millisecond)
	if err != nil {
		stopPerf()
		stop()
		return pacedRun{}, err
	}
	l, err := acks(ctx, envs)
	cpu1, _ := w.c.cpu()
	burst := time.Since(start)
	stopPerf()
	if err != nil {
		stop()
		return pacedRun{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, werr := waitPosts(wctx, w.fs, *flagN)
	cancel()
	m := stop()
	if werr != nil && ctx.Err() != nil {
		return pacedRun{}, context.Cause(ctx)
	}
	return pacedRun{acks: l, mem: m, inFlight: w.up.peak.Load(), posted: w.fs.CallCount()["chat.postMessage"],
		cpu: float64(cpu1-cpu0) / 100 / burst.Seconds()}, nil
}

// waitPosts waits for the n-th chat.postMessage and returns when it came.
// It waits on the fake's count, not on its calls, which WaitCall would
// copy as they come, on the cores the bot is measured on. fs must not have
// forgotten any.
func waitPosts(ctx context.Context, fs *fakeslack.Server, n int) (time.Time, error) {
	if err := fs.WaitCount(ctx, "chat.postMessage", n); err != nil {
		return time.Time{}, err
	}
	posts := fs.Calls("chat.postMessage")
	if len(posts) < n {
		return time.Time{}, fmt.Errorf("%d channel messages kept of %d counted", len(posts), n)
	}
	return posts[n-1].At, nil
}

// backToBack sends *flagN commands as fast as the socket takes them while
// every upstream call takes 2 s.
func (b *bench) backToBack(ctx context.Context, which string) (latencies, error) {
	w, err := b.start(ctx, which, 2*time.Second, nil, nil, nil)
	if err != nil {
		return nil, err
	}
	defer w.close()
	envs, err := send(w.c.ctx, w.fs, *flagN, 0)
	if err != nil {
		return nil, err
	}
	return acks(w.c.ctx, envs)
}

// throughput is one end-to-end run.
type throughput struct {
	perSecond float64
	took      time.Duration
	childCPU  float64 // cores used by the bot, on average
	benchCPU  float64 // cores used by this process (fakes), on average
	errors    int
	// connections the bot opened during the run, to Slack and upstream:
	// each is a dial, and the fakes' accept, that keep-alive would spare
	slackConns, upConns int64
}

// endToEnd warms the bot up with 100 commands, then sends *flagE2E back to
// back against a zero-latency upstream and times the first send to the last
// channel message.
func (b *bench) endToEnd(ctx context.Context, which string) (throughput, error) {
	w, err := b.start(ctx, which, 0, nil, nil, nil)
	if err != nil {
		return throughput{}, err
	}
	defer w.close()
	ctx = w.c.ctx
	const warm = 100
	if _, err := send(ctx, w.fs, warm, 0); err != nil {
		return throughput{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := waitPosts(wctx, w.fs, warm); err != nil {
		return throughput{}, fmt.Errorf("warm-up: %w", err)
	}

	stopPerf, err := b.perf(w.c, "e2e-"+which)
	if err != nil {
		return throughput{}, err
	}
	defer stopPerf()
	childCPU0, _ := w.c.cpu()
	benchCPU0, _ := selfCPU()
	slackConns0, upConns0 := w.fs.Conns(), w.up.conns.Load()
	start := time.Now()
	done := make(chan error, 1)
	var last time.Time
	go func() {
		var err error
		last, err = waitPosts(wctx, w.fs, warm+*flagE2E)
		done <- err
	}()
	if _, err := send(ctx, w.fs, *flagE2E, 0); err != nil {
		return throughput{}, err
	}
	if err := <-done; err != nil {
		stopPerf()
		return throughput{}, fmt.Errorf("%d channel messages after %d commands: %w",
			len(w.fs.Calls("chat.postMessage"))-warm, *flagE2E, err)
	}
	took := last.Sub(start)
	childCPU1, _ := w.c.cpu()
	benchCPU1, _ := selfCPU()
	t := throughput{
		perSecond:  float64(*flagE2E) / took.Seconds(),
		took:       took,
		childCPU:   float64(childCPU1-childCPU0) / 100 / took.Seconds(),
		benchCPU:   float64(benchCPU1-benchCPU0) / 100 / took.Seconds(),
		slackConns: w.fs.Conns() - slackConns0,
		upConns:    w.up.conns.Load() - upConns0,
	}
	for _, c := range w.fs.Calls("chat.postMessage") {
		if c.Error != "" || strings.HasPrefix(c.Params["text"], "failed") {
			t.errors++
		}
	}
	t.errors += len(w.fs.Calls("chat.postEphemeral")) // releasebot's error replies
	if which == releasebot {
		if got, want := w.up.counted("action"), warm+*flagE2E; got != want {
			return t, fmt.Errorf("upstream saw %d starts, want %d", got, want)
		}
	}
	return t, nil
}

// perf starts `perf record` on the child, and on this process (the fakes,
// into a file named fakes-…), when -perf is set; the returned func stops
// both and waits for them to write their files.
func (b *bench) perf(c *child, which string) (func(), error) {
	if *flagPerf == "" {
		return func() {}, nil
	}
	if err := os.MkdirAll(*flagPerf, 0o755); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("%s-%d.data", strings.ReplaceAll(which, " ", "-"), b.runs)
	var cmds []*exec.Cmd
	stop := func() {
		for _, cmd := range cmds {
			_ = cmd.Process.Signal(os.Interrupt)
		}
		for _, cmd := range cmds {
			_ = cmd.Wait()
		}
	}
	for _, r := range []struct {
		out string
		pid int
	}{{name, c.cmd.Process.Pid}, {"fakes-" + name, os.Getpid()}} {
		out := filepath.Join(*flagPerf, r.out)
		cmd := exec.Command("perf", "record", "-F", "999", "-g", "-o", out, "-p", strconv.Itoa(r.pid))
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGINT}
		if err := cmd.Start(); err != nil {
			stop()
			return nil, fmt.Errorf("perf: %w", err)
		}
		cmds = append(cmds, cmd)
		progress("perf recording %s into %s", which, out)
	}
	var once sync.Once
	return func() { once.Do(stop) }, nil
}

// selfCPU is this process's CPU time so far, in clock ticks.
func selfCPU() (int64, error) {
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, err
	}
	return parseStatCPU(data)
}

// following has releasebot follow n executions whose status never moves,
// polling every second, and counts the upstream requests.
func (b *bench) following(ctx context.Context, n int) (followRun, error) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("f011e0ed-0000-4000-8000-%012d", i)
	}
	prepare := func(dbPath string) error {
		st, err := store.Open(ctx, "sqlite", dbPath)
		if err != nil {
			return err
		}
		defer st.Close()
		now := time.Now()
		for i, id := range ids {
			if err := st.Follow(ctx, release.Followed{
				PipelineID: id, ExecutionID: strconv.Itoa(100000 + i), TaskName: fmt.Sprintf("followed-%04d", i),
				Channel: fakeslack.DefaultChannelID, TS: fmt.Sprintf("1700000000.%06d", i), StartedBy: fakeslack.DefaultUserID,
				Status: benchStatus, CreatedAt: now,
			}); err != nil {
				return err
			}
		}
		return nil
	}
	w, err := b.start(ctx, releasebot, 0, map[string]string{"RELEASEBOT_POLL_INTERVAL": "1s"}, ids, prepare)
	if err != nil {
		return followRun{}, err
	}
	defer w.close()
	ctx = w.c.ctx

	// From the first poll, count the polls of the next five intervals (the
	// window ends half an interval after the fifth is due).
	const intervals = 5
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := w.up.waitCount(fctx, "list", 1); err != nil {
		return followRun{}, fmt.Errorf("no poll within 5 s: %w", err)
	}
	first := w.up.listTimes()[0]
	end := first.Add(intervals*time.Second + 500*time.Millisecond)
	stopPerf, err := b.perf(w.c, fmt.Sprintf("follow-%d", n))
	if err != nil {
		return followRun{}, err
	}
	cpu0, _ := w.c.cpuTime()
	err = settle(ctx, time.Until(end))
	cpu1, _ := w.c.cpuTime()
	stopPerf()
	if err != nil {
		return followRun{}, err
	}
	lists := 0
	for _, t := range w.up.listTimes()[1:] {
		if t.Before(end) {
			lists++
		}
	}
	return followRun{
		n:                n,
		listsPerInterval: float64(lists) / intervals,
		listWindow:       fmt.Sprintf("%d lists in %d intervals", lists, intervals),
		records:          w.up.counted("records"),
		followedSeen:     followedGauge(ctx, w.httpAddr),
		cpuPerInterval:   (cpu1 - cpu0) / intervals,
	}, nil
}

// followedGauge reads releasebot_followed_executions from /metrics.
func followedGauge(ctx context.Context, addr string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return "?"
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "?"
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "releasebot_followed_executions "); ok {
			return v
		}
	}
	return "?"
}

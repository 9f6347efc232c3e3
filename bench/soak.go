package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/releasebot/releasebot/internal/fakeslack"
)

var (
	flagSoak   = flag.Duration("soak", 0, "instead of the table: run releasebot for this `long` (e.g. 10m) under steady mixed commands and report per window")
	flagRate   = flag.Float64("rate", 100, "soak: slash commands per second (one in five a start)")
	flagWindow = flag.Duration("window", 30*time.Second, "soak: length of a reporting window")
	flagAcks   = flag.String("acks", "", "soak: also write every command's ack latency to this CSV `file` (seconds since the start, latency in ms, command), to look for patterns such as poll intervals")
)

// soakMix is the command cycle of a soak: one in five a start, so that
// followed executions accumulate (the fake's never finish), the rest read.
var soakMix = []string{"start " + benchTask, "status " + benchTask, "list", "help", "audit"}

// soakBars are the issue 17 bars: the last window against the second (the
// first includes start-up and the first polls).
const (
	soakMaxP99Growth = 2.0 // last window's ack p99 at most this × the second's
	soakLevel        = 0.2 // RSS and goroutines: last window within ±20 % of the second's
	soakAckTimeout   = 10 * time.Second
)

// soakWindow is what one window saw: commands sent in it, their acks, and
// the bot's figures sampled (about once a second) while it lasted.
type soakWindow struct {
	index      int
	from, to   time.Duration // since the soak started
	sent       int
	acks       latencies
	lost       int // not acked within soakAckTimeout
	replies    int // chat.postMessage and chat.postEphemeral calls during the window
	lists      int // upstream list requests during the window
	records    int // upstream records requests during the window
	followed   float64
	rss        float64 // median of the samples, bytes
	goroutines float64 // median of the samples
	goMax      float64 // most goroutines sampled
	cpu        float64 // cores the bot used, on average
}

func (w soakWindow) String() string {
	return fmt.Sprintf("window %2d (%4.0f–%4.0f s): sent %5d, acked %5d, lost %d, ack p50 %s p99 %s max %s; replies %5d; "+
		"followed %5.0f; RSS %s; goroutines %3.0f (max %3.0f); bot %.2f cores; upstream lists %d, records %d",
		w.index+1, w.from.Seconds(), w.to.Seconds(), w.sent, len(w.acks), w.lost,
		ms(w.acks.pct(0.5)), ms(w.acks.pct(0.99)), ms(w.acks.pct(1)), w.replies,
		w.followed, mb(int64(w.rss)), w.goroutines, w.goMax, w.cpu, w.lists, w.records)
}

// metricSample is one scrape of the bot's /metrics.
type metricSample struct {
	at         time.Time
	rss        float64
	goroutines float64
	followed   float64
	outcomes   map[string]float64 // releasebot_commands_total summed by outcome
}

// soak runs releasebot alone for *flagSoak at *flagRate commands per second
// (upstream answering at once), prints one line per window and then the
// comparison of the last window with the second. It reports whether every
// soak bar is met.
func (b *bench) soak(ctx context.Context, out io.Writer) (bool, error) {
	n := int(*flagSoak / *flagWindow)
	if n < 3 || *flagRate <= 0 {
		return false, fmt.Errorf("-soak %s: need at least 3 windows of %s and a positive -rate", *flagSoak, *flagWindow)
	}
	w, err := b.start(ctx, releasebot, 0, nil, nil, nil)
	if err != nil {
		return false, err
	}
	defer w.close()
	ctx = w.c.ctx
	progress("soak: %s at %.0f commands/s (%s), %d windows of %s; releasebot's log: %s",
		*flagSoak, *flagRate, strings.Join(soakMix, ", "), n, *flagWindow, w.c.log)

	// Samples of /metrics, about one a second, for the windows to take their medians from.
	var (
		smu     sync.Mutex
		samples []metricSample
	)
	sctx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if s, err := scrape(sctx, w.httpAddr); err == nil {
				smu.Lock()
				samples = append(samples, s)
				smu.Unlock()
			}
			select {
			case <-t.C:
			case <-sctx.Done():
				return
			}
		}
	}()
	defer func() {
		stopSampling()
		<-sampled
	}()

	// The sender writes envelopes and, at each window's end, a marker; the
	// collector waits for the acks in order (a latency comes from the fake's
	// timestamps, not from when it is read), so at a marker every ack of
	// that window is in.
	type item struct {
		env     *fakeslack.Envelope
		command string
		window  int // a marker when env is nil
	}
	var acksCSV *bufio.Writer
	if *flagAcks != "" {
		f, err := os.Create(*flagAcks)
		if err != nil {
			return false, err
		}
		defer f.Close()
		acksCSV = bufio.NewWriter(f)
		defer acksCSV.Flush()
		fmt.Fprintln(acksCSV, "sent_s,ack_ms,command")
	}
	items := make(chan item, 1<<16)
	windows := make([]soakWindow, n)
	start := time.Now()
	collected := make(chan error, 1)
	go func() {
		cur := soakWindow{}
		calls0, up0 := replyCalls(w.fs), w.up.countsCopy()
		cpu0, _ := w.c.cpu()
		for it := range items {
			if it.env != nil {
				cur.sent++
				actx, cancel := context.WithDeadline(ctx, it.env.SentAt.Add(soakAckTimeout))
				a, err := it.env.Ack(actx)
				cancel()
				switch {
				case err == nil:
					cur.acks = append(cur.acks, a.At.Sub(it.env.SentAt))
					if acksCSV != nil {
						fmt.Fprintf(acksCSV, "%.3f,%.3f,%s\n", it.env.SentAt.Sub(start).Seconds(),
							float64(a.At.Sub(it.env.SentAt))/float64(time.Millisecond), strings.Fields(it.command)[0])
					}
				case ctx.Err() != nil:
					collected <- context.Cause(ctx)
					return
				default:
					cur.lost++
				}
				continue
			}
			i := it.window
			cur.index, cur.from, cur.to = i, time.Duration(i)*(*flagWindow), time.Duration(i+1)*(*flagWindow)
			slices.Sort(cur.acks)
			calls1, up1 := replyCalls(w.fs), w.up.countsCopy()
			cpu1, _ := w.c.cpu()
			cur.replies = calls1 - calls0
			cur.lists, cur.records = up1["list"]-up0["list"], up1["records"]-up0["records"]
			cur.cpu = float64(cpu1-cpu0) / 100 / (*flagWindow).Seconds()
			calls0, up0, cpu0 = calls1, up1, cpu1
			// The fake keeps what it answered; 60,000 commands' worth made
			// this process's GC, and so the acks it times, slower as the
			// run went on.
			w.fs.Forget()
			smu.Lock()
			cur.rss, cur.goroutines, cur.goMax, cur.followed = summarize(samples, start.Add(cur.from), start.Add(cur.to))
			smu.Unlock()
			windows[i] = cur
			fmt.Fprintln(out, cur)
			cur = soakWindow{}
		}
		collected <- nil
	}()

	// The collector stops early only when the child is gone, which ends ctx.
	put := func(it item) bool {
		select {
		case items <- it:
			return true
		case <-ctx.Done():
			return false
		}
	}
	stopPerf := func() {}
	defer func() { stopPerf() }()
	gap := time.Duration(float64(time.Second) / *flagRate)
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	sent := 0
	var sendErr error
send:
	for win := range n {
		end := start.Add(time.Duration(win+1) * (*flagWindow))
		if win == n-1 && *flagPerf != "" {
			if stopPerf, err = b.perf(w.c, "soak-last-window"); err != nil {
				sendErr = err
				break send
			}
		}
		for {
			due := start.Add(time.Duration(sent) * gap)
			if !due.Before(end) {
				break
			}
			if sendErr = waitUntil(ctx, timer, due); sendErr != nil {
				break send
			}
			command := soakMix[sent%len(soakMix)]
			e, err := w.fs.SendSlashCommand(ctx, fakeslack.SlashCommand{Text: command})
			if err != nil {
				sendErr = err
				break send
			}
			sent++
			if !put(item{env: e, command: command}) {
				sendErr = context.Cause(ctx)
				break send
			}
		}
		if sendErr = waitUntil(ctx, timer, end); sendErr != nil {
			break send
		}
		if !put(item{window: win}) {
			sendErr = context.Cause(ctx)
			break send
		}
	}
	stopPerf()
	close(items)
	if err := <-collected; err != nil {
		return false, err
	}
	if sendErr != nil {
		return false, sendErr
	}
	return b.soakVerdict(ctx, out, w, windows, sent)
}

// soakVerdict prints the totals and the comparison of the last window with
// the second, and reports whether the bars are met.
func (b *bench) soakVerdict(ctx context.Context, out io.Writer, w *world, windows []soakWindow, sent int) (bool, error) {
	// Every command gets its reply: a start a channel message, the others a
	// private one. Wait for the last ones (bounded).
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	starts := (sent + len(soakMix) - 1) / len(soakMix)
	_ = w.fs.WaitCount(wctx, "chat.postMessage", starts)
	_ = w.fs.WaitCount(wctx, "chat.postEphemeral", sent-starts)
	replied := replyCalls(w.fs)
	final, err := scrape(ctx, w.httpAddr)
	if err != nil {
		return false, fmt.Errorf("final /metrics: %w", err)
	}
	acked, lost := 0, 0
	for _, win := range windows {
		acked += len(win.acks)
		lost += win.lost
	}
	var outcomes []string
	for _, k := range slices.Sorted(maps.Keys(final.outcomes)) {
		outcomes = append(outcomes, fmt.Sprintf("%s %.0f", k, final.outcomes[k]))
	}
	fmt.Fprintf(out, "\nsent %d, acked %d, lost %d, replied %d; releasebot's commands by outcome: %s; followed at the end: %.0f\n",
		sent, acked, lost, replied, strings.Join(outcomes, ", "), final.followed)

	second, last := windows[1], windows[len(windows)-1]
	ok, lines := soakCompare(second, last)
	if lost > 0 {
		ok = false
		lines = append(lines, fmt.Sprintf("acks lost: %d (bar: 0) FAIL", lost))
	}
	if replied < sent {
		ok = false
		lines = append(lines, fmt.Sprintf("replies: %d of %d commands (bar: all) FAIL", replied, sent))
	}
	for _, l := range lines {
		fmt.Fprintln(out, l)
	}
	return ok, nil
}

// soakCompare checks the last window against the second: ack p99 within
// soakMaxP99Growth×, RSS and goroutines within ±soakLevel.
func soakCompare(second, last soakWindow) (bool, []string) {
	allOK := true
	check := func(what string, ok bool, got string) string {
		allOK = allOK && ok
		verdict := "PASS"
		if !ok {
			verdict = "FAIL"
		}
		return fmt.Sprintf("%s: %s %s", what, got, verdict)
	}
	p2, pl := second.acks.pct(0.99), last.acks.pct(0.99)
	growth := float64(pl) / float64(max(p2, time.Microsecond))
	level := func(a, b float64) float64 { return (b - a) / max(a, 1) }
	rss, gor := level(second.rss, last.rss), level(second.goroutines, last.goroutines)
	return allOK, []string{
		check(fmt.Sprintf("ack p99, window %d vs window 2 (bar: ≤ %.0f×)", last.index+1, soakMaxP99Growth),
			growth <= soakMaxP99Growth, fmt.Sprintf("%s vs %s = %.2f×", ms(pl), ms(p2), growth)),
		check(fmt.Sprintf("RSS, window %d vs window 2 (bar: within ±%.0f %%)", last.index+1, soakLevel*100),
			rss >= -soakLevel && rss <= soakLevel, fmt.Sprintf("%s vs %s = %+.0f %%", mb(int64(last.rss)), mb(int64(second.rss)), rss*100)),
		check(fmt.Sprintf("goroutines, window %d vs window 2 (bar: within ±%.0f %%)", last.index+1, soakLevel*100),
			gor >= -soakLevel && gor <= soakLevel, fmt.Sprintf("%.0f vs %.0f = %+.0f %%", last.goroutines, second.goroutines, gor*100)),
	}
}

// summarize gives the median RSS and goroutines, the most goroutines and
// the last followed count of the samples taken in [from, to).
func summarize(samples []metricSample, from, to time.Time) (rss, goroutines, goMax, followed float64) {
	var rs, gs []float64
	for _, s := range samples {
		if s.at.Before(from) || !s.at.Before(to) {
			continue
		}
		rs, gs = append(rs, s.rss), append(gs, s.goroutines)
		goMax, followed = max(goMax, s.goroutines), s.followed
	}
	return median(rs), median(gs), goMax, followed
}

// waitUntil waits on timer (stopped or fired) until t, or until ctx ends.
func waitUntil(ctx context.Context, timer *time.Timer, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	timer.Reset(d)
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// replyCalls counts the bot's replies so far.
func replyCalls(fs *fakeslack.Server) int {
	c := fs.CallCount()
	return c["chat.postMessage"] + c["chat.postEphemeral"]
}

// scrape reads the figures a soak reports from the bot's /metrics.
func scrape(ctx context.Context, addr string) (metricSample, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return metricSample{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return metricSample{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return metricSample{}, fmt.Errorf("/metrics answered %s", resp.Status)
	}
	s, err := parseMetrics(resp.Body)
	s.at = time.Now()
	return s, err
}

// parseMetrics reads go_goroutines, process_resident_memory_bytes,
// releasebot_followed_executions and releasebot_commands_total from the
// Prometheus text format.
func parseMetrics(r io.Reader) (metricSample, error) {
	s := metricSample{outcomes: map[string]float64{}}
	seen := 0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		switch {
		case name == "go_goroutines":
			s.goroutines, seen = v, seen|1
		case name == "process_resident_memory_bytes":
			s.rss, seen = v, seen|2
		case name == "releasebot_followed_executions":
			s.followed = v
		case strings.HasPrefix(name, "releasebot_commands_total{"):
			if _, rest, ok := strings.Cut(name, `outcome="`); ok {
				outcome, _, _ := strings.Cut(rest, `"`)
				s.outcomes[outcome] += v
			}
		}
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	if seen != 3 {
		return s, errors.New("/metrics has no go_goroutines or process_resident_memory_bytes")
	}
	return s, nil
}

package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

type row struct{ metric, bar, bot, min, result string }

// print writes the table and its notes; it reports whether every bar is met.
func (r *results) print(out io.Writer) bool {
	allOK := true
	verdict := func(ok bool, detail string) string {
		allOK = allOK && ok
		s := "PASS"
		if !ok {
			s = "FAIL"
		}
		if detail != "" {
			s += " (" + detail + ")"
		}
		return s
	}
	n, e2e := *flagN, *flagE2E
	var rows []row

	pb, pm := r.paced[releasebot], r.paced[minimal]
	rows = append(rows,
		row{fmt.Sprintf("ack latency p50, %s paced at 1,000/s, upstream 2 s", count(n)), "", ms(pb.acks.pct(0.50)), ms(pm.acks.pct(0.50)), ""},
		row{fmt.Sprintf("ack latency p99, %s paced at 1,000/s, upstream 2 s", count(n)), "< 5 ms", ms(pb.acks.pct(0.99)), ms(pm.acks.pct(0.99)),
			verdict(pb.acks.pct(0.99) < 5*time.Millisecond, "")},
		row{fmt.Sprintf("ack latency max, %s paced at 1,000/s, upstream 2 s", count(n)), "", ms(pb.acks.pct(1)), ms(pm.acks.pct(1)), ""},
	)

	botP99, minP99 := medianDur(r.b2b[releasebot], 0.99), medianDur(r.b2b[minimal], 0.99)
	ratio := float64(botP99) / float64(minP99)
	rows = append(rows,
		row{fmt.Sprintf("ack latency p50, %s back to back, upstream 2 s", count(n)), "",
			ms(medianDur(r.b2b[releasebot], 0.5)), ms(medianDur(r.b2b[minimal], 0.5)), ""},
		row{fmt.Sprintf("ack latency p99, %s back to back, upstream 2 s", count(n)), "≤ 1.5× minimal bot",
			ms(botP99), ms(minP99), verdict(ratio <= 1.5, fmt.Sprintf("%.2f×", ratio))},
		row{fmt.Sprintf("ack latency max, %s back to back, upstream 2 s", count(n)), "",
			ms(medianDur(r.b2b[releasebot], 1)), ms(medianDur(r.b2b[minimal], 1)), ""},
	)

	botRate, minRate := medianRate(r.e2e[releasebot]), medianRate(r.e2e[minimal])
	rateRatio := botRate / minRate
	errs := 0
	for _, t := range append(slices.Clone(r.e2e[releasebot]), r.e2e[minimal]...) {
		errs += t.errors
	}
	detail := fmt.Sprintf("%.2f× minimal", rateRatio)
	if errs > 0 {
		detail += fmt.Sprintf(", %d error replies", errs)
	}
	rows = append(rows, row{fmt.Sprintf("commands/s end to end, %s back to back, upstream 0 s", count(e2e)),
		"≥ 1,000 and ≥ 0.8× minimal bot", fmt.Sprintf("%.0f", botRate), fmt.Sprintf("%.0f", minRate),
		verdict(botRate >= 1000 && rateRatio >= 0.8 && errs == 0, detail)})

	rows = append(rows,
		row{"resident memory (VmRSS), idle: connected, 1 s later", "< 30 MB", mb(r.idle[releasebot].rss), mb(r.idle[minimal].rss),
			verdict(r.idle[releasebot].rss < 30<<20, "")},
		row{fmt.Sprintf("resident memory (VmHWM), %s operations in flight", count(n)), "< 100 MB", mb(pb.mem.hwm), mb(pm.mem.hwm),
			verdict(pb.mem.hwm < 100<<20 && pb.inFlight >= int64(n) && pb.posted >= n,
				fmt.Sprintf("%d upstream calls in flight at peak, %d of %d outcomes posted", pb.inFlight, pb.posted, n))},
		row{fmt.Sprintf("list requests per poll interval, following %s executions", count(*flagFollowed)), "1 for any N",
			fmt.Sprintf("%.2f", r.listsPerInterval), "",
			verdict(r.listsPerInterval == 1, r.listWindow+"; gauge says "+r.followedSeen+" followed")},
		row{"records requests while following (no status moves)", "0", fmt.Sprint(r.records), "", verdict(r.records == 0, "")},
	)

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tbar\treleasebot\tminimal bot\tresult")
	fmt.Fprintln(tw, "------\t---\t----------\t-----------\t------")
	for _, rw := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", rw.metric, dash(rw.bar), dash(rw.bot), dash(rw.min), dash(rw.result))
	}
	_ = tw.Flush()

	fmt.Fprintln(out)
	fmt.Fprintln(out, "Each releasebot `/release start bench-task` makes 2 upstream calls (list release tasks to resolve the name,")
	fmt.Fprintln(out, "then the start action), 3 SQLite writes and 1 chat.postMessage with blocks; the minimal bot makes 1 upstream")
	fmt.Fprintln(out, "call (the action) and 1 plain-text chat.postMessage. \"upstream 2 s\" delays every upstream answer, so a")
	fmt.Fprintln(out, "releasebot start spends 4 s upstream. Ack latency: the fake Slack writing the envelope to it reading the ack.")
	fmt.Fprintf(out, "Back-to-back and end-to-end figures are the median of %d run(s) per bot, alternating; each run is a fresh\n", max(*flagRounds, 1))
	fmt.Fprintln(out, "process with a fresh fake Slack, fake upstream and SQLite database. Bots run with GOMAXPROCS=2 on the same")
	fmt.Fprintln(out, "machine as this process, which plays Slack and ServiceStage.")
	fmt.Fprintln(out)
	for _, which := range []string{releasebot, minimal} {
		var p99s, rates []string
		for _, l := range r.b2b[which] {
			p99s = append(p99s, ms(l.pct(0.99)))
		}
		for _, t := range r.e2e[which] {
			rates = append(rates, fmt.Sprintf("%.0f/s in %.2f s, bot %.2f cores, bench %.2f cores", t.perSecond, t.took.Seconds(), t.childCPU, t.benchCPU))
		}
		fmt.Fprintf(out, "%s: back-to-back p99 per run: %s; end to end per run: %s\n", which, strings.Join(p99s, ", "), strings.Join(rates, "; "))
	}
	for _, which := range []string{releasebot, minimal} {
		p := r.paced[which]
		fmt.Fprintf(out, "%s, paced burst: largest VmRSS sampled %s, VmHWM %s, %d upstream calls in flight at peak, %d of %d outcomes posted\n",
			which, mb(p.mem.rss), mb(p.mem.hwm), p.inFlight, p.posted, n)
	}
	for _, note := range r.notes {
		fmt.Fprintln(out, note)
	}
	return allOK
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func count(n int) string {
	if n >= 1000 {
		return fmt.Sprintf("%d,%03d", n/1000, n%1000)
	}
	return fmt.Sprint(n)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

// medianDur is the median over runs of each run's percentile p.
func medianDur(runs []latencies, p float64) time.Duration {
	var v []float64
	for _, l := range runs {
		v = append(v, float64(l.pct(p)))
	}
	return time.Duration(median(v))
}

func medianRate(runs []throughput) float64 {
	var v []float64
	for _, t := range runs {
		v = append(v, t.perSecond)
	}
	return median(v)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

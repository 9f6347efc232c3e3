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

// print writes the table and its notes; it reports whether every bar that
// was measured is met.
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

	if pb, pm := r.paced[releasebot], r.paced[minimal]; len(pb) > 0 && len(pm) > 0 {
		what := fmt.Sprintf("%s paced at 1,000/s, upstream 2 s", count(n))
		p99 := medianAck(pb, 0.99)
		rows = append(rows,
			row{"ack latency p50, " + what, "", ms(medianAck(pb, 0.50)), ms(medianAck(pm, 0.50)), ""},
			row{"ack latency p99, " + what, "< 5 ms", ms(p99), ms(medianAck(pm, 0.99)), verdict(p99 < 5*time.Millisecond, "")},
			row{"ack latency max, " + what, "", ms(medianAck(pb, 1)), ms(medianAck(pm, 1)), ""},
		)
	}
	if bb, bm := r.b2b[releasebot], r.b2b[minimal]; len(bb) > 0 && len(bm) > 0 {
		what := fmt.Sprintf("%s back to back, upstream 2 s", count(n))
		botP99, minP99 := medianDur(bb, 0.99), medianDur(bm, 0.99)
		ratio := median(pairRatios(p99s(bb), p99s(bm)))
		rows = append(rows,
			row{"ack latency p50, " + what, "", ms(medianDur(bb, 0.5)), ms(medianDur(bm, 0.5)), ""},
			row{"ack latency p99, " + what, "≤ 1.5× minimal bot", ms(botP99), ms(minP99),
				verdict(ratio <= 1.5, fmt.Sprintf("%.2f×, median of %s", ratio, pairsOf(bb, bm)))},
			row{"ack latency max, " + what, "", ms(medianDur(bb, 1)), ms(medianDur(bm, 1)), ""},
		)
	}
	if eb, em := r.e2e[releasebot], r.e2e[minimal]; len(eb) > 0 && len(em) > 0 {
		botRate, minRate := medianRate(eb), medianRate(em)
		ratio := median(pairRatios(rates(eb), rates(em)))
		errs := 0
		for _, t := range append(slices.Clone(eb), em...) {
			errs += t.errors
		}
		detail := fmt.Sprintf("%.2f× minimal, median of %s", ratio, pairsOf(eb, em))
		if errs > 0 {
			detail += fmt.Sprintf(", %d error replies", errs)
		}
		rows = append(rows, row{fmt.Sprintf("commands/s end to end, %s back to back, upstream 0 s", count(e2e)),
			"≥ 1,000 and ≥ 0.8× minimal bot", fmt.Sprintf("%.0f", botRate), fmt.Sprintf("%.0f", minRate),
			verdict(botRate >= 1000 && ratio >= 0.8 && errs == 0, detail)})
	}
	if ib, ok := r.idle[releasebot]; ok {
		rows = append(rows, row{"resident memory (VmRSS) idle: connected, 1 s later", "< 30 MB", mb(ib.rss), mb(r.idle[minimal].rss),
			verdict(ib.rss < 30<<20, "")})
	}
	if pb := r.paced[releasebot]; len(pb) > 0 {
		worst := pb[0]
		for _, p := range pb[1:] {
			worst.mem.hwm = max(worst.mem.hwm, p.mem.hwm)
			worst.inFlight = min(worst.inFlight, p.inFlight)
			worst.posted = min(worst.posted, p.posted)
		}
		var minHWM int64
		for _, p := range r.paced[minimal] {
			minHWM = max(minHWM, p.mem.hwm)
		}
		rows = append(rows, row{fmt.Sprintf("resident memory (VmHWM), %s operations in flight", count(n)), "< 100 MB", mb(worst.mem.hwm), mb(minHWM),
			verdict(worst.mem.hwm < 100<<20 && worst.inFlight >= int64(n) && worst.posted >= n,
				fmt.Sprintf("≥ %d upstream calls in flight at once", worst.inFlight))})
	}
	for _, f := range r.following {
		rows = append(rows,
			row{fmt.Sprintf("list requests per poll interval, %s followed", count(f.n)), "1 for any N",
				fmt.Sprintf("%.2f", f.listsPerInterval), "",
				verdict(f.listsPerInterval == 1, fmt.Sprintf("%s; gauge: %s followed; bot CPU %s per interval",
					f.listWindow, f.followedSeen, ms(f.cpuPerInterval)))},
			row{fmt.Sprintf("records requests, %s followed, no status moves", count(f.n)), "0", fmt.Sprint(f.records), "",
				verdict(f.records == 0, "")},
		)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tbar\treleasebot\tminimal bot\tresult")
	fmt.Fprintln(tw, "------\t---\t----------\t-----------\t------")
	for _, rw := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", rw.metric, dash(rw.bar), dash(rw.bot), dash(rw.min), dash(rw.result))
	}
	_ = tw.Flush()

	fmt.Fprintf(out, `
A releasebot "/release start bench-task" makes 2 upstream calls (a list of release tasks to resolve the name,
then the start action; the list is shared by commands within 2 s), 1 SQLite commit and a chat.postMessage with blocks; the minimal bot makes 1 upstream
call (the action) and posts %s. "Upstream 2 s" delays every upstream answer, so a releasebot start
spends 4 s upstream. Ack latency runs from the fake Slack writing the envelope to it reading the ack. Latency,
throughput and in-flight memory are the median (memory: the largest) of %d run(s) per bot, each a fresh
process (GOMAXPROCS=2) with a fresh fake Slack, fake upstream and SQLite database, on the same machine as this
process, which plays Slack and ServiceStage. The runs come in pairs, one of each bot back to back (which goes
first alternates), so that machine noise hits both; a ratio is the median of the pairs' ratios.
`, map[string]string{"text": "plain text", "blocks": "a message shaped as releasebot's (-baseline-message blocks)"}[*flagMessage], max(*flagRounds, 1))
	if bb, bm := r.b2b[releasebot], r.b2b[minimal]; len(bb) > 0 && len(bm) > 0 {
		fmt.Fprintln(out, "back-to-back ack p99 pairs, releasebot / minimal bot: "+
			describePairs(p99s(bb), p99s(bm), func(v float64) string { return ms(time.Duration(v)) }))
	}
	if eb, em := r.e2e[releasebot], r.e2e[minimal]; len(eb) > 0 && len(em) > 0 {
		fmt.Fprintln(out, "end-to-end commands/s pairs, releasebot / minimal bot: "+
			describePairs(rates(eb), rates(em), func(v float64) string { return fmt.Sprintf("%.0f/s", v) }))
	}
	for _, which := range []string{releasebot, minimal} {
		var lines []string
		if ps := r.paced[which]; len(ps) > 0 {
			var s []string
			for _, p := range ps {
				s = append(s, fmt.Sprintf("p99 %s, %.2f cores, VmHWM %s, %d in flight", ms(p.acks.pct(0.99)), p.cpu, mb(p.mem.hwm), p.inFlight))
			}
			lines = append(lines, "paced: "+strings.Join(s, "; "))
		}
		if ls := r.b2b[which]; len(ls) > 0 {
			var s []string
			for _, l := range ls {
				s = append(s, ms(l.pct(0.99)))
			}
			lines = append(lines, "back-to-back p99: "+strings.Join(s, ", "))
		}
		if ts := r.e2e[which]; len(ts) > 0 {
			var s []string
			for _, t := range ts {
				s = append(s, fmt.Sprintf("%.0f/s (%.2f s, bot %.2f cores, fakes %.2f cores, connections opened %d to Slack, %d upstream)",
					t.perSecond, t.took.Seconds(), t.childCPU, t.benchCPU, t.slackConns, t.upConns))
			}
			lines = append(lines, "end to end: "+strings.Join(s, "; "))
		}
		if len(lines) > 0 {
			fmt.Fprintf(out, "%s runs: %s\n", which, strings.Join(lines, " | "))
		}
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

func medianAck(runs []pacedRun, p float64) time.Duration {
	var ls []latencies
	for _, r := range runs {
		ls = append(ls, r.acks)
	}
	return medianDur(ls, p)
}

func medianRate(runs []throughput) float64 { return median(rates(runs)) }

func rates(runs []throughput) []float64 {
	var v []float64
	for _, t := range runs {
		v = append(v, t.perSecond)
	}
	return v
}

func p99s(runs []latencies) []float64 {
	var v []float64
	for _, l := range runs {
		v = append(v, float64(l.pct(0.99)))
	}
	return v
}

// pairRatios divides each releasebot figure by the minimal bot's of the same
// round: the two runs of a round ran back to back.
func pairRatios(bot, base []float64) []float64 {
	var v []float64
	for i := range min(len(bot), len(base)) {
		if base[i] > 0 {
			v = append(v, bot[i]/base[i])
		}
	}
	return v
}

// pairsOf says how many pairs a ratio is the median of.
func pairsOf[T any](bot, base []T) string {
	if n := min(len(bot), len(base)); n != 1 {
		return fmt.Sprintf("%d pairs", n)
	}
	return "1 pair"
}

// describePairs lists each round's pair and ratio, then the median ratio.
func describePairs(bot, base []float64, format func(float64) string) string {
	ratios := pairRatios(bot, base)
	var s []string
	for i := range min(len(bot), len(base)) {
		first := "releasebot first"
		if alternate(len(bot))[2*i] == minimal {
			first = "minimal bot first"
		}
		s = append(s, fmt.Sprintf("%s / %s = %.2f× (%s)", format(bot[i]), format(base[i]), bot[i]/base[i], first))
	}
	return fmt.Sprintf("%s; median %.2f×", strings.Join(s, ", "), median(ratios))
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

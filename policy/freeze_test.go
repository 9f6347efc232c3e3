package policy

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const freezesSrc = `
freezes:
  - name: weekend
    cron: "0 18 * * FRI"
    duration: 62h
    timezone: Europe/Berlin
    reason: No releases over the weekend
  - name: black-friday
    release_tasks: ["payments-*", web]
    from: 2026-11-27T00:00:00Z
    to: 2026-11-30T23:59:59Z
    reason: Peak traffic
  - name: nightly
    release_tasks: [batch]
    cron: "0 22 * * *"
    duration: 10h
    reason: Batch jobs run
`

// show renders windows with their zone offsets, which comparing time.Time
// values with == or reflection would not check reliably.
func show(ws []Window) []string {
	out := []string{}
	for _, w := range ws {
		out = append(out, fmt.Sprintf("%s: %s .. %s (%s)", w.Name,
			w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339), w.Reason))
	}
	return out
}

func TestFreezesAt(t *testing.T) {
	p := mustParse(t, freezesSrc)
	berlin := mustZone(t, "Europe/Berlin")
	at := func(y int, m time.Month, d, h, min, s int) time.Time { return time.Date(y, m, d, h, min, s, 0, berlin) }
	const (
		autumn = "weekend: 2026-10-23T18:00:00+02:00 .. 2026-10-26T08:00:00+01:00 (No releases over the weekend)"
		spring = "weekend: 2026-03-27T18:00:00+01:00 .. 2026-03-30T08:00:00+02:00 (No releases over the weekend)"
	)
	tests := []struct {
		name string
		t    time.Time
		keys []string
		want []string
	}{
		{"before the weekend", at(2026, 10, 23, 17, 59, 59), []string{"web"}, []string{}},
		{"the weekend starts at its first instant", at(2026, 10, 23, 18, 0, 0), []string{"web"}, []string{autumn}},
		{"on Sunday after the clocks went back", at(2026, 10, 25, 2, 30, 0).Add(time.Hour), []string{"web"}, []string{autumn}},
		{
			// 62 real hours would end at 07:00 CET; the wall clock says 08:00.
			"Monday 07:30 local, an hour past 62 real hours", at(2026, 10, 26, 7, 30, 0), []string{"web"}, []string{autumn},
		},
		{"the weekend ends at 08:00 local", at(2026, 10, 26, 8, 0, 0), []string{"web"}, []string{}},
		{"spring: Saturday", at(2026, 3, 28, 12, 0, 0), []string{"web"}, []string{spring}},
		{"spring: Monday 07:59 local", at(2026, 3, 30, 7, 59, 0), []string{"web"}, []string{spring}},
		{"spring: Monday 08:00 local", at(2026, 3, 30, 8, 0, 0), []string{"web"}, []string{}},
		{
			"black friday for a matching glob, overlapping the weekend",
			at(2026, 11, 27, 20, 0, 0), []string{"payments-api"},
			[]string{
				"black-friday: 2026-11-27T00:00:00Z .. 2026-11-30T23:59:59Z (Peak traffic)",
				"weekend: 2026-11-27T18:00:00+01:00 .. 2026-11-30T08:00:00+01:00 (No releases over the weekend)",
			},
		},
		{"black friday by name, in another case", at(2026, 11, 27, 9, 0, 0), []string{"WEB"}, []string{"black-friday: 2026-11-27T00:00:00Z .. 2026-11-30T23:59:59Z (Peak traffic)"}},
		{"black friday not for others", at(2026, 11, 27, 9, 0, 0), []string{"billing"}, []string{}},
		{"black friday matched by any key", at(2026, 11, 27, 9, 0, 0), []string{"billing", "web"}, []string{"black-friday: 2026-11-27T00:00:00Z .. 2026-11-30T23:59:59Z (Peak traffic)"}},
		{"to is the first instant after", time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC), []string{"web"}, []string{}},
		{"from is the first instant", time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), []string{"web"}, []string{"black-friday: 2026-11-27T00:00:00Z .. 2026-11-30T23:59:59Z (Peak traffic)"}},
		{"a freeze without timezone is in UTC", time.Date(2026, 5, 5, 3, 0, 0, 0, time.UTC), []string{"batch"}, []string{"nightly: 2026-05-04T22:00:00Z .. 2026-05-05T08:00:00Z (Batch jobs run)"}},
		{
			"no keys: every freeze",
			time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC), nil,
			[]string{
				"black-friday: 2026-11-27T00:00:00Z .. 2026-11-30T23:59:59Z (Peak traffic)",
				"weekend: 2026-11-27T18:00:00+01:00 .. 2026-11-30T08:00:00+01:00 (No releases over the weekend)",
				"nightly: 2026-11-27T22:00:00Z .. 2026-11-28T08:00:00Z (Batch jobs run)",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.FreezesAt(tt.t, tt.keys...)

			assert.Equal(t, tt.want, show(got))
		})
	}
}

func TestFreezesAtOrdersByStart(t *testing.T) {
	p := mustParse(t, freezesSrc)

	got := p.FreezesAt(time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC))

	require.Len(t, got, 3)
	for i := 1; i < len(got); i++ {
		assert.False(t, got[i].Start.Before(got[i-1].Start), "%v before %v", got[i], got[i-1])
	}
}

func TestFreezesMerge(t *testing.T) {
	tests := []struct {
		name string
		cron string
		dur  string
		t    string
		want string
	}{
		{"touching windows merge", "0 0 * * SAT,SUN", "24h", "2026-06-06T12:00:00Z", "2026-06-06T00:00:00Z .. 2026-06-08T00:00:00Z"},
		{"from the second window", "0 0 * * SAT,SUN", "24h", "2026-06-07T12:00:00Z", "2026-06-06T00:00:00Z .. 2026-06-08T00:00:00Z"},
		{"overlapping windows merge", "0 9,10 * * *", "2h", "2026-06-03T09:30:00Z", "2026-06-03T09:00:00Z .. 2026-06-03T12:00:00Z"},
		{"windows with a gap do not", "0 9,12 * * *", "2h", "2026-06-03T09:30:00Z", "2026-06-03T09:00:00Z .. 2026-06-03T11:00:00Z"},
		// Windows that never stop overlapping are followed maxJumps (8) times
		// each way (2h per jump here), not for ever.
		{"an endless chain stops", "0 * * * *", "2h", "2026-06-03T09:30:00Z", "2026-06-02T17:00:00Z .. 2026-06-04T03:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, fmt.Sprintf("freezes:\n  - {name: f, reason: r, cron: %q, duration: %s}\n", tt.cron, tt.dur))
			at, err := time.Parse(time.RFC3339, tt.t)
			require.NoError(t, err)

			got := p.FreezesAt(at)

			assert.Equal(t, []string{"f: " + tt.want + " (r)"}, show(got))
		})
	}
}

func TestUpcoming(t *testing.T) {
	p := mustParse(t, freezesSrc)
	berlin := mustZone(t, "Europe/Berlin")
	tests := []struct {
		name   string
		from   time.Time
		within time.Duration
		keys   []string
		want   []string
	}{
		{
			"the next weekend",
			time.Date(2026, 10, 21, 12, 0, 0, 0, berlin), 7 * 24 * time.Hour, []string{"web"},
			[]string{"weekend: 2026-10-23T18:00:00+02:00 .. 2026-10-26T08:00:00+01:00 (No releases over the weekend)"},
		},
		{
			"a window under way, then the next",
			time.Date(2026, 10, 26, 7, 0, 0, 0, berlin), 7 * 24 * time.Hour, []string{"web"},
			[]string{
				"weekend: 2026-10-23T18:00:00+02:00 .. 2026-10-26T08:00:00+01:00 (No releases over the weekend)",
				"weekend: 2026-10-30T18:00:00+01:00 .. 2026-11-02T08:00:00+01:00 (No releases over the weekend)",
			},
		},
		{
			"from/to and cron for a glob",
			time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), 7 * 24 * time.Hour, []string{"payments-api"},
			[]string{
				"black-friday: 2026-11-27T00:00:00Z .. 2026-11-30T23:59:59Z (Peak traffic)",
				"weekend: 2026-11-27T18:00:00+01:00 .. 2026-11-30T08:00:00+01:00 (No releases over the weekend)",
			},
		},
		{
			"a window starting at the end of the range is not in it",
			time.Date(2026, 10, 22, 18, 0, 0, 0, berlin), 24 * time.Hour, []string{"web"}, []string{},
		},
		{
			"a window ending at the start of the range is not in it",
			time.Date(2026, 10, 26, 8, 0, 0, 0, berlin), 24 * time.Hour, []string{"web"}, []string{},
		},
		{
			"nightly, every night",
			time.Date(2026, 5, 5, 12, 0, 0, 0, time.UTC), 3 * 24 * time.Hour, []string{"batch"},
			[]string{
				"nightly: 2026-05-05T22:00:00Z .. 2026-05-06T08:00:00Z (Batch jobs run)",
				"nightly: 2026-05-06T22:00:00Z .. 2026-05-07T08:00:00Z (Batch jobs run)",
				"nightly: 2026-05-07T22:00:00Z .. 2026-05-08T08:00:00Z (Batch jobs run)",
			},
		},
		{"nothing within zero", time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), 0, nil, []string{}},
		{"nothing within a negative duration", time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), -time.Hour, nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.Upcoming(tt.from, tt.within, tt.keys...)

			assert.Equal(t, tt.want, show(got))
		})
	}
}

func TestUpcomingIsBounded(t *testing.T) {
	p := mustParse(t, "freezes:\n  - {name: f, reason: r, cron: '* * * * *', duration: 1s}\n")
	from := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

	got := p.Upcoming(from, 7*24*time.Hour)

	require.Len(t, got, MaxWindows)
	for i, w := range got {
		assert.Equal(t, from.Add(time.Duration(i)*time.Minute), w.Start.UTC(), i)
		assert.Equal(t, time.Second, w.End.Sub(w.Start), i)
	}
}

// TestFreezeWindowInvariants checks, for freezes of several shapes in zones
// with clock changes (Lord Howe's is half an hour), at instants spread over a
// year, that a window FreezesAt returns holds at t and that Upcoming returns
// it too.
func TestFreezeWindowInvariants(t *testing.T) {
	p := mustParse(t, `
freezes:
  - {name: a, reason: r, cron: "30 2 * * *", duration: 90m, timezone: Europe/Berlin}
  - {name: b, reason: r, cron: "0 18 * * FRI", duration: 62h, timezone: America/New_York}
  - {name: c, reason: r, cron: "15 */5 * * *", duration: 3h, timezone: Australia/Lord_Howe}
  - {name: d, reason: r, cron: "0 0 1 * *", duration: 240h, timezone: Pacific/Apia}
`)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	checked := 0
	for t0 := start; t0.Before(start.AddDate(1, 0, 0)); t0 = t0.Add(17*time.Hour + 11*time.Minute) {
		for _, w := range p.FreezesAt(t0) {
			require.False(t, t0.Before(w.Start), "%v: %+v starts after", t0, w)
			require.True(t, t0.Before(w.End), "%v: %+v ends before", t0, w)
			up := p.Upcoming(t0, time.Second)
			require.Contains(t, show(up), show([]Window{w})[0], "%v", t0)
			checked++
		}
	}
	assert.Greater(t, checked, 300, "windows checked")
}

// TestFreezesClockChanges pins what the package comment promises for starts
// in the hour the clocks skip or repeat (Europe/Berlin, 2026).
func TestFreezesClockChanges(t *testing.T) {
	p := mustParse(t, "freezes:\n  - {name: f, reason: r, cron: '30 2 * * *', duration: 30m, timezone: Europe/Berlin}\n")
	tests := []struct {
		name string
		t    string
		want []string
	}{
		{"the repeated 02:30 starts twice and the windows merge", "2026-10-25T01:45:00Z", []string{"f: 2026-10-25T02:30:00+02:00 .. 2026-10-25T03:00:00+01:00 (r)"}},
		{"the skipped 02:30 does not start", "2026-03-29T01:15:00Z", []string{}},
		{"the day after", "2026-03-30T00:45:00Z", []string{"f: 2026-03-30T02:30:00+02:00 .. 2026-03-30T03:00:00+02:00 (r)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, err := time.Parse(time.RFC3339, tt.t)
			require.NoError(t, err)

			assert.Equal(t, tt.want, show(p.FreezesAt(at)))
		})
	}
}

package policy

import (
	"testing"
	"time"
)

// BenchmarkFreezesAt measures the check a start makes, for a usual freeze and
// for freezes whose windows never stop overlapping (the costliest to merge).
func BenchmarkFreezesAt(b *testing.B) {
	for _, bb := range []struct{ name, freeze string }{
		{"weekly", "{name: f, reason: r, cron: '0 18 * * FRI', duration: 62h, timezone: Europe/Berlin}"},
		{"from-to", "{name: f, reason: r, from: 2026-06-01T00:00:00Z, to: 2026-06-30T00:00:00Z}"},
		{"endless-hourly", "{name: f, reason: r, cron: '15 */5 * * *', duration: 5h, timezone: Australia/Lord_Howe}"},
		{"endless-monthly", "{name: f, reason: r, cron: '0 0 1 * *', duration: 744h, timezone: Pacific/Apia}"},
	} {
		p := mustParse(b, "freezes:\n  - "+bb.freeze+"\n")
		t0 := time.Date(2026, 6, 5, 12, 0, 0, 0, time.UTC)
		b.Run(bb.name, func(b *testing.B) {
			for b.Loop() {
				p.FreezesAt(t0, "web")
			}
		})
	}
}

// BenchmarkUpcoming measures a week's listing for a freeze that starts every
// minute, which MaxWindows bounds.
func BenchmarkUpcoming(b *testing.B) {
	p := mustParse(b, "freezes:\n  - {name: f, reason: r, cron: '* * * * *', duration: 1s}\n")
	t0 := time.Date(2026, 6, 5, 12, 0, 0, 0, time.UTC)
	for b.Loop() {
		p.Upcoming(t0, 7*24*time.Hour)
	}
}

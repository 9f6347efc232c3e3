package policy

import (
	"sort"
	"time"

	"github.com/robfig/cron/v3"
)

const (
	// MaxWindows bounds the windows Upcoming returns for one freeze, and so
	// the work a freeze that starts every minute can cause.
	MaxWindows = 100
	// maxJumps bounds how far windows of a freeze that overlap or touch are
	// followed, each way, when they are merged (each step costs a search); a
	// freeze whose windows never stop overlapping is reported as starting and
	// ending where the search stopped.
	maxJumps = 8
	// margin covers the difference between a duration counted on the wall
	// clock and the real time it takes: at most a zone's offset change, which
	// has been as much as a day (Samoa, 2011).
	margin = 48 * time.Hour
	// maxDuration is the longest cron freeze window.
	maxDuration = 366 * 24 * time.Hour
)

// freeze is one entry of freezes: a cron freeze (sched set) or a from/to one.
type freeze struct {
	name, reason string
	patterns     []string // lower case, path.Match syntax
	loc          *time.Location

	sched *cron.SpecSchedule // evaluated in loc
	dur   time.Duration

	from, to time.Time
}

// span is a window's start and end, End exclusive.
type span struct{ start, end time.Time }

func (f *freeze) window(s span) Window {
	return Window{Name: f.name, Reason: f.reason, Start: s.start.In(f.loc), End: s.end.In(f.loc)}
}

// applies reports whether the freeze covers the release task with these
// identifiers; every freeze covers "no keys".
func (f *freeze) applies(keys []string) bool {
	if len(keys) == 0 {
		return true
	}
	for _, p := range f.patterns {
		if matchAny(p, keys) {
			return true
		}
	}
	return false
}

// next returns the first start strictly after t, or the zero time when there
// is none within five years (cron's limit).
func (f *freeze) next(t time.Time) time.Time { return f.sched.Next(t.In(f.loc)) }

// end returns the end of the window that starts at start: the duration added
// on the wall clock of the freeze's zone.
func (f *freeze) end(start time.Time) time.Time {
	s := start.In(f.loc)
	e := time.Date(s.Year(), s.Month(), s.Day(), s.Hour(), s.Minute(),
		s.Second()+int(f.dur/time.Second), s.Nanosecond()+int(f.dur%time.Second), f.loc)
	if !e.After(start) {
		// Only conceivable around a clock change; a window is never empty.
		e = start.Add(f.dur)
	}
	return e
}

// latest returns the last start in (lo, t]. cron only looks forward, so it
// searches, to the second, for the shortest step back from t after which the
// next start is not after t: O(log((t-lo)/1s)) calls instead of one per start.
func (f *freeze) latest(lo, t time.Time) (time.Time, bool) {
	n := int(t.Sub(lo)/time.Second) + 1
	startAfter := func(k int) time.Time { return f.next(t.Add(-time.Duration(k) * time.Second)) }
	k := sort.Search(n, func(k int) bool {
		a := startAfter(k)
		return !a.IsZero() && !a.After(t)
	})
	if k == n {
		return time.Time{}, false
	}
	a := startAfter(k)
	return a, a.After(lo)
}

// earliestReaching returns the first start before s whose window reaches s
// (ends at s or later), searching back as far as a window can last.
func (f *freeze) earliestReaching(s time.Time) (time.Time, bool) {
	lo := s.Add(-f.dur - margin)
	n := int(s.Sub(lo)/time.Second) + 1
	startAfter := func(k int) time.Time { return f.next(lo.Add(time.Duration(k) * time.Second)) }
	k := sort.Search(n, func(k int) bool {
		a := startAfter(k)
		return a.IsZero() || !a.Before(s) || !f.end(a).Before(s)
	})
	if k == n {
		return time.Time{}, false
	}
	a := startAfter(k)
	return a, !a.IsZero() && a.Before(s)
}

// spanAt returns the window that holds at t, merged with the windows of this
// freeze that overlap or touch it.
func (f *freeze) spanAt(t time.Time) (span, bool) {
	if f.sched == nil {
		return span{f.from, f.to}, !t.Before(f.from) && t.Before(f.to)
	}
	a, ok := f.latest(t.Add(-f.dur-margin), t)
	if !ok {
		return span{}, false
	}
	s := span{a, f.end(a)}
	if !s.end.After(t) {
		return span{}, false
	}
	return f.extendForward(f.extendBack(s), a), true
}

// extendBack merges into s the earlier windows that reach its start.
func (f *freeze) extendBack(s span) span {
	for range maxJumps {
		// One call settles the usual case: no start at all within reach.
		if n := f.next(s.start.Add(-f.dur - margin)); n.IsZero() || !n.Before(s.start) {
			return s
		}
		b, ok := f.earliestReaching(s.start)
		if !ok {
			return s
		}
		s.start = b
	}
	return s
}

// extendForward merges into s the windows that start in it or at its end;
// last is the latest start known to be in s.
func (f *freeze) extendForward(s span, last time.Time) span {
	for range maxJumps {
		// One call settles the usual case: no start before the window ends.
		if n := f.next(last); n.IsZero() || n.After(s.end) {
			return s
		}
		b, ok := f.latest(last, s.end)
		if !ok {
			return s
		}
		e := f.end(b)
		if !e.After(s.end) {
			return s // a later start ending earlier: only around a clock change
		}
		s.end, last = e, b
	}
	return s
}

// spans returns the merged windows that hold at some time in [from, to), at
// most MaxWindows.
func (f *freeze) spans(from, to time.Time) []span {
	if f.sched == nil {
		if f.from.Before(to) && f.to.After(from) {
			return []span{{f.from, f.to}}
		}
		return nil
	}
	var out []span
	s, ok := f.spanAt(from)
	if ok {
		out = append(out, s)
	} else {
		s.end = from
	}
	for len(out) < MaxWindows {
		// Every start up to s.end was merged into s, so the next window
		// starts after it and nothing before reaches it.
		a := f.next(s.end)
		if a.IsZero() || !a.Before(to) {
			break
		}
		s = f.extendForward(span{a, f.end(a)}, a)
		out = append(out, s)
	}
	return out
}

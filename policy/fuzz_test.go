package policy

import (
	"errors"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParse feeds arbitrary files to Parse (seed corpus in
// testdata/fuzz/FuzzParse, run as an ordinary test): it must never panic, a
// rejected file must come with problems that have text and a line within
// the file, and an accepted one must answer every query with windows that
// make sense.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			checkRejected(t, data, p, err)
			return
		}
		if p == nil {
			t.Fatal("nil Policy without an error")
		}
		keys := [][]string{nil, {"payments-api"}, {"web", "0f3a", "prod"}, {""}}
		for _, k := range keys {
			p.RulesFor(k...)
		}
		for _, at := range []time.Time{
			time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), // Europe's clocks go back
			time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC),  // and forward
			time.Date(2026, 11, 27, 17, 0, 0, 0, time.UTC),
		} {
			for _, k := range keys {
				checkWindows(t, p, at, k)
			}
		}
	})
}

func checkRejected(t *testing.T, data []byte, p *Policy, err error) {
	t.Helper()
	if p != nil {
		t.Fatalf("a Policy with error %v", err)
	}
	var perr *Error
	if !errors.As(err, &perr) || len(perr.Problems) == 0 {
		t.Fatalf("error %v is not an *Error with problems", err)
	}
	lines := 1
	for rest := data; len(rest) > 0; {
		r, size := utf8.DecodeRune(rest)
		if rest = rest[size:]; isBreak(r, rest) {
			lines++
		}
	}
	for _, pr := range perr.Problems {
		if pr.Msg == "" || pr.Line < 0 || pr.Line > lines+1 {
			t.Fatalf("problem %+v in a file of %d lines", pr, lines)
		}
	}
}

func checkWindows(t *testing.T, p *Policy, at time.Time, keys []string) {
	t.Helper()
	for _, w := range p.FreezesAt(at, keys...) {
		if at.Before(w.Start) || !at.Before(w.End) || w.Name == "" || w.Reason == "" {
			t.Fatalf("FreezesAt(%v) returned %+v", at, w)
		}
	}
	const week = 7 * 24 * time.Hour
	perFreeze := map[string]int{}
	for _, w := range p.Upcoming(at, week, keys...) {
		if !w.Start.Before(w.End) || !w.End.After(at) || !w.Start.Before(at.Add(week)) {
			t.Fatalf("Upcoming(%v) returned %+v", at, w)
		}
		if perFreeze[w.Name]++; perFreeze[w.Name] > MaxWindows {
			t.Fatalf("Upcoming(%v) returned more than %d windows of %q", at, MaxWindows, w.Name)
		}
	}
}

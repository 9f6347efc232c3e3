// Package policy reads releasebot's policy file (SPEC §8, §9): per-release-task rules and freeze windows.
//
// The package is pure: Parse reads only the bytes it is given, and the
// methods of Policy only compute. A nil *Policy is valid and has no rules and
// no freezes, which is what an unset RELEASEBOT_POLICY means.
//
// Matching. A key of release_tasks, and an entry of a freeze's
// release_tasks, is a release task's name, one of its aliases, its ID, or a
// glob in path.Match syntax ("payments-*"). Keys are compared with the
// identifiers the caller passes without regard to case, the way a typed name
// finds its release task in another case.
//
// Freeze windows. A cron freeze has five standard fields (minute, hour, day
// of month, month, day of week; names such as FRI allowed; descriptors such
// as @daily are not, so every start reads as a time and @every, which has no
// fixed times, cannot slip in), evaluated in the freeze's time zone. Its
// duration is counted on that zone's wall clock: a window that starts on
// Friday at 18:00 and lasts 62h ends on Monday at 08:00 local time, also on
// the weekend the clocks change (it then lasts 61 or 63 real hours). A start
// that falls in the hour skipped when the clocks go forward does not happen
// that day, and one in the hour repeated when they go back happens twice; the
// two windows merge. Windows of one freeze that overlap or touch are reported
// as one window. from and to are instants; to is the first instant after the
// freeze.
package policy

import (
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	_ "time/tzdata" // freezes name IANA time zones; the container image carries no zoneinfo
)

// Policy is a parsed policy file. Its zero value, and nil, have no rules and
// no freezes. A Policy is never changed after Parse, so it may be used from
// several goroutines.
type Policy struct {
	rules   []rule   // in file order
	freezes []freeze // in file order
}

// Rules are the settings one key of release_tasks gives a release task.
// A nil Principals field was not set, so the global setting applies; a
// non-nil empty one was set to an empty list and admits nobody.
type Rules struct {
	Key string // the key of the policy file that matched, for logs

	Operators  *Principals // replaces RELEASEBOT_OPERATORS
	Approvers  *Principals // replaces RELEASEBOT_APPROVERS
	EscalateTo *Principals // replaces RELEASEBOT_APPROVAL_ESCALATE_TO

	RequiredApprovals int // replaces RELEASEBOT_REQUIRED_APPROVALS; 0 when not set
}

// Principals is who an authorization list admits.
type Principals struct {
	All    bool     // the list holds "*"
	Users  []string // U... and W... IDs
	Groups []string // S... user group IDs
}

// IsEmpty reports whether nobody is admitted.
func (p Principals) IsEmpty() bool { return !p.All && len(p.Users) == 0 && len(p.Groups) == 0 }

// Add adds one entry of a list: "*", a user ID (U..., W...) or a user group
// ID (S...). It reports false, and adds nothing, for anything else; the
// message for that is PrincipalProblem.
func (p *Principals) Add(id string) bool {
	switch {
	case id == "*":
		p.All = true
	case isID(id, "UW"):
		p.Users = append(p.Users, id)
	case isID(id, "S"):
		p.Groups = append(p.Groups, id)
	default:
		return false
	}
	return true
}

// PrincipalProblem is the text, after the quoted entry, that says why Add
// refused it; the environment and the policy file report it alike.
const PrincipalProblem = "is not *, a user ID (U..., W...) or a user group ID (S...)"

// isID reports whether s is one of the first letters then at least two upper
// case letters or digits, the shape of Slack's IDs.
func isID(s, first string) bool {
	if len(s) < 3 || !strings.ContainsRune(first, rune(s[0])) {
		return false
	}
	for _, c := range s[1:] {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func (p *Principals) clone() *Principals {
	if p == nil {
		return nil
	}
	return &Principals{All: p.All, Users: slices.Clone(p.Users), Groups: slices.Clone(p.Groups)}
}

// rule is one key of release_tasks.
type rule struct {
	pattern string // lower case
	glob    bool   // pattern has a glob metacharacter
	rules   Rules
}

// RulesFor returns the rules for one release task, given its identifiers
// (its name, its aliases, its ID), and false when no key matches. The most
// specific key wins: a key equal to one of keys beats every glob, the
// earliest of keys first; among globs the longest pattern (in characters)
// wins, and of two as long the one first in lexical order. The returned
// Rules are the caller's to change.
func (p *Policy) RulesFor(keys ...string) (Rules, bool) {
	if p == nil {
		return Rules{}, false
	}
	for _, k := range keys {
		k = strings.ToLower(k)
		for _, r := range p.rules {
			if !r.glob && k != "" && r.pattern == k {
				return r.rules.clone(), true
			}
		}
	}
	var best *rule
	for i := range p.rules {
		r := &p.rules[i]
		if !r.glob || !matchAny(r.pattern, keys) {
			continue
		}
		if best == nil || moreSpecific(r.rules.Key, best.rules.Key) {
			best = r
		}
	}
	if best == nil {
		return Rules{}, false
	}
	return best.rules.clone(), true
}

// AllRules returns the rules of every key, in the file's order: who may
// act on some release task, before it is known which.
func (p *Policy) AllRules() []Rules {
	if p == nil {
		return nil
	}
	out := make([]Rules, 0, len(p.rules))
	for _, r := range p.rules {
		out = append(out, r.rules.clone())
	}
	return out
}

func moreSpecific(a, b string) bool {
	la, lb := utf8.RuneCountInString(a), utf8.RuneCountInString(b)
	return la > lb || la == lb && a < b
}

func (r Rules) clone() Rules {
	r.Operators = r.Operators.clone()
	r.Approvers = r.Approvers.clone()
	r.EscalateTo = r.EscalateTo.clone()
	return r
}

// matchAny reports whether the lower-case pattern matches one of keys.
func matchAny(pattern string, keys []string) bool {
	for _, k := range keys {
		if k == "" {
			continue
		}
		// Patterns were checked by Parse, so Match cannot fail here.
		if ok, _ := path.Match(pattern, strings.ToLower(k)); ok {
			return true
		}
	}
	return false
}

// Window is one freeze window.
type Window struct {
	Name   string    // the freeze's name
	Reason string    // why, as the policy file says
	Start  time.Time // in the freeze's time zone
	End    time.Time // the first instant after the window, in the freeze's time zone
}

// FreezesAt returns the freeze windows that hold at t for one release task,
// given its identifiers as for RulesFor; with no keys, those of every
// freeze. Overlapping windows of different freezes are all returned, ordered
// by start, then name.
func (p *Policy) FreezesAt(t time.Time, keys ...string) []Window {
	if p == nil {
		return nil
	}
	var out []Window
	for i := range p.freezes {
		f := &p.freezes[i]
		if !f.applies(keys) {
			continue
		}
		if s, ok := f.spanAt(t); ok {
			out = append(out, f.window(s))
		}
	}
	sortWindows(out)
	return out
}

// Upcoming returns the freeze windows that hold at some time in [from,
// from+within) for one release task, given its identifiers as for RulesFor;
// with no keys, those of every freeze. A window that began before from and
// still holds is included. Windows are ordered by start, then name; at most
// MaxWindows per freeze are returned.
func (p *Policy) Upcoming(from time.Time, within time.Duration, keys ...string) []Window {
	if p == nil || within <= 0 {
		return nil
	}
	to := from.Add(within)
	var out []Window
	for i := range p.freezes {
		f := &p.freezes[i]
		if !f.applies(keys) {
			continue
		}
		for _, s := range f.spans(from, to) {
			out = append(out, f.window(s))
		}
	}
	sortWindows(out)
	return out
}

func sortWindows(ws []Window) {
	slices.SortStableFunc(ws, func(a, b Window) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}

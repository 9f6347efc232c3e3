package release

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// AllTasks is the Target of a lock on every release task.
const AllTasks = "*"

// Bounds of a lock's duration (SPEC §9).
const (
	DefaultLockFor = 2 * time.Hour
	MaxLockFor     = 7 * 24 * time.Hour
	MinLockFor     = time.Second
)

// Lock reserves a release task, or every one, for its holder until a time:
// others may not start, retry or continue it meanwhile.
type Lock struct {
	ID        string
	Target    string // a release task's ID, or AllTasks
	TaskName  string // the release task's name when it was locked; "" for AllTasks
	Holder    string
	Reason    string // as the holder typed it
	Channel   string // where it was announced, and where its end is
	CreatedAt time.Time
	Until     time.Time
	EndedAt   time.Time // zero while it holds; Until when it ran out
	EndedBy   string    // who unlocked or broke it; "" when it ran out
}

// Held reports whether l holds at now: not ended, and its time not up.
func (l Lock) Held(now time.Time) bool { return l.EndedAt.IsZero() && now.Before(l.Until) }

// Covers reports whether l is on the release task pipelineID (or on all).
func (l Lock) Covers(pipelineID string) bool { return l.Target == AllTasks || l.Target == pipelineID }

// Blocking returns the lock that keeps user from running pipelineID at now:
// one held by someone else on that release task or on all of them. A lock
// on the release task itself is named before an all lock.
func Blocking(locks []Lock, pipelineID, user string, now time.Time) (Lock, bool) {
	var all *Lock
	for i := range locks {
		l := &locks[i]
		if l.Holder == user || !l.Held(now) || !l.Covers(pipelineID) {
			continue
		}
		if l.Target != AllTasks {
			return *l, true
		}
		if all == nil {
			all = l
		}
	}
	if all != nil {
		return *all, true
	}
	return Lock{}, false
}

// Conflicting returns the lock that keeps user from taking a lock on
// target at now: for a release task, what Blocking finds; for AllTasks,
// only an all lock held by someone else (locks on single release tasks
// keep holding).
func Conflicting(locks []Lock, target, user string, now time.Time) (Lock, bool) {
	if target != AllTasks {
		return Blocking(locks, target, user, now)
	}
	for _, l := range locks {
		if l.Target == AllTasks && l.Holder != user && l.Held(now) {
			return l, true
		}
	}
	return Lock{}, false
}

// ErrLockFor is wrapped by LockFor's errors.
var ErrLockFor = errors.New("bad lock duration")

// LockFor checks the duration asked for a lock: 0 means DefaultLockFor;
// anything under MinLockFor or over MaxLockFor is an error.
func LockFor(d time.Duration) (time.Duration, error) {
	switch {
	case d == 0:
		return DefaultLockFor, nil
	case d < MinLockFor:
		return 0, fmt.Errorf("%w: %s is less than a second", ErrLockFor, d)
	case d > MaxLockFor:
		return 0, fmt.Errorf("%w: %s is more than 7 days", ErrLockFor, FormatDuration(d))
	}
	return d, nil
}

var daysPrefix = regexp.MustCompile(`^([0-9]{1,4})d`)

// ParseDuration reads a duration as Go writes them (90m, 36h, 1h30m) plus
// days (2d, 1d12h). Negative durations are errors.
func ParseDuration(s string) (time.Duration, error) {
	var days time.Duration
	rest := s
	if m := daysPrefix.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		days, rest = time.Duration(n)*24*time.Hour, s[len(m[0]):]
	}
	var d time.Duration
	if rest != "" || s == "" {
		var err error
		if d, err = time.ParseDuration(rest); err != nil {
			return 0, fmt.Errorf("%q is not a duration (write 90m, 36h or 2d)", s)
		}
	}
	if d < 0 || d > 1<<62-days {
		return 0, fmt.Errorf("%q is not a duration (write 90m, 36h or 2d)", s)
	}
	return days + d, nil
}

// FormatDuration writes d in days and Go's form: 2d, 1d12h0m0s, 90m0s.
func FormatDuration(d time.Duration) string {
	day := 24 * time.Hour
	if d < day {
		return d.String()
	}
	days, rest := d/day, d%day
	if rest == 0 {
		return strconv.Itoa(int(days)) + "d"
	}
	return strconv.Itoa(int(days)) + "d" + rest.String()
}

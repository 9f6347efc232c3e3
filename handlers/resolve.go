package handlers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/releasebot/releasebot/api"
)

// resolver turns what a user typed into a release task: its name as
// ServiceStage shows it, an alias from RELEASEBOT_ALIASES, or its ID.
type resolver struct {
	releases Releases
	aliases  map[string]string // alias → release task ID
	ttl      time.Duration     // how long a list answers for names
	now      func() time.Time

	mu       sync.Mutex
	tasks    []api.ReleaseTask
	listedAt time.Time
	inflight *listCall
}

type listCall struct {
	done  chan struct{}
	tasks []api.ReleaseTask
	err   error
}

// list returns the release tasks: a list at most ttl old, unless fresh, and
// one request shared by every command that asks while it is in flight, so
// that a burst of commands costs one list, not one each.
func (r *resolver) list(ctx context.Context, fresh bool) ([]api.ReleaseTask, error) {
	r.mu.Lock()
	if !fresh && r.tasks != nil && r.now().Sub(r.listedAt) < r.ttl {
		tasks := r.tasks
		r.mu.Unlock()
		return tasks, nil
	}
	call := r.inflight
	if call == nil {
		call = &listCall{done: make(chan struct{})}
		r.inflight = call
		go func() {
			// Its own bound: the first asker leaving must not fail the others.
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
			defer cancel()
			tasks, err := r.releases.ListReleaseTasks(lctx)
			r.mu.Lock()
			if err == nil {
				r.tasks, r.listedAt = tasks, r.now()
			}
			r.inflight = nil
			r.mu.Unlock()
			call.tasks, call.err = tasks, err
			close(call.done)
		}()
	}
	r.mu.Unlock()
	select {
	case <-call.done:
		return call.tasks, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// resolve matches typed against the release tasks. An unknown or ambiguous
// name is a userError that lists the closest names; before saying so, it
// looks again at a fresh list, in case the task is new.
func (r *resolver) resolve(ctx context.Context, typed string) (api.ReleaseTask, error) {
	tasks, err := r.list(ctx, false)
	if err != nil {
		return api.ReleaseTask{}, err
	}
	task, err := r.match(typed, tasks)
	var ue *userError
	if errors.As(err, &ue) && ue.kind == kindNotFound {
		if tasks, err = r.list(ctx, true); err != nil {
			return api.ReleaseTask{}, err
		}
		return r.match(typed, tasks)
	}
	return task, err
}

// match finds typed among tasks: an alias, an exact name, a name in another
// case, or an ID.
func (r *resolver) match(typed string, tasks []api.ReleaseTask) (api.ReleaseTask, error) {
	if id, ok := r.aliases[typed]; ok {
		for _, t := range tasks {
			if t.ID == id {
				return t, nil
			}
		}
		return api.ReleaseTask{}, notFoundf("Alias %s points to release task ID %s, which ServiceStage does not list. Check RELEASEBOT_ALIASES.",
			code(typed), code(id))
	}
	var exact, folded []api.ReleaseTask
	for _, t := range tasks {
		switch {
		case t.Name == typed:
			exact = append(exact, t)
		case strings.EqualFold(t.Name, typed):
			folded = append(folded, t)
		}
	}
	for _, set := range [][]api.ReleaseTask{exact, folded} {
		switch {
		case len(set) == 1:
			return set[0], nil
		case len(set) > 1:
			ids := make([]string, len(set))
			for i, t := range set {
				ids[i] = string(code(t.ID))
			}
			return api.ReleaseTask{}, notFoundf("Several release tasks are named %s; use one of their IDs: %s.", code(typed), safe(strings.Join(ids, ", ")))
		}
	}
	for _, t := range tasks {
		if t.ID == typed {
			return t, nil
		}
	}
	msg := fmt.Sprintf("No release task is named %s.", code(typed))
	if near := closest(typed, tasks, r.aliases, 3); len(near) > 0 {
		msg += " Did you mean " + strings.Join(near, ", ") + "?"
	} else if len(tasks) > 0 {
		msg += " `/release list` shows them all."
	}
	return api.ReleaseTask{}, notFoundf("%s", safe(msg))
}

// closest returns up to n names (and aliases) nearest to typed, formatted.
func closest(typed string, tasks []api.ReleaseTask, aliases map[string]string, n int) []string {
	type cand struct {
		name string
		dist int
	}
	want := strings.ToLower(typed)
	var cands []cand
	seen := map[string]bool{}
	consider := func(name string) {
		if name == "" || seen[name] {
			return
		}
		seen[name] = true
		l := strings.ToLower(name)
		d := levenshtein(want, l)
		if strings.Contains(l, want) || strings.Contains(want, l) {
			d = min(d, 1)
		}
		if d <= max(2, len([]rune(want))/3) {
			cands = append(cands, cand{name, d})
		}
	}
	for _, t := range tasks {
		consider(t.Name)
	}
	for a := range aliases {
		consider(a)
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].dist != cands[j].dist {
			return cands[i].dist < cands[j].dist
		}
		return cands[i].name < cands[j].name
	})
	var out []string
	for i := 0; i < len(cands) && i < n; i++ {
		out = append(out, string(code(cands[i].name)))
	}
	return out
}

// levenshtein is the edit distance between a and b, in runes.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 200 || len(rb) > 200 {
		return max(len(ra), len(rb))
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

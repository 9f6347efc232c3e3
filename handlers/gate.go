package handlers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/release"
)

// waitingAt returns the execution of task that waits at approval task
// gate, after checking that the release task has such an approval task
// (when its details can be read). Nothing is posted or sent otherwise.
func (o *operations) waitingAt(ctx context.Context, task api.ReleaseTask, gate string) (*api.Record, error) {
	if err := o.checkGate(ctx, task, gate); err != nil {
		return nil, err
	}
	recs, err := o.releases.ListRecords(ctx, task.ID)
	if err != nil {
		return nil, err
	}
	rec := latestWaiting(recs)
	if rec == nil {
		return nil, conflictf("*%s* has no execution waiting for approval: it is %s. Nothing was posted or sent.", task.Name, statusText(task.Status))
	}
	if g := rec.WaitingGate(); g != "" && g != gate {
		return nil, conflictf("Execution %s of *%s* waits at %s, not at %s. Nothing was posted or sent.", code(rec.ID), task.Name, code(g), code(gate))
	}
	return rec, nil
}

// checkGate refuses an approval task that the release task's details do
// not declare. Details that cannot be read check nothing: the records and
// ServiceStage itself still do.
func (o *operations) checkGate(ctx context.Context, task api.ReleaseTask, gate string) error {
	d, err := o.releases.GetReleaseTask(ctx, task.ID)
	if err != nil {
		return nil
	}
	names := d.ApprovalTasks()
	if slices.Contains(names, gate) {
		return nil
	}
	if len(names) > 0 {
		return usagef("*%s* has no manual-approval task %s; its approval tasks: %s. Nothing was posted or sent.", task.Name, code(gate), codes(names))
	}
	all := d.TaskNames()
	if len(all) == 0 || slices.Contains(all, gate) {
		return nil // the details do not say which tasks are approvals
	}
	return usagef("*%s* has no task %s; its tasks: %s. Nothing was posted or sent.", task.Name, code(gate), codes(all))
}

// latestWaiting is the newest execution waiting for approval (5), or nil.
func latestWaiting(recs []api.Record) *api.Record {
	var best *api.Record
	for i := range recs {
		r := &recs[i]
		if r.Status == release.StatusAwaitingApproval && (best == nil || r.StartTime.After(best.StartTime)) {
			best = r
		}
	}
	return best
}

func codes(names []string) safe {
	parts := make([]string, 0, len(names))
	for i, n := range names {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("and %d more", len(names)-i))
			break
		}
		parts = append(parts, string(code(n)))
	}
	return safe(strings.Join(parts, ", "))
}

// promptLink links a posted prompt's message.
func promptLink(p *release.Prompt) safe {
	if p.TS == "" || !isSlackID(p.Channel) {
		return "it is being posted"
	}
	return safe(fmt.Sprintf("<https://slack.com/archives/%s/p%s|open the prompt>", p.Channel, strings.ReplaceAll(p.TS, ".", "")))
}

// Package handlers turns /release commands and button clicks into ServiceStage calls and Slack replies.
package handlers

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/releasebot/releasebot/api"
	"github.com/releasebot/releasebot/bot"
	"github.com/releasebot/releasebot/config"
	"github.com/releasebot/releasebot/policy"
	"github.com/releasebot/releasebot/release"
)

// Releases is the part of the ServiceStage client the handlers use.
type Releases interface {
	Operate(ctx context.Context, pipelineID string, action release.Action, opts *api.OperateOptions) (*api.Execution, error)
	ListReleaseTasks(ctx context.Context) ([]api.ReleaseTask, error)
	ListRecords(ctx context.Context, pipelineID string) ([]api.Record, error)
	GetReleaseTask(ctx context.Context, pipelineID string) (*api.ReleaseTaskDetail, error)
}

// Slack is how the handlers reply.
type Slack interface {
	Post(ctx context.Context, channel string, m bot.Message) (string, error)
	PostEphemeral(ctx context.Context, channel, user string, m bot.Message) error
	Update(ctx context.Context, channel, ts string, m bot.Message) error
	OpenModal(ctx context.Context, triggerID string, v slack.ModalViewRequest) error
	// Respond replies privately through a response_url, where the bot may
	// not post (it is not in the channel).
	Respond(ctx context.Context, responseURL string, m bot.Message) error
}

// Deps is everything the handlers need.
type Deps struct {
	Log               zerolog.Logger
	Releases          Releases
	Slack             Slack
	Groups            GroupMembers
	Prompts           PromptStore
	Confirmations     ConfirmationStore
	Audit             AuditStore
	Expiring          ExpiringStore
	Home              HomeStore     // nil: no App Home tab
	HomePublisher     HomePublisher // nil: no App Home tab
	Operators         config.Principals
	Approvers         config.Principals
	EscalateTo        config.Principals // may decide a prompt once it escalated
	Policy            *policy.Policy    // per-release-task rules; nil: none
	Channels          []string
	Aliases           map[string]string
	RequiredApprovals int
	AllowSelfApproval bool
	ApprovalTasks     map[string]string   // release task name or ID → approval task, for automatic prompts
	CallTimeout       time.Duration       // bounds each upstream action (default 30 s)
	Deadline          Deadline            // what an open prompt's deadline does
	ConsoleURL        config.LinkTemplate // "Open in ServiceStage" links; "" for none
	ProjectID         string              // the project of console links
	ReminderDMs       bool                // reminders also go by direct message
	Metrics           Metrics             // nil means none
	Now               func() time.Time    // nil means time.Now

	// Guardrails (SPEC §9). A nil Locks turns locks off; a nil Exports or
	// Files, the audit export.
	Locks            LockStore
	Exports          AuditExporter
	Files            Files
	FreezeOverriders config.Principals
}

// DefaultCallTimeout bounds an upstream action when Deps.CallTimeout is 0.
const DefaultCallTimeout = 30 * time.Second

// ClaimHold is how long a claimed decision may still be running upstream:
// its call's timeout plus a margin (a third of it, at least a second).
func ClaimHold(callTimeout time.Duration) time.Duration {
	if callTimeout <= 0 {
		callTimeout = DefaultCallTimeout
	}
	return callTimeout + max(callTimeout/3, time.Second)
}

// Metrics counts what the handlers do.
type Metrics interface {
	// Command counts one command, click or submission by its verb (one of
	// a fixed set) and outcome (ok, usage, denied, not_found, conflict,
	// upstream_error, outcome_unknown, error).
	Command(verb, outcome string)
	// Decision counts one decision: agree, refuse or closed.
	Decision(decision string)
}

type noMetrics struct{}

func (noMetrics) Command(string, string) {}
func (noMetrics) Decision(string)        {}

// Action IDs, block IDs and the modal of the messages the handlers post.
const (
	actionConfirm  = "confirm"
	actionCancel   = "cancel"
	actionApprove  = "approve"
	actionRefuse   = "refuse"
	blockConfirm   = "confirm"
	blockApproval  = "approval"
	callbackRefuse = "refuse_reason"
	blockReason    = "reason"
	inputReason    = "reason_input"
)

type (
	commandFunc    func(ctx context.Context, c bot.Command, r Request, out *outcome) error
	actionFunc     func(ctx context.Context, a bot.Action, out *outcome) error
	submissionFunc func(ctx context.Context, s bot.Submission, out *outcome) error
)

// outcome is what one command or click did, for its log line, its audit
// entry and what finish records with it.
type outcome struct {
	entry  release.AuditEntry
	follow *release.Followed // an execution to follow from now on
	actor  bool              // entry.User made entry.Execution run
}

// Router maps every /release verb, button and modal to its handler.
type Router struct {
	log         zerolog.Logger
	slack       Slack
	authz       *authz
	audit       AuditStore
	now         func() time.Time
	reporter    *Reporter
	home        *home
	metrics     Metrics
	verbs       map[string]commandFunc
	actions     map[string]actionFunc
	submissions map[string]submissionFunc
}

// New builds the Router. Registering a name twice panics: it is a bug.
func New(d Deps) *Router {
	d = withDefaults(d)
	rt := &Router{
		log: d.Log, slack: d.Slack, audit: d.Audit, metrics: d.Metrics, now: d.Now,
		authz:       newAuthz(d.Operators, d.Approvers, d.Channels, d.Groups),
		verbs:       map[string]commandFunc{},
		actions:     map[string]actionFunc{},
		submissions: map[string]submissionFunc{},
	}
	res := &resolver{releases: d.Releases, aliases: d.Aliases, ttl: 2 * time.Second, now: d.Now}
	ops := &operations{releases: d.Releases, slack: d.Slack, authz: rt.authz, res: res, confirmations: d.Confirmations,
		audit: d.Audit, now: d.Now, callTimeout: d.CallTimeout, rules: newRuleBook(d),
		consoleURL: d.ConsoleURL, projectID: d.ProjectID}
	ops.guard = &guardrails{ops: ops, locks: d.Locks, exports: d.Exports, files: d.Files, policy: d.Policy, aliases: d.Aliases,
		overriders: Role{d.FreezeOverriders, "RELEASEBOT_FREEZE_OVERRIDERS", "act during a freeze", "freeze overriders"}}
	ap := &approvals{operations: ops, prompts: d.Prompts, allowSelf: d.AllowSelfApproval, metrics: d.Metrics, timeout: d.Deadline}
	rt.reporter = &Reporter{log: d.Log, releases: d.Releases, slack: d.Slack, ap: ap, confirmations: d.Confirmations,
		expiring: d.Expiring, approvalTasks: d.ApprovalTasks, now: d.Now, dm: d.ReminderDMs}
	rt.home = &home{ap: ap, store: d.Home, pub: d.HomePublisher}

	rt.verb(VerbHelp, handleHelp(d.Slack))
	rt.verb(VerbList, handleList(d.Releases, d.Slack))
	rt.verb(VerbStatus, handleStatus(d.Releases, d.Slack, res, d.Prompts))
	rt.verb(VerbStart, ops.operate(release.ActionStart))
	rt.verb(VerbContinue, ops.operate(release.ActionContinue))
	rt.verb(VerbRetry, ops.operate(release.ActionRetry))
	rt.verb(VerbStop, ops.askConfirmation(release.ActionStop))
	rt.verb(VerbRollback, ops.askConfirmation(release.ActionRollback))
	rt.verb(VerbApprove, ap.command(release.Agree))
	rt.verb(VerbRefuse, ap.command(release.Refuse))
	rt.verb(VerbAsk, ap.ask)
	rt.verb(VerbAudit, handleAudit(d.Slack, rt.authz, res, d.Audit))
	rt.verb(VerbExport, ops.guard.export)
	rt.verb(VerbLock, ops.guard.lock)
	rt.verb(VerbUnlock, ops.guard.unlock)
	rt.verb(VerbLocks, ops.guard.locksList)

	rt.action(actionConfirm, ops.confirm(true))
	rt.action(actionCancel, ops.confirm(false))
	rt.action(actionApprove, ap.approveClick)
	rt.action(actionRefuse, ap.refuseClick)
	rt.action(actionBreakConfirm, ops.guard.breakClick(true))
	rt.action(actionBreakCancel, ops.guard.breakClick(false))
	rt.action(actionOverrideConfirm, ops.guard.overrideClick(true))
	rt.action(actionOverrideCancel, ops.guard.overrideClick(false))

	rt.submission(callbackRefuse, ap.refuseSubmit)
	return rt
}

func withDefaults(d Deps) Deps {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.RequiredApprovals < 1 {
		d.RequiredApprovals = 1
	}
	if d.Metrics == nil {
		d.Metrics = noMetrics{}
	}
	if d.CallTimeout <= 0 {
		d.CallTimeout = DefaultCallTimeout
	}
	return d
}

func (rt *Router) verb(name string, f commandFunc) {
	if _, dup := rt.verbs[name]; dup {
		panic("handlers: verb registered twice: " + name)
	}
	rt.verbs[name] = f
}

func (rt *Router) action(id string, f actionFunc) {
	if _, dup := rt.actions[id]; dup {
		panic("handlers: action registered twice: " + id)
	}
	rt.actions[id] = f
}

func (rt *Router) submission(id string, f submissionFunc) {
	if _, dup := rt.submissions[id]; dup {
		panic("handlers: submission registered twice: " + id)
	}
	rt.submissions[id] = f
}

// HandleCommand runs one /release command and replies.
func (rt *Router) HandleCommand(ctx context.Context, c bot.Command) {
	start := rt.now()
	out := &outcome{entry: release.AuditEntry{At: start, User: c.UserID, Channel: c.ChannelID}}
	err := rt.authz.channelAllowed(c.ChannelID)
	if err == nil {
		var req Request
		req, err = Parse(c.Text)
		// A verb from the fixed set, or "invalid": what was typed stays out
		// of the log and the audit.
		out.entry.Verb = rt.verbLabel("command", req.Verb)
		if err == nil {
			err = rt.verbs[req.Verb](ctx, c, req, out)
		}
	}
	rt.finish(ctx, "command", c.EnvelopeID, c.ChannelID, c.UserID, c.ResponseURL, out, err, start)
}

// HandleAction runs one button click and replies.
func (rt *Router) HandleAction(ctx context.Context, a bot.Action) {
	start := rt.now()
	out := &outcome{entry: release.AuditEntry{At: start, User: a.UserID, Channel: a.ChannelID, Verb: "click:" + clip(a.ActionID, 40)}}
	var err error
	if a.ChannelID != "" { // clicks in the App Home tab have no channel
		err = rt.authz.channelAllowed(a.ChannelID)
	}
	if err == nil {
		f, ok := rt.actions[a.ActionID]
		switch {
		case !ok:
			err = notFoundf("releasebot does not know this button; nothing was sent.")
		case !validValue(a.Value):
			err = notFoundf("This button is not valid (it may be from an old or altered message); nothing was sent.")
		default:
			err = f(ctx, a, out)
		}
	}
	rt.finish(ctx, "click", a.EnvelopeID, a.ChannelID, a.UserID, a.ResponseURL, out, err, start)
	rt.republishHome(ctx, a)
}

// HandleSubmission runs one submitted modal.
func (rt *Router) HandleSubmission(ctx context.Context, s bot.Submission) {
	start := rt.now()
	out := &outcome{entry: release.AuditEntry{At: start, User: s.UserID, Verb: "submit:" + clip(s.CallbackID, 40)}}
	var err error
	f, ok := rt.submissions[s.CallbackID]
	switch {
	case !ok:
		err = notFoundf("releasebot does not know this form; nothing was sent.")
	case !validValue(s.PrivateMetadata):
		err = notFoundf("This form is not valid; nothing was sent.")
	default:
		err = f(ctx, s, out)
	}
	rt.finish(ctx, "submission", s.EnvelopeID, out.entry.Channel, s.UserID, "", out, err, start)
}

var valuePattern = regexp.MustCompile(`^[A-Z2-7]{16,64}$`)

// validValue reports whether a button value or modal metadata is shaped like
// the IDs the handlers issue, so that forged or huge values go no further.
func validValue(v string) bool { return valuePattern.MatchString(v) }

// finish replies privately on error, then writes the log line and the audit
// entry of one command or click.
func (rt *Router) finish(ctx context.Context, kind, envelope, channel, user, responseURL string, out *outcome, err error, start time.Time) {
	e := &out.entry
	if err != nil {
		v := classify(err)
		text := v.text
		if v.unexpected {
			rt.log.Error().Err(err).Str("envelope_id", envelope).Msg("unexpected error")
		}
		if e.Outcome == "" {
			e.Outcome = "error: " + tame(text)
		}
		if channel != "" {
			rerr := rt.slack.PostEphemeral(ctx, channel, user, renderError(text))
			if rerr != nil && responseURL != "" {
				// Not in the channel, or it is a DM: the response_url still reaches the user.
				rerr = rt.slack.Respond(ctx, responseURL, renderError(text))
			}
			if rerr != nil {
				rt.log.Warn().Err(rerr).Str("envelope_id", envelope).Msg("private reply failed")
			}
		} else if kind == "click" && user != "" {
			// A click in the App Home tab has no channel: the reply goes to
			// the clicker's direct messages.
			if _, rerr := rt.slack.Post(ctx, user, renderError(text)); rerr != nil {
				rt.log.Warn().Err(rerr).Str("envelope_id", envelope).Msg("private reply failed")
			}
		}
	}
	if e.Outcome == "" {
		e.Outcome = "ok"
	}
	rt.metrics.Command(rt.verbLabel(kind, e.Verb), classify(err).label)
	if (e.Verb != "" && e.Verb != VerbHelp) || out.follow != nil || out.actor {
		// One transaction: a start costs one commit, not three. The result
		// of an upstream call is recorded even when ctx was cancelled.
		rctx, cancel := afterCall(ctx)
		defer cancel()
		if rerr := rt.audit.Record(rctx, *e, out.follow, out.actor); rerr != nil {
			rt.log.Error().Err(rerr).Str("envelope_id", envelope).Msg("audit entry and following lost")
		}
	}
	ev := rt.log.Info()
	if err != nil {
		ev = rt.log.Warn()
	}
	ev.Str("kind", kind).Str("envelope_id", envelope).Str("user", user).Str("channel", channel).
		Str("verb", e.Verb).Str("release_task_id", e.PipelineID).Str("execution_id", e.Execution).
		Str("sent", e.Sent).Str("outcome", e.Outcome).Dur("took", rt.now().Sub(start)).Msg(kind)
}

func handleHelp(s Slack) commandFunc {
	return func(ctx context.Context, c bot.Command, _ Request, _ *outcome) error {
		return s.PostEphemeral(ctx, c.ChannelID, c.UserID, renderHelp())
	}
}

func handleList(releases Releases, s Slack) commandFunc {
	return func(ctx context.Context, c bot.Command, _ Request, _ *outcome) error {
		tasks, err := releases.ListReleaseTasks(ctx)
		if err != nil {
			return err
		}
		return s.PostEphemeral(ctx, c.ChannelID, c.UserID, renderList(tasks))
	}
}

func handleStatus(releases Releases, s Slack, res *resolver, prompts PromptStore) commandFunc {
	return func(ctx context.Context, c bot.Command, r Request, out *outcome) error {
		task, err := res.resolve(ctx, r.Task)
		if err != nil {
			return err
		}
		out.entry.TaskName, out.entry.PipelineID = task.Name, task.ID
		recs, err := releases.ListRecords(ctx, task.ID)
		if err != nil {
			return err
		}
		return s.PostEphemeral(ctx, c.ChannelID, c.UserID, renderStatus(task, recs, waitingPrompts(ctx, prompts, task.ID, recs)))
	}
}

func handleAudit(s Slack, az *authz, res *resolver, st AuditStore) commandFunc {
	return func(ctx context.Context, c bot.Command, r Request, out *outcome) error {
		if err := az.anyOf(ctx, c.UserID, az.operators, az.approvers); err != nil {
			return err
		}
		pipelineID := ""
		if r.Task != "" {
			task, err := res.resolve(ctx, r.Task)
			if err != nil {
				return err
			}
			pipelineID = task.ID
			out.entry.TaskName, out.entry.PipelineID = task.Name, task.ID
		}
		entries, err := st.LastAudit(ctx, 20, pipelineID)
		if err != nil {
			return err
		}
		return s.PostEphemeral(ctx, c.ChannelID, c.UserID, renderAudit(entries, r.Task))
	}
}

// sentText describes an upstream request for the audit log; it never holds
// credentials, only the action and its body fields.
func sentText(action release.Action, opts *api.OperateOptions) string {
	s := "action " + string(action)
	if opts == nil {
		return s
	}
	if len(opts.SelectedTasks) > 0 {
		s += fmt.Sprintf(" selected_tasks=%v", opts.SelectedTasks)
	}
	if opts.TaskName != "" {
		s += " task_name=" + opts.TaskName + " approval_type=" + string(opts.ApprovalType)
	}
	return s
}

// verbLabel names a command, click or submission for metrics, from a fixed
// set: what a user typed never becomes a label.
func (rt *Router) verbLabel(kind, verb string) string {
	switch kind {
	case "command":
		if _, ok := rt.verbs[verb]; ok {
			return verb
		}
		return "invalid"
	case "click":
		if _, ok := rt.actions[strings.TrimPrefix(verb, "click:")]; ok {
			return verb
		}
		return "click:unknown"
	default:
		if _, ok := rt.submissions[strings.TrimPrefix(verb, "submit:")]; ok {
			return verb
		}
		return "submit:unknown"
	}
}

// waitingPrompts finds the open prompts of the executions that wait for
// approval, for status to link; a store error only leaves links out.
func waitingPrompts(ctx context.Context, prompts PromptStore, pipelineID string, recs []api.Record) map[string]release.Prompt {
	out := map[string]release.Prompt{}
	for _, r := range recs {
		if r.Status != release.StatusAwaitingApproval {
			continue
		}
		if p, err := prompts.OpenPromptOf(ctx, pipelineID, r.ID); err == nil {
			out[r.ID] = p
		}
	}
	return out
}

package handlers

import (
	"context"
	"fmt"
	"slices"

	"github.com/slack-go/slack"

	"github.com/releasebot/releasebot/bot"
	"github.com/releasebot/releasebot/release"
)

// HomeStore is what the App Home tab shows, read from the database only.
type HomeStore interface {
	UndecidedPrompts(ctx context.Context) ([]release.Prompt, error)
	ActiveStartedBy(ctx context.Context, user string, n int) ([]release.Followed, error)
	DecisionsBy(ctx context.Context, user string, n int) ([]release.Prompt, error)
}

// HomePublisher publishes a user's App Home tab.
type HomePublisher interface {
	PublishHome(ctx context.Context, userID string, v slack.HomeTabViewRequest) error
}

// home renders the App Home tab: the prompts its viewer may decide now,
// with the same buttons as the prompts; the executions they started that
// still run; their last 10 decisions. Never one upstream call per prompt.
type home struct {
	ap    *approvals
	store HomeStore
	pub   HomePublisher
}

// homeLimit bounds each list of the tab (Slack allows 100 blocks).
const homeLimit = 15

// HandleHome publishes the App Home tab of user.
func (rt *Router) HandleHome(ctx context.Context, envelopeID, user string) {
	if rt.home == nil || rt.home.store == nil || rt.home.pub == nil {
		return
	}
	if err := rt.home.publish(ctx, user); err != nil {
		rt.log.Warn().Err(err).Str("envelope_id", envelopeID).Str("user", user).Msg("cannot publish the App Home tab")
	}
}

func (h *home) publish(ctx context.Context, user string) error {
	undecided, err := h.store.UndecidedPrompts(ctx)
	if err != nil {
		return err
	}
	var mine []release.Prompt
	for i := range undecided {
		if len(mine) < homeLimit && h.mayDecideNow(ctx, &undecided[i], user) {
			mine = append(mine, undecided[i])
		}
	}
	running, err := h.store.ActiveStartedBy(ctx, user, homeLimit)
	if err != nil {
		return err
	}
	decided, err := h.store.DecisionsBy(ctx, user, 10)
	if err != nil {
		return err
	}
	return h.pub.PublishHome(ctx, user, renderHome(mine, running, decided, user))
}

// mayDecideNow reports whether the Approve button would take user's vote.
func (h *home) mayDecideNow(ctx context.Context, p *release.Prompt, user string) bool {
	if p.State() != release.StateOpen || p.Excluded(user) ||
		slices.ContainsFunc(p.Votes, func(b release.Ballot) bool { return b.User == user }) {
		return false
	}
	return h.ap.mayDecide(ctx, p, user) == nil
}

func renderHome(prompts []release.Prompt, running []release.Followed, decided []release.Prompt, user string) slack.HomeTabViewRequest {
	blocks := []slack.Block{slack.NewHeaderBlock(plain("Approvals waiting for you"))}
	if len(prompts) == 0 {
		blocks = append(blocks, contextLine("Nothing waits for your decision."))
	}
	for i := range prompts {
		p := &prompts[i]
		blocks = append(blocks, section(promptHeadline(p)), contextLine(promptMeta(p)))
		approve := slack.NewButtonBlockElement(actionApprove, p.ID, plain("Approve"))
		approve.Style = slack.StylePrimary
		refuse := slack.NewButtonBlockElement(actionRefuse, p.ID, plain("Refuse"))
		refuse.Style = slack.StyleDanger
		blocks = append(blocks, slack.NewActionBlock(blockApproval+"_"+p.ID[:8], approve, refuse))
	}
	blocks = append(blocks, slack.NewDividerBlock(), slack.NewHeaderBlock(plain("Your releases running")))
	if len(running) == 0 {
		blocks = append(blocks, contextLine("None of the executions you started is running."))
	}
	for _, f := range running {
		blocks = append(blocks, section(safe(fmt.Sprintf("%s *%s* · execution %s · %s · %s %s", statusEmojiOf(f.Status),
			escape(f.TaskName), code(f.ExecutionID), f.Status.Label(), creditOf(f.Action), slackDate(f.CreatedAt)))))
	}
	blocks = append(blocks, slack.NewDividerBlock(), slack.NewHeaderBlock(plain("Your last decisions")))
	if len(decided) == 0 {
		blocks = append(blocks, contextLine("You have not decided anything through releasebot yet."))
	}
	for i := range decided {
		p := &decided[i]
		vote := "approved"
		if slices.ContainsFunc(p.Votes, func(b release.Ballot) bool { return b.User == user && b.Vote == release.Refuse }) {
			vote = "refused"
		}
		blocks = append(blocks, contextLine(safe(fmt.Sprintf("You %s *%s* execution %s at %s · now: %s", vote, escape(p.TaskName),
			code(p.ExecutionID), code(p.ApprovalTask), promptStateText(p)))))
	}
	return slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: blocks}}
}

// creditOf is how a progress line credits what the bot did.
func creditOf(a release.Action) string {
	switch a {
	case release.ActionRetry:
		return "retried"
	case release.ActionContinue:
		return "continued"
	case release.ActionRollback:
		return "rolled back"
	case release.ActionApproval:
		return "approved"
	}
	return "started"
}

// republishHome refreshes the App Home tab of someone who decided from it.
func (rt *Router) republishHome(ctx context.Context, a bot.Action) {
	if a.ChannelID == "" && rt.home != nil && rt.home.pub != nil {
		_ = rt.home.publish(ctx, a.UserID)
	}
}

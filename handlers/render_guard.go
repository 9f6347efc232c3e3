package handlers

import (
	"fmt"
	"time"

	"github.com/slack-go/slack"

	"github.com/releasebot/releasebot/bot"
	"github.com/releasebot/releasebot/policy"
	"github.com/releasebot/releasebot/release"
)

// lockTarget names what l locks: a release task in bold, or every one.
func lockTarget(l release.Lock) safe {
	if l.Target == release.AllTasks {
		return "every release task"
	}
	return safe("*" + escape(l.TaskName) + "*")
}

// lockTargetText is lockTarget for a notification text.
func lockTargetText(l release.Lock) string {
	if l.Target == release.AllTasks {
		return "every release task"
	}
	return tame(l.TaskName)
}

func renderLockTaken(l release.Lock) bot.Message {
	head := safe(fmt.Sprintf(":lock: %s locked %s until %s.", mention(l.Holder), lockTarget(l), slackDate(l.Until)))
	return bot.Message{
		Text:   fmt.Sprintf("%s locked %s until %s", mention(l.Holder), lockTargetText(l), slackDate(l.Until)),
		Blocks: []slack.Block{section(head), quote("Reason", l.Reason)},
	}
}

func renderUnlocked(l release.Lock, by string) bot.Message {
	head := safe(fmt.Sprintf(":unlock: %s unlocked %s.", mention(by), lockTarget(l)))
	return bot.Message{Text: fmt.Sprintf("%s unlocked %s", mention(by), lockTargetText(l)), Blocks: []slack.Block{section(head)}}
}

func renderLockBroken(l release.Lock, by string) bot.Message {
	head := safe(fmt.Sprintf(":unlock: %s broke %s's lock on %s (it was to hold until %s).", mention(by), mention(l.Holder),
		lockTarget(l), slackDate(l.Until)))
	return bot.Message{
		Text:   fmt.Sprintf("%s broke %s's lock on %s", mention(by), mention(l.Holder), lockTargetText(l)),
		Blocks: []slack.Block{section(head), quote("The lock's reason", l.Reason)},
	}
}

func renderLockExpired(l release.Lock) bot.Message {
	head := safe(fmt.Sprintf(":unlock: %s's lock on %s ended at its time, %s.", mention(l.Holder), lockTarget(l), slackDate(l.Until)))
	return bot.Message{Text: fmt.Sprintf("%s's lock on %s ended", mention(l.Holder), lockTargetText(l)), Blocks: []slack.Block{section(head)}}
}

// renderBreakConfirm asks an operator to confirm breaking someone's lock.
func renderBreakConfirm(c *release.Confirmation, l release.Lock) bot.Message {
	head := safe(fmt.Sprintf(":warning: %s asks to break %s's lock on %s (until %s). An operator must confirm.",
		mention(c.RequestedBy), mention(l.Holder), lockTarget(l), slackDate(l.Until)))
	ok := slack.NewButtonBlockElement(actionBreakConfirm, c.ID, plain("Break the lock"))
	ok.Style = slack.StyleDanger
	cancel := slack.NewButtonBlockElement(actionBreakCancel, c.ID, plain("Cancel"))
	return bot.Message{
		Text:   fmt.Sprintf("%s asks to break %s's lock on %s", mention(c.RequestedBy), mention(l.Holder), lockTargetText(l)),
		Blocks: []slack.Block{section(head), quote("The lock's reason", l.Reason), slack.NewActionBlock(blockConfirm, ok, cancel)},
	}
}

// renderGuardClosed replaces a used confirmation of a guarded action.
func renderGuardClosed(text safe) bot.Message {
	return bot.Message{Text: tame(string(text)), Blocks: []slack.Block{section(text)}}
}

// renderOverrideConfirm asks an overrider to confirm acting during w.
func renderOverrideConfirm(c *release.Confirmation, w policy.Window, reason string) bot.Message {
	head := safe(fmt.Sprintf(":rotating_light: %s asks to *%s* *%s* during the freeze %s (until %s). A freeze overrider must confirm.",
		mention(c.RequestedBy), c.Action, escape(c.TaskName), code(w.Name), slackDate(w.End)))
	ok := slack.NewButtonBlockElement(actionOverrideConfirm, c.ID, plain("Override the freeze"))
	ok.Style = slack.StyleDanger
	cancel := slack.NewButtonBlockElement(actionOverrideCancel, c.ID, plain("Cancel"))
	return bot.Message{
		Text: fmt.Sprintf("%s asks to %s %s during the freeze %s", mention(c.RequestedBy), c.Action, tame(c.TaskName), tame(w.Name)),
		Blocks: []slack.Block{section(head), quote("Freeze", w.Reason), quote("Override reason", reason),
			slack.NewActionBlock(blockConfirm, ok, cancel)},
	}
}

// renderOverrideClosed replaces an override's confirmation once used.
func renderOverrideClosed(c *release.Confirmation, ov override, by string, confirmed bool, result safe) bot.Message {
	what := "cancelled"
	if confirmed {
		what = "confirmed"
	}
	text := safe(fmt.Sprintf("%s asked to *%s* *%s* during the freeze %s: %s by %s.", mention(c.RequestedBy), c.Action,
		escape(c.TaskName), code(ov.Freeze), what, mention(by)))
	blocks := []slack.Block{section(text), quote("Override reason", ov.Reason)}
	if result != "" {
		blocks = append(blocks, contextLine(result))
	}
	return bot.Message{Text: tame(string(text)), Blocks: blocks}
}

// renderOverrideDone announces an override in the channel.
func renderOverrideDone(c *release.Confirmation, ov override, by string) bot.Message {
	head := safe(fmt.Sprintf(":rotating_light: %s overrode the freeze %s: %s *%s* (asked by %s).", mention(by), code(ov.Freeze),
		past[c.Action], escape(c.TaskName), mention(c.RequestedBy)))
	return bot.Message{
		Text:   fmt.Sprintf("%s overrode the freeze %s: %s %s", mention(by), tame(ov.Freeze), past[c.Action], tame(c.TaskName)),
		Blocks: []slack.Block{section(head), quote("Override reason", ov.Reason)},
	}
}

// renderLocks lists the locks that hold and the freeze windows of the next
// days, for one person.
func renderLocks(locks []release.Lock, windows []policy.Window, now time.Time) bot.Message {
	var lines []string
	for _, l := range locks {
		lines = append(lines, fmt.Sprintf(":lock: %s by %s until %s: “%s”", lockTarget(l), mention(l.Holder), slackDate(l.Until),
			escape(clip(l.Reason, 300))))
	}
	for _, w := range windows {
		when := "from " + slackDate(w.Start)
		if !w.Start.After(now) {
			when = "now"
		}
		lines = append(lines, fmt.Sprintf(":snowflake: freeze %s %s until %s: “%s”", code(w.Name), when, slackDate(w.End), escape(clip(w.Reason, 300))))
	}
	if len(lines) == 0 {
		return ephemeral("*Locks and freezes*\nNo lock holds, and no freeze in the next 7 days.")
	}
	blocks := []slack.Block{section("*Locks and freezes (the next 7 days)*")}
	blocks = append(blocks, chunk(lines, 45)...)
	return bot.Message{Text: "Locks and freezes", Blocks: blocks}
}

// Command minimalbot is the benchmark's baseline: the least a slack-go Socket
// Mode bot can do per slash command. It acknowledges at once, then, in a
// goroutine, calls the upstream action once and posts one channel message.
// Its HTTP clients are tuned as releasebot's are (package baseline). It reads
// the same variables as releasebot, plus MINIMALBOT_PIPELINE_ID and
// MINIMALBOT_MESSAGE: "text" (or unset) posts plain text, "blocks" a message
// shaped as releasebot's reply to a start (text, and a section with two
// fields), for comparing the bots on the same Slack work.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/releasebot/releasebot/bench/baseline"
)

func main() {
	api := slack.New(os.Getenv("SLACK_BOT_TOKEN"),
		slack.OptionAppLevelToken(os.Getenv("SLACK_APP_TOKEN")),
		slack.OptionAPIURL(os.Getenv("SLACK_API_URL")),
		slack.OptionHTTPClient(baseline.SlackRequester()))
	client := socketmode.New(api)
	upstream := baseline.UpstreamClient()
	actionURL := fmt.Sprintf("%s/v3/%s/pipeline/pipelines/%s/action?action_id=start",
		os.Getenv("SERVICESTAGE_ENDPOINT"), os.Getenv("HUAWEICLOUD_PROJECT_ID"), os.Getenv("MINIMALBOT_PIPELINE_ID"))
	token := os.Getenv("HUAWEICLOUD_AUTH_TOKEN")
	blocks := os.Getenv("MINIMALBOT_MESSAGE") == "blocks"

	go func() {
		for evt := range client.Events {
			if evt.Type != socketmode.EventTypeSlashCommand {
				continue
			}
			cmd, _ := evt.Data.(slack.SlashCommand)
			client.Ack(*evt.Request)
			go func() {
				text := "started: " + cmd.Text
				if err := start(upstream, actionURL, token); err != nil {
					text = "failed: " + err.Error()
				}
				opts := []slack.MsgOption{slack.MsgOptionText(text, false)}
				if blocks {
					opts = append(opts, startBlocks(cmd.UserID))
				}
				if _, _, err := api.PostMessage(cmd.ChannelID, opts...); err != nil {
					fmt.Fprintln(os.Stderr, "minimalbot: post:", err)
				}
			}()
		}
	}()
	if err := client.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "minimalbot:", err)
		os.Exit(1)
	}
}

// startBlocks is shaped as releasebot's reply to a start (handlers'
// renderOutcome): who started what, then the execution and its status.
func startBlocks(user string) slack.MsgOption {
	mrkdwn := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
	}
	return slack.MsgOptionBlocks(slack.NewSectionBlock(mrkdwn("<@"+user+"> started *bench-task*"),
		[]*slack.TextBlockObject{mrkdwn("*Execution*\n`286541`"), mrkdwn("*Status*\n:hourglass_flowing_sand: Releasing (4)")}, nil))
}

// start sends the upstream action once and reads the answer.
func start(c *http.Client, url, token string) error {
	ctx, cancel := context.WithTimeout(context.Background(), baseline.UpstreamTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, http.NoBody)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Auth-Token", token)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("upstream answered %s", resp.Status)
	}
	return nil
}

package handlers

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/config"
)

// TestGoldenMessagesFollowSPEC12 reads every rendered message and checks
// the rules of SPEC §12 that a program can check.
func TestGoldenMessagesFollowSPEC12(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	dates := regexp.MustCompile(`<!date\^[0-9]+\^[^|>]*\|[^>]*>`)
	aboutATask := regexp.MustCompile(`^(prompt_|progress|finished|outcome_start|confirm|continue_|reminder|escalation|follow_bound|status)`)
	decided := regexp.MustCompile(`^prompt_(approved|refused|closed|superseded|timed_out|uncertain|deciding)`)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			require.NoError(t, err)
			var msg struct {
				Text   string           `json:"text"`
				Blocks []map[string]any `json:"blocks"`
			}
			require.NoError(t, json.Unmarshal(raw, &msg))
			body := string(raw)
			var decoded any
			require.NoError(t, json.Unmarshal(raw, &decoded))
			flat, _ := json.Marshal(decoded)
			plainText := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(flat))
			assert.NotContains(t, dates.ReplaceAllString(plainText, ""), " UTC", "an absolute time not in <!date^…|…>")
			if aboutATask.MatchString(name) {
				assert.Regexp(t, `payments-api|web-frontend|data-pipeline|channel here`, msg.Text, "the notification text names the release task")
			}
			if decided.MatchString(name) {
				assert.NotContains(t, strings.ToLower(body), "needed", "a settled prompt does not say an approval is needed")
				assert.NotContains(t, body, `"actions"`, "a settled prompt has no buttons")
			}
			walk(decoded, func(m map[string]any) {
				if m["type"] == "header" {
					if tm, ok := m["text"].(map[string]any); ok {
						text, _ := tm["text"].(string)
						assert.LessOrEqual(t, len([]rune(text)), 150, "header text")
					}
				}
			})
		})
	}
}

func TestDenialNamesTheRoleNotAVariable(t *testing.T) {
	a := newAuthz(config.Principals{}, config.Principals{}, nil, groupsOf{"S0LEADS": {"U0LEAD"}})
	who := config.Principals{Users: []string{"U1", "U2", "U3", "U4", "U5", "U6", "U7"}, Groups: []string{"S0LEADS"}}
	err := a.allow(context.Background(), Role{Who: who, Var: "RELEASEBOT_APPROVERS", Doing: "approve or refuse"}, "U0MALLORY")
	require.Error(t, err)
	text, _ := describe(err)
	assert.NotContains(t, text, "RELEASEBOT_")
	assert.Contains(t, text, "Only approvers may approve or refuse (<!subteam^S0LEADS>, <@U1>, <@U2>, <@U3>, <@U4>, <@U5>, and 2 more)")
	assert.Contains(t, text, "Nothing was sent")

	err = a.allow(context.Background(), Role{Var: "RELEASEBOT_OPERATORS", Doing: "operate release tasks"}, "U0MALLORY")
	text, _ = describe(err)
	assert.Contains(t, text, "Nobody may operate release tasks yet: ask an admin to set RELEASEBOT_OPERATORS")
}

// groupsOf is user groups and their members.
type groupsOf map[string][]string

func (g groupsOf) UserGroupMembers(_ context.Context, group string) ([]string, error) {
	return g[group], nil
}

package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const endpoint = "https://servicestage.ap-southeast-1.myhuaweicloud.com"

// baseEnv is the smallest valid environment: Slack tokens and token auth.
func baseEnv() map[string]string {
	return map[string]string{
		"SLACK_BOT_TOKEN":        "xoxb-1",
		"SLACK_APP_TOKEN":        "xapp-1",
		"SERVICESTAGE_ENDPOINT":  endpoint,
		"HUAWEICLOUD_PROJECT_ID": "0123abcd",
		"HUAWEICLOUD_AUTH_TOKEN": "tok",
	}
}

// baseConfig is what baseEnv parses to: every default applied.
func baseConfig() Config {
	return Config{
		SlackBotToken: "xoxb-1",
		SlackAppToken: "xapp-1",
		SlackAPIURL:   "https://slack.com/api/",
		Upstream: Upstream{
			Endpoint:  endpoint,
			ProjectID: "0123abcd",
			Auth:      Auth{Mode: AuthToken, Token: "tok"},
		},
		Aliases:           map[string]string{},
		ApprovalTasks:     map[string]string{},
		RequiredApprovals: 1,
		PollInterval:      10 * time.Second,
		DatabaseDriver:    "sqlite",
		DatabaseDSN:       "releasebot.db",
		HTTPAddr:          ":8080",
		LogLevel:          zerolog.InfoLevel,
		LogFormat:         "json",
	}
}

// with returns baseEnv changed by kv; a blank value counts as unset.
func with(kv map[string]string) func(string) (string, bool) {
	env := baseEnv()
	for k, v := range kv {
		env[k] = v
	}
	return mapLookup(env)
}

func mapLookup(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

// problemsOf returns the problems of err, failing the test if err is not an *Error.
func problemsOf(t *testing.T, err error) []Problem {
	t.Helper()
	var cerr *Error
	require.True(t, errors.As(err, &cerr), "got error %v, want *Error", err)
	return cerr.Problems
}

func TestFromLookupEmptyEnvironment(t *testing.T) {
	_, err := FromLookup(mapLookup(nil))

	require.Error(t, err)
	assert.Equal(t, "invalid configuration: "+
		"SLACK_BOT_TOKEN is required; "+
		"SLACK_APP_TOKEN is required; "+
		"SERVICESTAGE_ENDPOINT is required unless RELEASEBOT_SANDBOX=true; "+
		"HUAWEICLOUD_PROJECT_ID is required unless RELEASEBOT_SANDBOX=true; "+
		"no Huawei Cloud credentials: set one of HUAWEICLOUD_AUTH_TOKEN, HUAWEICLOUD_SDK_AK+HUAWEICLOUD_SDK_SK, "+
		"or HUAWEICLOUD_IAM_ENDPOINT+USERNAME+PASSWORD+DOMAIN (or RELEASEBOT_SANDBOX=true)",
		err.Error())
}

func TestFromLookupValid(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want func(*Config) // changes baseConfig into the expected Config
	}{
		{"defaults", nil, func(*Config) {}},
		{
			"blank values take defaults",
			map[string]string{"RELEASEBOT_POLL_INTERVAL": "  ", "LOG_LEVEL": "", "RELEASEBOT_SANDBOX": ""},
			func(*Config) {},
		},
		{
			"values are trimmed",
			map[string]string{"SLACK_BOT_TOKEN": " xoxb-1\n", "HUAWEICLOUD_PROJECT_ID": "\t0123abcd "},
			func(*Config) {},
		},
		{
			"Slack API URL gets a trailing slash",
			map[string]string{"SLACK_API_URL": "https://slack-gov.com/api"},
			func(c *Config) { c.SlackAPIURL = "https://slack-gov.com/api/" },
		},
		{
			"Slack API URL keeps its trailing slash",
			map[string]string{"SLACK_API_URL": "http://127.0.0.1:5000/api/"},
			func(c *Config) { c.SlackAPIURL = "http://127.0.0.1:5000/api/" },
		},
		{
			"endpoint loses trailing slashes",
			map[string]string{"SERVICESTAGE_ENDPOINT": endpoint + "//"},
			func(*Config) {},
		},
		{
			"AK/SK",
			map[string]string{"HUAWEICLOUD_AUTH_TOKEN": "", "HUAWEICLOUD_SDK_AK": "AK1", "HUAWEICLOUD_SDK_SK": "SK1"},
			func(c *Config) { c.Upstream.Auth = Auth{Mode: AuthAKSK, AK: "AK1", SK: "SK1"} },
		},
		{
			"IAM password, base URL; the password keeps its spaces",
			iamEnv("https://iam.myhuaweicloud.com", " pw "),
			func(c *Config) { c.Upstream.Auth = iamAuth(" pw ") },
		},
		{
			"IAM password, /v3 stripped",
			iamEnv("https://iam.myhuaweicloud.com/v3", "pw"),
			func(c *Config) { c.Upstream.Auth = iamAuth("pw") },
		},
		{
			"IAM password, /v3/ stripped",
			iamEnv("https://iam.myhuaweicloud.com/v3/", "pw"),
			func(c *Config) { c.Upstream.Auth = iamAuth("pw") },
		},
		{
			"sandbox ignores upstream and lists what was set",
			map[string]string{
				"RELEASEBOT_SANDBOX":    "true",
				"SERVICESTAGE_ENDPOINT": "not a URL",
				"HUAWEICLOUD_SDK_AK":    "AK-without-SK",
			},
			func(c *Config) {
				c.Sandbox = true
				c.Upstream = Upstream{}
				c.IgnoredUpstream = []string{"SERVICESTAGE_ENDPOINT", "HUAWEICLOUD_PROJECT_ID", "HUAWEICLOUD_AUTH_TOKEN", "HUAWEICLOUD_SDK_AK"}
			},
		},
		{
			"sandbox with no upstream variables",
			map[string]string{
				"RELEASEBOT_SANDBOX": "1", "SERVICESTAGE_ENDPOINT": "", "HUAWEICLOUD_PROJECT_ID": "", "HUAWEICLOUD_AUTH_TOKEN": "",
			},
			func(c *Config) {
				c.Sandbox = true
				c.Upstream = Upstream{}
			},
		},
		{
			"principals",
			map[string]string{"RELEASEBOT_OPERATORS": "*, U123ABC,, W0AB ,S0GROUP", "RELEASEBOT_APPROVERS": "S0LEADS"},
			func(c *Config) {
				c.Operators = Principals{All: true, Users: []string{"U123ABC", "W0AB"}, Groups: []string{"S0GROUP"}}
				c.Approvers = Principals{Groups: []string{"S0LEADS"}}
			},
		},
		{
			"channels",
			map[string]string{"RELEASEBOT_CHANNELS": "C012AB, G0XY,,D0ZZ"},
			func(c *Config) { c.Channels = []string{"C012AB", "G0XY", "D0ZZ"} },
		},
		{
			"aliases and approval tasks",
			map[string]string{
				"RELEASEBOT_ALIASES":        "prod : abc-123, stg:def_456,",
				"RELEASEBOT_APPROVAL_TASKS": "deploy web : manual approval, 0f3a:gate:2",
			},
			func(c *Config) {
				c.Aliases = map[string]string{"prod": "abc-123", "stg": "def_456"}
				c.ApprovalTasks = map[string]string{"deploy web": "manual approval", "0f3a": "gate:2"}
			},
		},
		{
			"upper bounds",
			map[string]string{
				"RELEASEBOT_REQUIRED_APPROVALS":  "20",
				"RELEASEBOT_ALLOW_SELF_APPROVAL": "true",
				"RELEASEBOT_POLL_INTERVAL":       "1h",
				"RELEASEBOT_ALIASES":             "long:" + strings.Repeat("a", 128),
				"HUAWEICLOUD_PROJECT_ID":         strings.Repeat("p", 64),
			},
			func(c *Config) {
				c.RequiredApprovals = 20
				c.AllowSelfApproval = true
				c.PollInterval = time.Hour
				c.Aliases = map[string]string{"long": strings.Repeat("a", 128)}
				c.Upstream.ProjectID = strings.Repeat("p", 64)
			},
		},
		{
			"lower bounds",
			map[string]string{"RELEASEBOT_POLL_INTERVAL": "1s", "RELEASEBOT_HTTP_ADDR": "127.0.0.1:0"},
			func(c *Config) {
				c.PollInterval = time.Second
				c.HTTPAddr = "127.0.0.1:0"
			},
		},
		{
			"postgres",
			map[string]string{"RELEASEBOT_DATABASE_URL": "postgres://bot:pw@db:5432/releasebot?sslmode=require"},
			func(c *Config) {
				c.DatabaseDriver = "postgres"
				c.DatabaseDSN = "postgres://bot:pw@db:5432/releasebot?sslmode=require"
			},
		},
		{
			"postgresql scheme",
			map[string]string{"RELEASEBOT_DATABASE_URL": "postgresql://db/releasebot"},
			func(c *Config) {
				c.DatabaseDriver = "postgres"
				c.DatabaseDSN = "postgresql://db/releasebot"
			},
		},
		{
			"sqlite path",
			map[string]string{"RELEASEBOT_DATABASE_URL": "sqlite:/data/releasebot.db"},
			func(c *Config) { c.DatabaseDSN = "/data/releasebot.db" },
		},
		{
			"log level and format are case-insensitive",
			map[string]string{"LOG_LEVEL": "DEBUG", "LOG_FORMAT": "Console"},
			func(c *Config) {
				c.LogLevel = zerolog.DebugLevel
				c.LogFormat = "console"
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromLookup(with(tt.env))

			require.NoError(t, err)
			want := baseConfig()
			tt.want(&want)
			assert.Equal(t, want, got)
		})
	}
}

func iamEnv(endpoint, password string) map[string]string {
	return map[string]string{
		"HUAWEICLOUD_AUTH_TOKEN":   "",
		"HUAWEICLOUD_IAM_ENDPOINT": endpoint,
		"HUAWEICLOUD_IAM_USERNAME": "bot",
		"HUAWEICLOUD_IAM_PASSWORD": password,
		"HUAWEICLOUD_IAM_DOMAIN":   "acme",
	}
}

func iamAuth(password Secret) Auth {
	return Auth{
		Mode:        AuthIAM,
		IAMEndpoint: "https://iam.myhuaweicloud.com",
		IAMUsername: "bot",
		IAMPassword: password,
		IAMDomain:   "acme",
	}
}

func TestFromLookupInvalid(t *testing.T) {
	noAuth := map[string]string{"HUAWEICLOUD_AUTH_TOKEN": ""}
	plus := func(a, b map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range a {
			m[k] = v
		}
		for k, v := range b {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name string
		env  map[string]string
		want []Problem
	}{
		{
			"bot token prefix",
			map[string]string{"SLACK_BOT_TOKEN": "xapp-1"},
			[]Problem{{"SLACK_BOT_TOKEN", `SLACK_BOT_TOKEN must start with "xoxb-"`}},
		},
		{
			"app token prefix",
			map[string]string{"SLACK_APP_TOKEN": "xoxb-1"},
			[]Problem{{"SLACK_APP_TOKEN", `SLACK_APP_TOKEN must start with "xapp-"`}},
		},
		{
			"Slack API URL not absolute",
			map[string]string{"SLACK_API_URL": "slack.com/api"},
			[]Problem{{"SLACK_API_URL", `SLACK_API_URL: "slack.com/api" is not an absolute http(s) URL`}},
		},
		{
			"Slack API URL not http",
			map[string]string{"SLACK_API_URL": "ftp://slack.com/api/"},
			[]Problem{{"SLACK_API_URL", `SLACK_API_URL: "ftp://slack.com/api/" is not an absolute http(s) URL`}},
		},
		{
			"Slack API URL without host",
			map[string]string{"SLACK_API_URL": "https:///api/"},
			[]Problem{{"SLACK_API_URL", `SLACK_API_URL: "https:///api/" is not an absolute http(s) URL`}},
		},
		{
			"Slack API URL with a query",
			map[string]string{"SLACK_API_URL": "https://slack.com/api/?x=1"},
			[]Problem{{"SLACK_API_URL", `SLACK_API_URL: "https://slack.com/api/?x=1" must not have a query or fragment`}},
		},
		{
			"Slack API URL unparsable",
			map[string]string{"SLACK_API_URL": "http://[::1"},
			[]Problem{{"SLACK_API_URL", `SLACK_API_URL is not a valid URL`}},
		},
		{
			"endpoint missing",
			map[string]string{"SERVICESTAGE_ENDPOINT": ""},
			[]Problem{{"SERVICESTAGE_ENDPOINT", "SERVICESTAGE_ENDPOINT is required unless RELEASEBOT_SANDBOX=true"}},
		},
		{
			"endpoint without scheme",
			map[string]string{"SERVICESTAGE_ENDPOINT": "servicestage.ap-southeast-1.myhuaweicloud.com"},
			[]Problem{{"SERVICESTAGE_ENDPOINT", `SERVICESTAGE_ENDPOINT: "servicestage.ap-southeast-1.myhuaweicloud.com" is not an absolute http(s) URL`}},
		},
		{
			"project ID missing",
			map[string]string{"HUAWEICLOUD_PROJECT_ID": ""},
			[]Problem{{"HUAWEICLOUD_PROJECT_ID", "HUAWEICLOUD_PROJECT_ID is required unless RELEASEBOT_SANDBOX=true"}},
		},
		{
			"project ID with a slash",
			map[string]string{"HUAWEICLOUD_PROJECT_ID": "abc/def"},
			[]Problem{{"HUAWEICLOUD_PROJECT_ID", `HUAWEICLOUD_PROJECT_ID: "abc/def" is not 1 to 64 letters, digits, '_' or '-'`}},
		},
		{
			"project ID too long",
			map[string]string{"HUAWEICLOUD_PROJECT_ID": strings.Repeat("p", 65)},
			[]Problem{{"HUAWEICLOUD_PROJECT_ID", `HUAWEICLOUD_PROJECT_ID: "` + strings.Repeat("p", 65) + `" is not 1 to 64 letters, digits, '_' or '-'`}},
		},
		{
			"no auth",
			noAuth,
			[]Problem{{"HUAWEICLOUD_AUTH_TOKEN", "no Huawei Cloud credentials: set one of HUAWEICLOUD_AUTH_TOKEN, " +
				"HUAWEICLOUD_SDK_AK+HUAWEICLOUD_SDK_SK, or HUAWEICLOUD_IAM_ENDPOINT+USERNAME+PASSWORD+DOMAIN (or RELEASEBOT_SANDBOX=true)"}},
		},
		{
			"token and AK/SK",
			map[string]string{"HUAWEICLOUD_SDK_AK": "AK1", "HUAWEICLOUD_SDK_SK": "SK1"},
			[]Problem{{"HUAWEICLOUD_AUTH_TOKEN", "set exactly one Huawei Cloud authentication mode, but " +
				"HUAWEICLOUD_AUTH_TOKEN, HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK are all set"}},
		},
		{
			"AK/SK and IAM, both partial",
			plus(noAuth, map[string]string{"HUAWEICLOUD_SDK_SK": "SK1", "HUAWEICLOUD_IAM_DOMAIN": "acme"}),
			[]Problem{
				{"HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_AK is required when HUAWEICLOUD_SDK_SK is set"},
				{"HUAWEICLOUD_SDK_SK", "set exactly one Huawei Cloud authentication mode, but " +
					"HUAWEICLOUD_SDK_SK and HUAWEICLOUD_IAM_DOMAIN are all set"},
				{"HUAWEICLOUD_IAM_ENDPOINT", "HUAWEICLOUD_IAM_ENDPOINT is required when HUAWEICLOUD_IAM_DOMAIN is set"},
				{"HUAWEICLOUD_IAM_USERNAME", "HUAWEICLOUD_IAM_USERNAME is required when HUAWEICLOUD_IAM_DOMAIN is set"},
				{"HUAWEICLOUD_IAM_PASSWORD", "HUAWEICLOUD_IAM_PASSWORD is required when HUAWEICLOUD_IAM_DOMAIN is set"},
			},
		},
		{
			"AK without SK",
			plus(noAuth, map[string]string{"HUAWEICLOUD_SDK_AK": "AK1"}),
			[]Problem{{"HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_SK is required when HUAWEICLOUD_SDK_AK is set"}},
		},
		{
			"SK without AK",
			plus(noAuth, map[string]string{"HUAWEICLOUD_SDK_SK": "SK1"}),
			[]Problem{{"HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_AK is required when HUAWEICLOUD_SDK_SK is set"}},
		},
		{
			"IAM without password and domain",
			plus(noAuth, map[string]string{"HUAWEICLOUD_IAM_ENDPOINT": "https://iam.myhuaweicloud.com", "HUAWEICLOUD_IAM_USERNAME": "bot"}),
			[]Problem{
				{"HUAWEICLOUD_IAM_PASSWORD", "HUAWEICLOUD_IAM_PASSWORD is required when HUAWEICLOUD_IAM_ENDPOINT and HUAWEICLOUD_IAM_USERNAME are set"},
				{"HUAWEICLOUD_IAM_DOMAIN", "HUAWEICLOUD_IAM_DOMAIN is required when HUAWEICLOUD_IAM_ENDPOINT and HUAWEICLOUD_IAM_USERNAME are set"},
			},
		},
		{
			"IAM without endpoint",
			plus(iamEnv("", "pw"), nil),
			[]Problem{{"HUAWEICLOUD_IAM_ENDPOINT", "HUAWEICLOUD_IAM_ENDPOINT is required when " +
				"HUAWEICLOUD_IAM_USERNAME, HUAWEICLOUD_IAM_PASSWORD and HUAWEICLOUD_IAM_DOMAIN are set"}},
		},
		{
			"IAM endpoint not a URL",
			iamEnv("iam.myhuaweicloud.com/v3", "pw"),
			[]Problem{{"HUAWEICLOUD_IAM_ENDPOINT", `HUAWEICLOUD_IAM_ENDPOINT: "iam.myhuaweicloud.com" is not an absolute http(s) URL`}},
		},
		{
			"IAM endpoint checked even when several modes are set",
			plus(iamEnv("iam", "pw"), map[string]string{"HUAWEICLOUD_AUTH_TOKEN": "tok"}),
			[]Problem{
				{"HUAWEICLOUD_AUTH_TOKEN", "set exactly one Huawei Cloud authentication mode, but HUAWEICLOUD_AUTH_TOKEN, " +
					"HUAWEICLOUD_IAM_ENDPOINT, HUAWEICLOUD_IAM_USERNAME, HUAWEICLOUD_IAM_PASSWORD and HUAWEICLOUD_IAM_DOMAIN are all set"},
				{"HUAWEICLOUD_IAM_ENDPOINT", `HUAWEICLOUD_IAM_ENDPOINT: "iam" is not an absolute http(s) URL`},
			},
		},
		{
			"sandbox not a bool",
			map[string]string{"RELEASEBOT_SANDBOX": "maybe"},
			[]Problem{{"RELEASEBOT_SANDBOX", `RELEASEBOT_SANDBOX: "maybe" is not true or false`}},
		},
		{
			"bad sandbox value does not switch off upstream checks",
			map[string]string{"RELEASEBOT_SANDBOX": "yes", "SERVICESTAGE_ENDPOINT": ""},
			[]Problem{
				{"SERVICESTAGE_ENDPOINT", "SERVICESTAGE_ENDPOINT is required unless RELEASEBOT_SANDBOX=true"},
				{"RELEASEBOT_SANDBOX", `RELEASEBOT_SANDBOX: "yes" is not true or false`},
			},
		},
		{
			"operator is a name",
			map[string]string{"RELEASEBOT_OPERATORS": "U123ABC, alice"},
			[]Problem{{"RELEASEBOT_OPERATORS", `RELEASEBOT_OPERATORS: "alice" is not *, a user ID (U..., W...) or a user group ID (S...)`}},
		},
		{
			"approvers in lower case, each reported",
			map[string]string{"RELEASEBOT_APPROVERS": "u123abc,s0group,U1"},
			[]Problem{
				{"RELEASEBOT_APPROVERS", `RELEASEBOT_APPROVERS: "u123abc" is not *, a user ID (U..., W...) or a user group ID (S...)`},
				{"RELEASEBOT_APPROVERS", `RELEASEBOT_APPROVERS: "s0group" is not *, a user ID (U..., W...) or a user group ID (S...)`},
				{"RELEASEBOT_APPROVERS", `RELEASEBOT_APPROVERS: "U1" is not *, a user ID (U..., W...) or a user group ID (S...)`},
			},
		},
		{
			"channel is a name",
			map[string]string{"RELEASEBOT_CHANNELS": "C012AB,#releases"},
			[]Problem{{"RELEASEBOT_CHANNELS", `RELEASEBOT_CHANNELS: "#releases" is not a channel ID (C..., G..., D...)`}},
		},
		{
			"alias without colon",
			map[string]string{"RELEASEBOT_ALIASES": "prod"},
			[]Problem{{"RELEASEBOT_ALIASES", `RELEASEBOT_ALIASES: "prod" is not alias:release-task-id`}},
		},
		{
			"alias without ID",
			map[string]string{"RELEASEBOT_ALIASES": "prod: "},
			[]Problem{{"RELEASEBOT_ALIASES", `RELEASEBOT_ALIASES: "prod:" is not alias:release-task-id`}},
		},
		{
			"alias without name",
			map[string]string{"RELEASEBOT_ALIASES": ":abc"},
			[]Problem{{"RELEASEBOT_ALIASES", `RELEASEBOT_ALIASES: ":abc" is not alias:release-task-id`}},
		},
		{
			"alias with a space",
			map[string]string{"RELEASEBOT_ALIASES": "my prod:abc"},
			[]Problem{{"RELEASEBOT_ALIASES", `RELEASEBOT_ALIASES: "my prod:abc" has a space in its alias`}},
		},
		{
			"alias ID with a slash",
			map[string]string{"RELEASEBOT_ALIASES": "prod:abc/def"},
			[]Problem{{"RELEASEBOT_ALIASES", `RELEASEBOT_ALIASES: "prod:abc/def" has a release task ID that is not 1 to 128 letters, digits, '_' or '-'`}},
		},
		{
			"alias ID too long",
			map[string]string{"RELEASEBOT_ALIASES": "prod:" + strings.Repeat("a", 129)},
			[]Problem{{"RELEASEBOT_ALIASES", `RELEASEBOT_ALIASES: "prod:` + strings.Repeat("a", 129) + `" has a release task ID that is not 1 to 128 letters, digits, '_' or '-'`}},
		},
		{
			"alias twice",
			map[string]string{"RELEASEBOT_ALIASES": "prod:abc,prod:def"},
			[]Problem{{"RELEASEBOT_ALIASES", `RELEASEBOT_ALIASES: "prod" is given twice`}},
		},
		{
			"approval task without approval task",
			map[string]string{"RELEASEBOT_APPROVAL_TASKS": "deploy web:"},
			[]Problem{{"RELEASEBOT_APPROVAL_TASKS", `RELEASEBOT_APPROVAL_TASKS: "deploy web:" is not release-task:approval-task`}},
		},
		{
			"approval task without colon",
			map[string]string{"RELEASEBOT_APPROVAL_TASKS": "deploy web"},
			[]Problem{{"RELEASEBOT_APPROVAL_TASKS", `RELEASEBOT_APPROVAL_TASKS: "deploy web" is not release-task:approval-task`}},
		},
		{
			"approval task twice",
			map[string]string{"RELEASEBOT_APPROVAL_TASKS": "web:gate, web :other"},
			[]Problem{{"RELEASEBOT_APPROVAL_TASKS", `RELEASEBOT_APPROVAL_TASKS: "web" is given twice`}},
		},
		{
			"required approvals not a number",
			map[string]string{"RELEASEBOT_REQUIRED_APPROVALS": "two"},
			[]Problem{{"RELEASEBOT_REQUIRED_APPROVALS", `RELEASEBOT_REQUIRED_APPROVALS: "two" is not an integer`}},
		},
		{
			"required approvals zero",
			map[string]string{"RELEASEBOT_REQUIRED_APPROVALS": "0"},
			[]Problem{{"RELEASEBOT_REQUIRED_APPROVALS", `RELEASEBOT_REQUIRED_APPROVALS: 0 is not between 1 and 20`}},
		},
		{
			"required approvals too many",
			map[string]string{"RELEASEBOT_REQUIRED_APPROVALS": "21"},
			[]Problem{{"RELEASEBOT_REQUIRED_APPROVALS", `RELEASEBOT_REQUIRED_APPROVALS: 21 is not between 1 and 20`}},
		},
		{
			"self approval not a bool",
			map[string]string{"RELEASEBOT_ALLOW_SELF_APPROVAL": "yes"},
			[]Problem{{"RELEASEBOT_ALLOW_SELF_APPROVAL", `RELEASEBOT_ALLOW_SELF_APPROVAL: "yes" is not true or false`}},
		},
		{
			"poll interval not a duration",
			map[string]string{"RELEASEBOT_POLL_INTERVAL": "10"},
			[]Problem{{"RELEASEBOT_POLL_INTERVAL", `RELEASEBOT_POLL_INTERVAL: "10" is not a duration`}},
		},
		{
			"poll interval too short",
			map[string]string{"RELEASEBOT_POLL_INTERVAL": "999ms"},
			[]Problem{{"RELEASEBOT_POLL_INTERVAL", `RELEASEBOT_POLL_INTERVAL: 999ms is not between 1s and 1h0m0s`}},
		},
		{
			"poll interval too long",
			map[string]string{"RELEASEBOT_POLL_INTERVAL": "1h0m1s"},
			[]Problem{{"RELEASEBOT_POLL_INTERVAL", `RELEASEBOT_POLL_INTERVAL: 1h0m1s is not between 1s and 1h0m0s`}},
		},
		{
			"database scheme unknown",
			map[string]string{"RELEASEBOT_DATABASE_URL": "mysql://db/releasebot"},
			[]Problem{{"RELEASEBOT_DATABASE_URL", `RELEASEBOT_DATABASE_URL must start with "sqlite:", "postgres://" or "postgresql://"`}},
		},
		{
			"database sqlite without path",
			map[string]string{"RELEASEBOT_DATABASE_URL": "sqlite:"},
			[]Problem{{"RELEASEBOT_DATABASE_URL", `RELEASEBOT_DATABASE_URL needs a file path after "sqlite:"`}},
		},
		{
			"database postgres without host",
			map[string]string{"RELEASEBOT_DATABASE_URL": "postgres:///releasebot"},
			[]Problem{{"RELEASEBOT_DATABASE_URL", `RELEASEBOT_DATABASE_URL needs a host in its PostgreSQL URL`}},
		},
		{
			"database postgres unparsable",
			map[string]string{"RELEASEBOT_DATABASE_URL": "postgres://db%zz/releasebot"},
			[]Problem{{"RELEASEBOT_DATABASE_URL", `RELEASEBOT_DATABASE_URL is not a valid PostgreSQL URL`}},
		},
		{
			"HTTP address without port",
			map[string]string{"RELEASEBOT_HTTP_ADDR": "8080"},
			[]Problem{{"RELEASEBOT_HTTP_ADDR", `RELEASEBOT_HTTP_ADDR: "8080" is not host:port`}},
		},
		{
			"HTTP address with a named port",
			map[string]string{"RELEASEBOT_HTTP_ADDR": ":http"},
			[]Problem{{"RELEASEBOT_HTTP_ADDR", `RELEASEBOT_HTTP_ADDR: port "http" is not a number from 0 to 65535`}},
		},
		{
			"HTTP address port out of range",
			map[string]string{"RELEASEBOT_HTTP_ADDR": "localhost:65536"},
			[]Problem{{"RELEASEBOT_HTTP_ADDR", `RELEASEBOT_HTTP_ADDR: port "65536" is not a number from 0 to 65535`}},
		},
		{
			"log level unknown",
			map[string]string{"LOG_LEVEL": "verbose"},
			[]Problem{{"LOG_LEVEL", `LOG_LEVEL: "verbose" is not a log level (trace, debug, info, warn, error, fatal, panic, disabled)`}},
		},
		{
			"log format unknown",
			map[string]string{"LOG_FORMAT": "text"},
			[]Problem{{"LOG_FORMAT", `LOG_FORMAT: "text" is not one of json, console`}},
		},
		{
			"every problem, in table order",
			map[string]string{"LOG_FORMAT": "text", "SLACK_BOT_TOKEN": "", "RELEASEBOT_OPERATORS": "bob", "SLACK_API_URL": "x"},
			[]Problem{
				{"SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN is required"},
				{"SLACK_API_URL", `SLACK_API_URL: "x" is not an absolute http(s) URL`},
				{"RELEASEBOT_OPERATORS", `RELEASEBOT_OPERATORS: "bob" is not *, a user ID (U..., W...) or a user group ID (S...)`},
				{"LOG_FORMAT", `LOG_FORMAT: "text" is not one of json, console`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromLookup(with(tt.env))

			assert.Equal(t, Config{}, got)
			assert.Equal(t, tt.want, problemsOf(t, err))
		})
	}
}

func TestErrorNamesNoSecret(t *testing.T) {
	secrets := []string{"SECRET-BOT", "SECRET-APP", "TOKEN-SECRET-000", "SK-SECRET-123", "PW-SECRET-456", "DBPASS-789"}
	all := map[string]string{
		"SLACK_BOT_TOKEN":          "xoxb-SECRET-BOT",
		"SLACK_APP_TOKEN":          "xapp-SECRET-APP",
		"HUAWEICLOUD_AUTH_TOKEN":   "TOKEN-SECRET-000",
		"HUAWEICLOUD_SDK_AK":       "AK1",
		"HUAWEICLOUD_SDK_SK":       "SK-SECRET-123",
		"HUAWEICLOUD_IAM_ENDPOINT": "https://iam.myhuaweicloud.com",
		"HUAWEICLOUD_IAM_USERNAME": "bot",
		"HUAWEICLOUD_IAM_PASSWORD": "PW-SECRET-456",
		"HUAWEICLOUD_IAM_DOMAIN":   "acme",
		"RELEASEBOT_DATABASE_URL":  "postgres://bot:DBPASS-789@db/releasebot",
	}
	failing := []struct {
		name string
		env  map[string]string
	}{
		{"tokens swapped", map[string]string{"SLACK_BOT_TOKEN": "xapp-SECRET-BOT", "SLACK_APP_TOKEN": "xoxb-SECRET-APP"}},
		{"tokens without prefix", map[string]string{"SLACK_BOT_TOKEN": "SECRET-BOT", "SLACK_APP_TOKEN": "SECRET-APP"}},
		{"every auth mode at once", all},
		{"SK alone", map[string]string{"HUAWEICLOUD_AUTH_TOKEN": "", "HUAWEICLOUD_SDK_SK": "SK-SECRET-123"}},
		{"password alone", map[string]string{"HUAWEICLOUD_AUTH_TOKEN": "", "HUAWEICLOUD_IAM_PASSWORD": "PW-SECRET-456"}},
		{"IAM endpoint bad", map[string]string{
			"HUAWEICLOUD_AUTH_TOKEN": "", "HUAWEICLOUD_IAM_ENDPOINT": "iam", "HUAWEICLOUD_IAM_PASSWORD": "PW-SECRET-456",
		}},
		{"postgres without host", map[string]string{"RELEASEBOT_DATABASE_URL": "postgres://bot:DBPASS-789@/releasebot"}},
		{"postgres password in query", map[string]string{"RELEASEBOT_DATABASE_URL": "postgres:///releasebot?password=DBPASS-789"}},
		{"postgres unparsable", map[string]string{"RELEASEBOT_DATABASE_URL": "postgres://bot:DBPASS-789@db%zz/releasebot"}},
		{"postgres misspelt", map[string]string{"RELEASEBOT_DATABASE_URL": "postgress://bot:DBPASS-789@db/releasebot"}},
		{"Slack API URL with credentials", map[string]string{"SLACK_API_URL": "ftp://bot:DBPASS-789@slack.com/api"}},
		{"endpoint with credentials", map[string]string{"SERVICESTAGE_ENDPOINT": "https://bot:DBPASS-789@host/?q=1"}},
	}
	for _, tt := range failing {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromLookup(with(tt.env))

			require.Error(t, err)
			for _, s := range secrets {
				assert.NotContains(t, err.Error(), s)
				assert.NotContains(t, fmt.Sprintf("%+v %#v", err, err), s)
			}
		})
	}

	valid := []struct {
		name string
		env  map[string]string
	}{
		{"token", map[string]string{
			"SLACK_BOT_TOKEN": "xoxb-SECRET-BOT", "SLACK_APP_TOKEN": "xapp-SECRET-APP",
			"HUAWEICLOUD_AUTH_TOKEN":  "TOKEN-SECRET-000",
			"RELEASEBOT_DATABASE_URL": "postgres://bot:DBPASS-789@db/releasebot",
		}},
		{"AK/SK", map[string]string{"HUAWEICLOUD_AUTH_TOKEN": "", "HUAWEICLOUD_SDK_AK": "AK1", "HUAWEICLOUD_SDK_SK": "SK-SECRET-123"}},
		{"IAM", iamEnv("https://iam.myhuaweicloud.com", "PW-SECRET-456")},
	}
	for _, tt := range valid {
		t.Run("valid "+tt.name, func(t *testing.T) {
			cfg, err := FromLookup(with(tt.env))
			require.NoError(t, err)
			js, err := json.Marshal(cfg)
			require.NoError(t, err)
			var logged bytes.Buffer
			log := zerolog.New(&logged)
			log.Info().Interface("cfg", cfg).Msg("config")

			for _, out := range []string{fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), string(js), logged.String()} {
				for _, s := range secrets {
					assert.NotContains(t, out, s)
				}
			}
		})
	}
}

func TestSecret(t *testing.T) {
	s := Secret("hunter2")
	for _, verb := range []string{"%s", "%v", "%+v", "%#v", "%q", "%x", "%X", "%d", "%10.3s", "%t"} {
		assert.Equal(t, "[redacted]", fmt.Sprintf(verb, s), verb)
	}
	js, err := json.Marshal(struct{ S Secret }{s})
	require.NoError(t, err)
	assert.JSONEq(t, `{"S":"[redacted]"}`, string(js))
	text, err := s.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "[redacted]", string(text))
	assert.Equal(t, "[redacted]", s.String())
	assert.Equal(t, "[redacted]", s.GoString())
	assert.Equal(t, "hunter2", s.Reveal())
}

func TestAuthModeString(t *testing.T) {
	tests := map[AuthMode]string{AuthNone: "none", AuthToken: "token", AuthAKSK: "aksk", AuthIAM: "iam", AuthMode(9): "AuthMode(9)"}
	for mode, want := range tests {
		assert.Equal(t, want, mode.String())
	}
}

func TestPrincipalsIsEmpty(t *testing.T) {
	tests := []struct {
		name string
		p    Principals
		want bool
	}{
		{"unset", Principals{}, true},
		{"everyone", Principals{All: true}, false},
		{"a user", Principals{Users: []string{"U123"}}, false},
		{"a group", Principals{Groups: []string{"S123"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.p.IsEmpty())
		})
	}
}

// TestVarNames pins the variables and their order to SPEC §5's table.
func TestVarNames(t *testing.T) {
	assert.Equal(t, []string{
		"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_API_URL",
		"SERVICESTAGE_ENDPOINT", "HUAWEICLOUD_PROJECT_ID", "HUAWEICLOUD_AUTH_TOKEN",
		"HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK",
		"HUAWEICLOUD_IAM_ENDPOINT", "HUAWEICLOUD_IAM_USERNAME", "HUAWEICLOUD_IAM_PASSWORD", "HUAWEICLOUD_IAM_DOMAIN",
		"RELEASEBOT_SANDBOX", "RELEASEBOT_OPERATORS", "RELEASEBOT_APPROVERS", "RELEASEBOT_CHANNELS",
		"RELEASEBOT_ALIASES", "RELEASEBOT_APPROVAL_TASKS", "RELEASEBOT_REQUIRED_APPROVALS",
		"RELEASEBOT_ALLOW_SELF_APPROVAL", "RELEASEBOT_POLL_INTERVAL", "RELEASEBOT_DATABASE_URL",
		"RELEASEBOT_HTTP_ADDR", "LOG_LEVEL", "LOG_FORMAT",
	}, varNames())
}

// unsetAll clears every variable releasebot reads for the rest of the test;
// t.Setenv restores the originals afterwards.
func unsetAll(t *testing.T) {
	for _, name := range varNames() {
		t.Setenv(name, "")
		require.NoError(t, os.Unsetenv(name))
	}
}

func TestLoad(t *testing.T) {
	t.Run("defaults from envconfig match FromLookup", func(t *testing.T) {
		unsetAll(t)
		for k, v := range baseEnv() {
			t.Setenv(k, v)
		}

		got, err := Load()

		require.NoError(t, err)
		assert.Equal(t, baseConfig(), got)
	})
	t.Run("every variable set", func(t *testing.T) {
		unsetAll(t)
		env := map[string]string{
			"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "SLACK_API_URL": "http://127.0.0.1:1/api",
			"RELEASEBOT_SANDBOX": "true", "SERVICESTAGE_ENDPOINT": endpoint,
			"RELEASEBOT_OPERATORS": "*", "RELEASEBOT_APPROVERS": "U1AB", "RELEASEBOT_CHANNELS": "C1AB",
			"RELEASEBOT_ALIASES": "prod:abc", "RELEASEBOT_APPROVAL_TASKS": "web:gate",
			"RELEASEBOT_REQUIRED_APPROVALS": "2", "RELEASEBOT_ALLOW_SELF_APPROVAL": "true",
			"RELEASEBOT_POLL_INTERVAL": "2s", "RELEASEBOT_DATABASE_URL": "sqlite::memory:",
			"RELEASEBOT_HTTP_ADDR": ":0", "LOG_LEVEL": "warn", "LOG_FORMAT": "console",
		}
		for k, v := range env {
			t.Setenv(k, v)
		}

		got, err := Load()

		require.NoError(t, err)
		assert.Equal(t, Config{
			SlackBotToken: "xoxb-1", SlackAppToken: "xapp-1", SlackAPIURL: "http://127.0.0.1:1/api/",
			Sandbox: true, IgnoredUpstream: []string{"SERVICESTAGE_ENDPOINT"},
			Operators: Principals{All: true}, Approvers: Principals{Users: []string{"U1AB"}}, Channels: []string{"C1AB"},
			Aliases: map[string]string{"prod": "abc"}, ApprovalTasks: map[string]string{"web": "gate"},
			RequiredApprovals: 2, AllowSelfApproval: true, PollInterval: 2 * time.Second,
			DatabaseDriver: "sqlite", DatabaseDSN: ":memory:",
			HTTPAddr: ":0", LogLevel: zerolog.WarnLevel, LogFormat: "console",
		}, got)
	})
	t.Run("invalid", func(t *testing.T) {
		unsetAll(t)
		t.Setenv("SLACK_BOT_TOKEN", "xoxb-1")
		t.Setenv("RELEASEBOT_SANDBOX", "true")

		_, err := Load()

		assert.EqualError(t, err, "invalid configuration: SLACK_APP_TOKEN is required")
	})
}

package config

import (
	"errors"
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

		ApprovalRemind:        30 * time.Minute,
		ApprovalReminders:     3,
		ApprovalTimeout:       24 * time.Hour,
		ApprovalTimeoutAction: "expire",
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
		"RELEASEBOT_APPROVAL_REMIND", "RELEASEBOT_APPROVAL_REMINDERS", "RELEASEBOT_APPROVAL_ESCALATE_TO",
		"RELEASEBOT_APPROVAL_TIMEOUT", "RELEASEBOT_APPROVAL_TIMEOUT_ACTION", "RELEASEBOT_APPROVAL_DM",
		"RELEASEBOT_FREEZE_OVERRIDERS", "RELEASEBOT_POLICY", "RELEASEBOT_CONSOLE_URL",
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
		policyFile, wantPolicy := writePolicy(t, "release_tasks:\n  web: {required_approvals: 2}\n")
		env := map[string]string{
			"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "SLACK_API_URL": "http://127.0.0.1:1/api",
			"RELEASEBOT_SANDBOX": "true", "SERVICESTAGE_ENDPOINT": endpoint,
			"RELEASEBOT_OPERATORS": "*", "RELEASEBOT_APPROVERS": "U1AB", "RELEASEBOT_CHANNELS": "C1AB",
			"RELEASEBOT_ALIASES": "prod:abc", "RELEASEBOT_APPROVAL_TASKS": "web:gate",
			"RELEASEBOT_REQUIRED_APPROVALS": "2", "RELEASEBOT_ALLOW_SELF_APPROVAL": "true",
			"RELEASEBOT_POLL_INTERVAL": "2s", "RELEASEBOT_DATABASE_URL": "sqlite::memory:",
			"RELEASEBOT_HTTP_ADDR": ":0", "LOG_LEVEL": "warn", "LOG_FORMAT": "console",
			"RELEASEBOT_APPROVAL_REMIND": "5m", "RELEASEBOT_APPROVAL_REMINDERS": "2",
			"RELEASEBOT_APPROVAL_ESCALATE_TO": "S0SRE", "RELEASEBOT_APPROVAL_TIMEOUT": "0",
			"RELEASEBOT_APPROVAL_TIMEOUT_ACTION": "refuse", "RELEASEBOT_APPROVAL_DM": "true",
			"RELEASEBOT_FREEZE_OVERRIDERS": "U0CTO", "RELEASEBOT_POLICY": policyFile,
			"RELEASEBOT_CONSOLE_URL": "https://console.example.com/{project_id}#/p/{pipeline_id}/e/{execution_id}",
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
			ApprovalRemind: 5 * time.Minute, ApprovalReminders: 2, ApprovalEscalateTo: Principals{Groups: []string{"S0SRE"}},
			ApprovalTimeout: 0, ApprovalTimeoutAction: "refuse", ApprovalDM: true,
			FreezeOverriders: Principals{Users: []string{"U0CTO"}}, PolicyFile: policyFile, Policy: wantPolicy,
			ConsoleURL: "https://console.example.com/{project_id}#/p/{pipeline_id}/e/{execution_id}",
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

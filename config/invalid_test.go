package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

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

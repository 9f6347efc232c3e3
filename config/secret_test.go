package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
		{"console URL with credentials", map[string]string{"RELEASEBOT_CONSOLE_URL": "https://bot:DBPASS-789@console/{execution_id}"}},
		{"console URL with credentials and a bad scheme", map[string]string{"RELEASEBOT_CONSOLE_URL": "ftp://bot:DBPASS-789@console/{bad}"}},
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

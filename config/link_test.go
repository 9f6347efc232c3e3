package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConsoleURL(t *testing.T) {
	tests := []struct {
		name, v string
	}{
		{"every placeholder, in path and fragment", "https://console.example.com/servicestage/?region=ap-southeast-1#/{project_id}/pipelines/{pipeline_id}/executions/{execution_id}"},
		{"no placeholder", "https://console.example.com/servicestage"},
		{"http and a port", "http://127.0.0.1:8080/e/{execution_id}"},
		{"a placeholder in the host", "https://{project_id}.console.example.com/"},
		{"a placeholder twice", "https://c.example.com/{execution_id}?again={execution_id}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromLookup(with(map[string]string{"RELEASEBOT_CONSOLE_URL": tt.v}))

			require.NoError(t, err)
			assert.Equal(t, LinkTemplate(tt.v), got.ConsoleURL)
		})
	}
}

func TestConsoleURLInvalid(t *testing.T) {
	const name = "RELEASEBOT_CONSOLE_URL"
	tests := []struct {
		name string
		v    string
		want []Problem
	}{
		{"not absolute", "console.example.com/{execution_id}", []Problem{{name, name + `: "console.example.com/{execution_id}" is not an absolute http(s) URL`}}},
		{"not http", "ftp://console.example.com/", []Problem{{name, name + `: "ftp://console.example.com/" is not an absolute http(s) URL`}}},
		{"without host", "https:///{execution_id}", []Problem{{name, name + `: "https:///{execution_id}" is not an absolute http(s) URL`}}},
		{"unparsable", "https://[::1/{execution_id}", []Problem{{name, name + " is not a valid URL"}}},
		{"credentials", "https://bot:pw@console.example.com/", []Problem{{name, name + " must not hold a user name or password: the link is posted in Slack"}}},
		{
			"unknown placeholders, each reported",
			"https://c.example.com/{project}/{execution_id}/{Execution_ID}",
			[]Problem{
				{name, name + ": unknown placeholder {project} (known: {project_id}, {pipeline_id}, {execution_id})"},
				{name, name + ": unknown placeholder {Execution_ID} (known: {project_id}, {pipeline_id}, {execution_id})"},
			},
		},
		{"empty placeholder", "https://c.example.com/{}", []Problem{{name, name + ": unknown placeholder {} (known: {project_id}, {pipeline_id}, {execution_id})"}}},
		{"unclosed brace", "https://c.example.com/{execution_id", []Problem{{name, name + ": a { or } is not part of a placeholder such as {execution_id}"}}},
		{"nested braces", "https://c.example.com/{{execution_id}}", []Problem{{name, name + ": a { or } is not part of a placeholder such as {execution_id}"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromLookup(with(map[string]string{name: tt.v}))

			assert.Equal(t, Config{}, got)
			assert.Equal(t, tt.want, problemsOf(t, err))
		})
	}
}

func TestLinkTemplateExpand(t *testing.T) {
	tests := []struct {
		name string
		tmpl LinkTemplate
		want string
	}{
		{"empty template", "", ""},
		{"every placeholder", "https://c.example.com/{project_id}#/{pipeline_id}/{execution_id}", "https://c.example.com/p1#/pl-2/e_3"},
		{"no placeholder", "https://c.example.com/", "https://c.example.com/"},
		{"a placeholder twice", "https://c.example.com/{execution_id}/{execution_id}", "https://c.example.com/e_3/e_3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.tmpl.Expand("p1", "pl-2", "e_3"))
		})
	}
}

// TestLinkTemplateExpandEscapes keeps a value from leaving its place in the
// URL or ending a Slack link <url|text>.
func TestLinkTemplateExpandEscapes(t *testing.T) {
	got := LinkTemplate("https://c.example.com/{execution_id}").Expand("p", "pl", "a/b?c#d|e>f g")

	assert.Equal(t, "https://c.example.com/a%2Fb%3Fc%23d%7Ce%3Ef%20g", got)
}

package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The upstream metric names each request by what it does, from its URL.
func TestOperation(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"https://iam.example.com/v3/auth/tokens", "iam_token"},
		{"https://ss.example.com/v3/p0/pipeline/pipelines/t1/action?action_id=start", "action:start"},
		{"https://ss.example.com/v3/p0/pipeline/pipelines/t1/action?x=1&action_id=approval", "action:approval"},
		{"https://ss.example.com/v3/p0/pipeline/pipelines/t1/action?action_id=rollback&action_id=start", "action:rollback"},
		{"https://ss.example.com/v3/p0/pipeline/pipelines/t1/action?action_id=st%61rt", "action"},
		{"https://ss.example.com/v3/p0/pipeline/pipelines/t1/action?action_id=launch", "action"},
		{"https://ss.example.com/v3/p0/pipeline/pipelines/t1/action", "action"},
		{"https://ss.example.com/v3/p0/pipeline/pipelines/t1/records?offset=0", "records"},
		{"https://ss.example.com/v3/p0/pipeline/pipelines", "list"},
		{"https://ss.example.com/v3/p0/pipeline/pipelines/", "list"},
		{"https://ss.example.com/v3/p0/pipeline/pipelines/t1", "get"},
		{"https://ss.example.com/healthz", "other"},
	} {
		r, err := http.NewRequest(http.MethodGet, tc.url, nil)
		if assert.NoError(t, err) {
			assert.Equal(t, tc.want, operation(r), tc.url)
		}
	}
}

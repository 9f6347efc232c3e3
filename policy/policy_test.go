package policy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRulesFor(t *testing.T) {
	p := mustParse(t, `
release_tasks:
  payments-api: {required_approvals: 2}
  0f3a-id:      {required_approvals: 3}
  prod-pay:     {required_approvals: 4}
  "payments-*": {required_approvals: 5}
  "pay*":       {required_approvals: 6}
  "*-api":      {required_approvals: 7}
  "web-?":      {required_approvals: 8}
  "we?-x":      {required_approvals: 9}
  "*":          {required_approvals: 10}
`)
	tests := []struct {
		name    string
		keys    []string
		wantKey string
	}{
		{"exact name beats every glob", []string{"payments-api"}, "payments-api"},
		{"exact match is case-insensitive", []string{"Payments-API"}, "payments-api"},
		{"exact ID", []string{"billing", "0f3a-id"}, "0f3a-id"},
		{"exact alias", []string{"payments-web", "prod-pay", "9999"}, "prod-pay"},
		{"of two exact matches the earlier key wins", []string{"prod-pay", "payments-api"}, "prod-pay"},
		{"longest glob wins", []string{"payments-web"}, "payments-*"},
		{"a glob may match any of the keys", []string{"0000", "pay-web"}, "pay*"},
		{"tie in length: lexical order", []string{"web-x"}, "we?-x"},
		{"glob matching ignores case", []string{"WEB-1"}, "web-?"},
		{"catch-all", []string{"billing"}, "*"},
		{"empty keys do not match", []string{"", "billing"}, "*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := p.RulesFor(tt.keys...)

			require.True(t, ok)
			assert.Equal(t, tt.wantKey, got.Key)
		})
	}
}

func TestRulesForNoMatch(t *testing.T) {
	p := mustParse(t, "release_tasks:\n  'pay*': {required_approvals: 2}\n")
	tests := []struct {
		name string
		p    *Policy
		keys []string
	}{
		{"nil policy", nil, []string{"web"}},
		{"empty policy", &Policy{}, []string{"web"}},
		{"no key matches", p, []string{"web", "0f3a"}},
		{"no keys", p, nil},
		{"only an empty key", p, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.p.RulesFor(tt.keys...)

			assert.False(t, ok)
			assert.Equal(t, Rules{}, got)
		})
	}
}

func TestRulesForReturnsACopy(t *testing.T) {
	p := mustParse(t, "release_tasks:\n  web:\n    approvers: [U0AB]\n")
	first, _ := p.RulesFor("web")
	first.Approvers.Users[0] = "U0XX"
	first.Approvers.All = true

	again, _ := p.RulesFor("web")

	assert.Equal(t, &Principals{Users: []string{"U0AB"}}, again.Approvers)
}

func TestPrincipalsAdd(t *testing.T) {
	tests := []struct {
		id   string
		ok   bool
		want Principals
	}{
		{"*", true, Principals{All: true}},
		{"U0AB", true, Principals{Users: []string{"U0AB"}}},
		{"W0AB", true, Principals{Users: []string{"W0AB"}}},
		{"S0AB", true, Principals{Groups: []string{"S0AB"}}},
		{"U0", false, Principals{}},
		{"u0ab", false, Principals{}},
		{"U0aB", false, Principals{}},
		{"C0AB", false, Principals{}},
		{"U0AB ", false, Principals{}},
		{"**", false, Principals{}},
		{"", false, Principals{}},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			var got Principals

			assert.Equal(t, tt.ok, got.Add(tt.id))
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestPrincipalsIsEmpty(t *testing.T) {
	tests := []struct {
		name string
		p    Principals
		want bool
	}{
		{"nobody", Principals{}, true},
		{"everyone", Principals{All: true}, false},
		{"a user", Principals{Users: []string{"U0AB"}}, false},
		{"a group", Principals{Groups: []string{"S0AB"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.p.IsEmpty())
		})
	}
}

func TestNilPolicy(t *testing.T) {
	var p *Policy
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	assert.Nil(t, p.FreezesAt(now))
	assert.Nil(t, p.Upcoming(now, time.Hour))
}

package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

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

package bot

import (
	"context"
	"testing"
)

// Test files do not run in production: their calls need no scope.
func TestUsers(t *testing.T) {
	var b Bot
	_, _ = b.api.GetUserInfoContext(context.Background(), "U1")
}

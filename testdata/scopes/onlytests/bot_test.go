package bot

import "testing"

func TestNothing(t *testing.T) {}

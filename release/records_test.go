package release_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/releasebot/releasebot/release"
)

func TestOldestFirst(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	f := func(p, e string, at time.Duration, ts string) release.Followed {
		return release.Followed{PipelineID: p, ExecutionID: e, CreatedAt: t0.Add(at), TS: ts}
	}
	got := release.OldestFirst([]release.Followed{
		f("p2", "1", time.Minute, "trusted"), f("p1", "9", time.Minute, ""), f("p1", "1", 0, ""),
		f("p2", "1", time.Minute, "repeated"), f("p1", "2", 0, ""),
	})
	assert.Equal(t, []release.Followed{
		f("p1", "1", 0, ""), f("p1", "2", 0, ""), f("p1", "9", time.Minute, ""), f("p2", "1", time.Minute, "trusted"),
	}, got, "by start, release task and execution; the first of a repeated execution kept")
}

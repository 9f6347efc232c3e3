package store

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/release"
)

// TestLockCache: the cache keeps a read until a lock write clears it, and
// never keeps a read that began before a clear (it may predate the write).
func TestLockCache(t *testing.T) {
	var c lockCache
	reads := 0
	read := func(ls ...release.Lock) func() ([]release.Lock, error) {
		return func() ([]release.Lock, error) { reads++; return ls, nil }
	}
	got, err := c.get(read(release.Lock{ID: "L1"}))
	require.NoError(t, err)
	assert.Equal(t, []release.Lock{{ID: "L1"}}, got)
	got, err = c.get(read(release.Lock{ID: "stale"}))
	require.NoError(t, err)
	assert.Equal(t, []release.Lock{{ID: "L1"}}, got, "kept")
	assert.Equal(t, 1, reads)

	c.clear()
	_, err = c.get(func() ([]release.Lock, error) {
		reads++
		c.clear() // a write committed while this read ran
		return []release.Lock{{ID: "before the write"}}, nil
	})
	require.NoError(t, err)
	got, err = c.get(read(release.Lock{ID: "L2"}))
	require.NoError(t, err)
	assert.Equal(t, []release.Lock{{ID: "L2"}}, got, "the read that raced a write was not kept")
	assert.Equal(t, 3, reads)

	c.clear()
	_, err = c.get(func() ([]release.Lock, error) { return nil, errors.New("disk") })
	require.Error(t, err)
	got, err = c.get(read())
	require.NoError(t, err)
	assert.Empty(t, got, "a failed read is not kept")
}

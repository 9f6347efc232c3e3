package httpbody_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/releasebot/releasebot/internal/httpbody"
)

// stingy returns at most one byte a read, then (0, nil) once before each
// following byte: what a reader may do, and Read must read on through.
type stingy struct {
	r     io.Reader
	empty bool
}

func (s *stingy) Read(p []byte) (int, error) {
	if s.empty = !s.empty; s.empty {
		return 0, nil
	}
	return s.r.Read(p[:min(len(p), 1)])
}

func TestRead(t *testing.T) {
	failing := errors.New("connection reset")
	for _, tc := range []struct {
		name          string
		r             io.Reader
		length, limit int64
		want          string
		err           error
	}{
		{"declared", strings.NewReader(`{"ok":true}`), 11, -1, `{"ok":true}`, nil},
		{"declared, read a byte at a time", &stingy{r: strings.NewReader(`{"ok":true}`)}, 11, -1, `{"ok":true}`, nil},
		{"declared, within the limit", strings.NewReader(`{"ok":true}`), 11, 11, `{"ok":true}`, nil},
		{"shorter than declared", strings.NewReader(`{"ok":`), 11, -1, "", io.ErrUnexpectedEOF},
		{"longer than declared", strings.NewReader(`{"ok":true} and more`), 11, -1, "", httpbody.ErrLonger},
		{"failing after the declared bytes", io.MultiReader(strings.NewReader(`{"ok":true}`), iotest.ErrReader(failing)), 11, -1, "", failing},
		{"not declared", strings.NewReader(`{"ok":true}`), -1, -1, `{"ok":true}`, nil},
		{"not declared, over the limit: limit+1 bytes", strings.NewReader(`{"ok":true}`), -1, 4, `{"ok":`[:5], nil},
		{"declared over the limit: limit+1 bytes", strings.NewReader(`{"ok":true}`), 11, 4, `{"ok":`[:5], nil},
		// Not 1 GiB allocated for it: read as it comes (net/http itself fails a
		// body that ends short of its length).
		{"declared over what is allocated up front", strings.NewReader(`{}`), 1 << 30, -1, `{}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := httpbody.Read(tc.r, tc.length, tc.limit)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
		})
	}
}

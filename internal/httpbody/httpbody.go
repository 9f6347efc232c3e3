// Package httpbody reads HTTP answers' bodies whole, in one buffer when
// their length is declared: io.ReadAll grows its buffer from 512 bytes,
// two or three allocations and copies for a typical answer of Slack or
// ServiceStage, on the bot's busiest paths.
package httpbody

import (
	"errors"
	"fmt"
	"io"
)

// presize bounds the buffer a declared length makes Read allocate before
// any of the body has come; a longer body is read as it comes.
const presize = 1 << 20

// ErrLonger says a body went on past the length it declared.
var ErrLonger = errors.New("body longer than its declared length")

// Read reads r, a body that declared length bytes (-1 or 0: not declared),
// to its end. With limit >= 0 it reads at most limit+1 bytes, so that the
// caller can tell a body over limit; a declared length over limit is read
// that way too. A body shorter than it declared is io.ErrUnexpectedEOF, a
// longer one ErrLonger.
func Read(r io.Reader, length, limit int64) ([]byte, error) {
	if length <= 0 || length > presize || (limit >= 0 && length > limit) {
		if limit >= 0 {
			r = io.LimitReader(r, limit+1)
		}
		return io.ReadAll(r)
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	// The end too: HTTP/2 reports a body longer than declared, and ends
	// the stream cleanly, only on the read after the last byte.
	var one [1]byte
	for {
		n, err := r.Read(one[:])
		switch {
		case n > 0:
			return nil, ErrLonger
		case err == io.EOF:
			return body, nil
		case err != nil:
			return nil, fmt.Errorf("after %d bytes: %w", length, err)
		}
	}
}

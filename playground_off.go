//go:build noplayground

package main

import (
	"fmt"
	"io"
)

// playgroundMain stands in for `releasebot playground` in a binary built
// with -tags noplayground (the container image, which must stay small).
func playgroundMain(_, stderr io.Writer) int {
	fmt.Fprintln(stderr, "releasebot playground: this binary was built without it (-tags noplayground); run `go run . playground` from a clone")
	return 2
}

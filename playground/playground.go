// Package playground is the web page of `releasebot playground`: a Slack-like channel over the Slack simulator, embedded in the binary.
package playground

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/releasebot/releasebot/internal/fakeslack"
)

// The people of the playground's workspace, one for each role.
const (
	Operator  = "U0OPERATOR"
	Approver1 = "U0APPROVER1"
	Approver2 = "U0APPROVER2"
	Visitor   = "U0VISITOR" // no role: may read, not act
)

// People returns the playground's workspace, in the order the page offers them.
func People() []fakeslack.User {
	return []fakeslack.User{
		{ID: Operator, Name: "Olivia", Title: "operator"},
		{ID: Approver1, Name: "Amir", Title: "approver"},
		{ID: Approver2, Name: "Bea", Title: "approver"},
		{ID: Visitor, Name: "Victor", Title: "no role"},
	}
}

//go:embed web
var web embed.FS

// Handler serves the page at / and the simulator's UI API (see
// fakeslack.Server.UIHandler) under /api/.
func Handler(sim *fakeslack.Server) http.Handler {
	static, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServerFS(static))
	mux.Handle("/api/", http.StripPrefix("/api", sim.UIHandler()))
	return secure(mux)
}

// secure keeps the page to its own files: no inline script, no framing.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

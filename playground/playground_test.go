package playground_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/releasebot/releasebot/internal/fakeslack"
	"github.com/releasebot/releasebot/playground"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestHandlerServesThePageAndTheSimulatorsAPI(t *testing.T) {
	sim := fakeslack.MustStart(t, fakeslack.Options{Users: playground.People()})
	srv := httptest.NewServer(playground.Handler(sim))
	t.Cleanup(srv.Close)

	tests := []struct {
		path, wantType, wantBody string
		wantStatus               int
	}{
		{"/", "text/html", `<script src="app.js" defer></script>`, http.StatusOK},
		{"/app.js", "text/javascript", "api/events", http.StatusOK},
		{"/style.css", "text/css", ".msg", http.StatusOK},
		{"/api/users", "application/json", `"id":"U0OPERATOR"`, http.StatusOK},
		{"/nope.js", "text/plain", "404", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := srv.Client().Get(srv.URL + tt.path)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), tt.wantType), "Content-Type %q", resp.Header.Get("Content-Type"))
			assert.Contains(t, string(body), tt.wantBody)
			assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'self'")
			assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
		})
	}
}

func TestPeopleHaveEveryRole(t *testing.T) {
	var ids, titles []string
	for _, p := range playground.People() {
		ids = append(ids, p.ID)
		titles = append(titles, p.Title)
		assert.NotEmpty(t, p.Name)
	}
	assert.Equal(t, []string{playground.Operator, playground.Approver1, playground.Approver2, playground.Visitor}, ids)
	assert.Equal(t, []string{"operator", "approver", "approver", "no role"}, titles)
	raw, err := json.Marshal(playground.People()[0])
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"U0OPERATOR","name":"Olivia","title":"operator"}`, string(raw))
}

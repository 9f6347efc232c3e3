package api

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// addDocShapes seeds a fuzz target with the response shapes the ServiceStage
// documentation shows (testdata/docshapes), besides testdata/fuzz.
func addDocShapes(f *testing.F, prefix string) {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "docshapes", prefix+"*.json"))
	require.NoError(f, err)
	for _, p := range paths {
		data, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(data)
	}
}

func TestDocumentedShapesDecode(t *testing.T) {
	decoders := map[string]func([]byte) error{
		"operate_": func(b []byte) error { _, err := decodeExecution(b); return err },
		"list_":    func(b []byte) error { _, err := decodeReleaseTasks(b); return err },
		"details_": func(b []byte) error { _, err := decodeReleaseTaskDetail(b); return err },
		"records_": func(b []byte) error { _, err := decodeRecords(b); return err },
	}
	seen := 0
	for prefix, decode := range decoders {
		paths, err := filepath.Glob(filepath.Join("testdata", "docshapes", prefix+"*.json"))
		require.NoError(t, err)
		require.NotEmpty(t, paths, prefix)
		for _, p := range paths {
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			assert.NoError(t, decode(data), p)
			seen++
		}
	}
	assert.GreaterOrEqual(t, seen, 7)

	for _, name := range []string{"error_flat.json", "error_flat_svcstg.json", "error_nested.json", "error_apigw.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", "docshapes", name))
		require.NoError(t, err)
		e := decodeError(400, data)
		assert.NotEmpty(t, e.Code, name)
		assert.NotEmpty(t, e.Message, name)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "docshapes", "iam_token_response.json"))
	require.NoError(t, err)
	now := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	assert.NotEqual(t, now.Add(10*time.Minute), decodeTokenExpiry(data, now), "expires_at is read")
}

func FuzzDecodeExecution(f *testing.F) {
	addDocShapes(f, "operate_")
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := decodeExecution(data)
		if err != nil {
			return
		}
		if e.ID == "" {
			t.Fatal("decoded an execution without an id")
		}
		if e.Status.Label() == "" {
			t.Fatal("empty status label")
		}
	})
}

func FuzzDecodeReleaseTasks(f *testing.F) {
	addDocShapes(f, "list_")
	f.Fuzz(func(t *testing.T, data []byte) {
		tasks, err := decodeReleaseTasks(data)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		for _, tk := range tasks {
			if tk.Status.Label() == "" {
				t.Fatal("empty status label")
			}
			if !tk.LastTriggerAt.IsZero() && tk.LastTriggerAt.Location() != time.UTC {
				t.Fatal("time not in UTC")
			}
		}
	})
}

func FuzzDecodeReleaseTaskDetail(f *testing.F) {
	addDocShapes(f, "details_")
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := decodeReleaseTaskDetail(data)
		if err != nil {
			return
		}
		if d.ID == "" && d.Name == "" {
			t.Fatal("decoded a release task with neither id nor name")
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		if len(d.ApprovalTasks()) > len(d.Stages)*1000 {
			t.Fatal("more approval tasks than tasks")
		}
	})
}

func FuzzDecodeRecords(f *testing.F) {
	addDocShapes(f, "records_")
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := decodeRecords(data)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		for _, r := range recs {
			if r.Status.Finished() && r.Status.AwaitingPerson() {
				t.Fatalf("status %d both finished and waiting", r.Status)
			}
			for _, s := range r.Stages {
				if s.Status.Label() == "" {
					t.Fatal("empty stage status label")
				}
			}
		}
	})
}

func FuzzDecodeError(f *testing.F) {
	for _, name := range []string{"error_flat.json", "error_nested.json", "error_apigw.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", "docshapes", name))
		require.NoError(f, err)
		f.Add(401, data)
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := decodeError(status, body)
		msg := e.Error()
		if msg == "" {
			t.Fatal("empty error text")
		}
		if utf8.RuneCountInString(e.Message) > 501 || utf8.RuneCountInString(e.Code) > 65 {
			t.Fatalf("unbounded fields: %d/%d runes", utf8.RuneCountInString(e.Message), utf8.RuneCountInString(e.Code))
		}
		if strings.IndexFunc(e.Message+e.Code, func(r rune) bool { return unicode.IsControl(r) }) >= 0 {
			t.Fatalf("control character in %q", e.Message)
		}
	})
}

func FuzzDecodeTokenExpiry(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "docshapes", "iam_token_response.json"))
	require.NoError(f, err)
	f.Add(data)
	now := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, data []byte) {
		got := decodeTokenExpiry(data, now)
		if got.IsZero() {
			t.Fatal("zero expiry")
		}
		if got != now.Add(10*time.Minute) && !json.Valid(data) {
			t.Fatalf("an expiry %v read from invalid JSON %q", got, data)
		}
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	f.Fuzz(func(t *testing.T, v string) {
		d := parseRetryAfter(v, time.Unix(1_700_000_000, 0))
		if d < 0 || d > 24*time.Hour {
			t.Fatalf("Retry-After %q gave %v", v, d)
		}
	})
}

// TestFuzzCorporaArePresent keeps the checked-in seeds from vanishing: go
// test runs them as ordinary cases, and an empty folder would run nothing.
func TestFuzzCorporaArePresent(t *testing.T) {
	for _, name := range []string{"FuzzDecodeExecution", "FuzzDecodeReleaseTasks", "FuzzDecodeReleaseTaskDetail",
		"FuzzDecodeRecords", "FuzzDecodeError", "FuzzDecodeTokenExpiry", "FuzzParseRetryAfter"} {
		files, err := os.ReadDir(filepath.Join("testdata", "fuzz", name))
		require.NoError(t, err, name)
		assert.NotEmpty(t, files, name)
	}
}

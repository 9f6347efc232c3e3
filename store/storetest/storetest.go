// Package storetest gives tests a fresh database of each kind releasebot supports.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// PostgresEnv names the variable that holds the URL of a PostgreSQL server
// for tests; .ci/run sets it, so CI always runs the PostgreSQL variants.
const PostgresEnv = "RELEASEBOT_TEST_POSTGRES_URL"

// Drivers lists the databases to test against: sqlite always, postgres
// when PostgresEnv is set.
func Drivers() []string {
	if os.Getenv(PostgresEnv) != "" {
		return []string{"sqlite", "postgres"}
	}
	return []string{"sqlite"}
}

// DSN returns a fresh, empty database of the driver's kind: a file in a
// temporary folder, or a new PostgreSQL schema (dropped at cleanup) as a URL
// whose search_path points at it. It fails the test when postgres is asked
// for and PostgresEnv is not set.
func DSN(tb testing.TB, driver string) string {
	tb.Helper()
	switch driver {
	case "sqlite":
		return filepath.Join(tb.TempDir(), "releasebot.db")
	case "postgres":
		base := os.Getenv(PostgresEnv)
		if base == "" {
			tb.Fatalf("%s is not set", PostgresEnv)
		}
		schema := "t_" + strings.ToLower(rand.Text())
		db, err := sql.Open("pgx", base)
		if err != nil {
			tb.Fatalf("open postgres: %v", err)
		}
		defer db.Close()
		if _, err := db.ExecContext(context.Background(), `CREATE SCHEMA `+schema); err != nil {
			tb.Fatalf("create schema: %v", err)
		}
		tb.Cleanup(func() {
			db, err := sql.Open("pgx", base)
			if err != nil {
				return
			}
			defer db.Close()
			_, _ = db.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		})
		u, err := url.Parse(base)
		if err != nil {
			tb.Fatalf("parse %s: %v", PostgresEnv, err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	tb.Fatalf("unknown driver %q", driver)
	return ""
}

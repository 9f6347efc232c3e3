package handlers

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/releasebot/releasebot/bot"
	"github.com/releasebot/releasebot/release"
)

// AuditExporter reads the audit log for an export. *store.Store implements it.
type AuditExporter interface {
	CountAudit(ctx context.Context, pipelineID string, since time.Time) (int, error)
	// AuditSince returns up to limit entries, oldest first.
	AuditSince(ctx context.Context, pipelineID string, since time.Time, limit int) ([]release.AuditEntry, error)
}

// Files sends a file to one person privately. *bot.Bot implements it.
type Files interface {
	UploadPrivate(ctx context.Context, user, filename, title string, content []byte) error
}

// MaxExportRows bounds an audit export; a larger one is refused with its count.
const MaxExportRows = 100_000

// exportHeader names the columns of an audit export (SPEC §9).
var exportHeader = []string{"time", "user", "channel", "verb", "release task", "release task ID", "execution ID", "sent upstream", "outcome"}

// export handles `audit export [<task>] [since <date or duration>]`: a CSV
// file uploaded to the requester's direct message. It is audited (by
// finish) after the file is made, so it is not in it.
func (g *guardrails) export(ctx context.Context, c bot.Command, r Request, out *outcome) error {
	az := g.ops.authz
	if err := az.anyOf(ctx, c.UserID, az.operators, az.approvers); err != nil {
		return err
	}
	if g.exports == nil || g.files == nil {
		return errors.New("audit export is not available: no exporter or file upload")
	}
	pipelineID, name := "", "all"
	if r.Task != "" {
		task, err := g.ops.res.resolve(ctx, r.Task)
		if err != nil {
			return err
		}
		pipelineID, name = task.ID, task.Name
		out.entry.TaskName, out.entry.PipelineID = task.Name, task.ID
	}
	now := g.ops.now()
	since := r.Since
	if r.SinceAgo > 0 {
		since = now.Add(-r.SinceAgo)
	}
	n, err := g.exports.CountAudit(ctx, pipelineID, since)
	if err != nil {
		return err
	}
	if n > MaxExportRows {
		out.entry.Outcome = fmt.Sprintf("refused: %d rows", n)
		return usagef("That export has %d rows; at most %d fit in one. Name a release task or add `since <date>`.", n, MaxExportRows)
	}
	entries, err := g.exports.AuditSince(ctx, pipelineID, since, MaxExportRows)
	if err != nil {
		return err
	}
	data, err := auditCSV(entries)
	if err != nil {
		return err
	}
	filename := fmt.Sprintf("releasebot-audit-%s-%s.csv", fileSafe(name), now.UTC().Format("20060102T150405Z"))
	if err := g.files.UploadPrivate(ctx, c.UserID, filename, "releasebot audit log: "+tame(name), data); err != nil {
		return err
	}
	out.entry.Outcome = fmt.Sprintf("exported %d rows", len(entries))
	return g.ops.slack.PostEphemeral(ctx, c.ChannelID, c.UserID, ephemeral(safe(fmt.Sprintf(
		":page_facing_up: The audit log (%d rows) is in your direct messages with releasebot.", len(entries)))))
}

// auditCSV writes entries as RFC 4180 CSV with a header row. Every cell is
// valid UTF-8, and one that a spreadsheet would run as a formula is
// prefixed with '.
func auditCSV(entries []release.AuditEntry) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true // RFC 4180's line break
	if err := w.Write(exportHeader); err != nil {
		return nil, err
	}
	for _, e := range entries {
		row := []string{e.At.UTC().Format(time.RFC3339), e.User, e.Channel, e.Verb, e.TaskName, e.PipelineID, e.Execution, e.Sent, e.Outcome}
		for i := range row {
			row[i] = cell(row[i])
		}
		if err := w.Write(row); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// cell makes s safe for a spreadsheet: valid UTF-8, and not a formula.
func cell(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if s != "" && strings.ContainsRune("=+-@", rune(s[0])) {
		return "'" + s
	}
	return s
}

// fileSafe keeps a file name to letters, digits, '-' and '_'.
func fileSafe(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()[:min(b.Len(), 60)]
}

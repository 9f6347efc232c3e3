package store

import "context"

// Queued returns how many records wait for the writer or are being
// written.
func (s *Store) Queued() int { return int(s.rec.queued.Load()) }

// Closing reports whether Close has begun: Record takes no more records.
func (s *Store) Closing() bool {
	s.rec.mu.RLock()
	defer s.rec.mu.RUnlock()
	return s.rec.closed
}

// PollPlans returns SQLite's plan of each read the poller makes of the
// followed executions, by name.
func (s *Store) PollPlans(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	for name, q := range map[string]struct {
		q    string
		args []any
	}{
		"CountActive": {countActive, nil},
		"ActiveSince": {activeSince, []any{1, 2}},
		"ActiveOf":    {activeOf(3), []any{"a", "b", "c", 4}},
	} {
		rows, err := s.db.QueryContext(ctx, `EXPLAIN QUERY PLAN `+q.q, q.args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				rows.Close()
				return nil, err
			}
			out[name] = append(out[name], detail)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

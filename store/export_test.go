package store

// Queued returns how many records wait for the writer or are being
// written.
func (s *Store) Queued() int { return int(s.rec.queued.Load()) }

// Closing reports whether Close has begun: Record takes no more records.
func (s *Store) Closing() bool {
	s.rec.mu.RLock()
	defer s.rec.mu.RUnlock()
	return s.rec.closed
}

package main

import "github.com/caretaker-iot/caretaker/ingest"

// AfterSettled calls done once every sink that settles (the rules engine:
// the alarms handed on to the tickets) has settled what it was given so
// far (ingest.SettlingSink); at once when none does.
func (f fanout) AfterSettled(done func()) {
	n := int32(0)
	for _, s := range f {
		if _, ok := s.(ingest.SettlingSink); ok {
			n++
		}
	}
	if n == 0 {
		done()
		return
	}
	done = ingest.AfterAll(n, done)
	for _, s := range f {
		if ss, ok := s.(ingest.SettlingSink); ok {
			ss.AfterSettled(done)
		}
	}
}

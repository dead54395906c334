// Package intern keeps one copy of values that many holders share: the
// place (kind, site, building) of 100 000 devices is a few dozen values,
// and each holder points to the one kept instead of holding its own.
//
// It must never grow behind its owner's back: a Pool is not safe for
// concurrent use (its owner holds its own lock), and it never forgets
// (for values drawn from a small set: places, names).
package intern

// Package config holds what every component's configuration shares: the
// one error type that names the key path of a bad value. Each component
// gives its own config YAML tags, one WithDefaults and a Validate that
// returns a *FieldError with a path relative to its section; cmd/caretaker
// prefixes the section key with Under. It imports nothing of ours, so any
// package may use it.
package config

package config

import (
	"errors"
	"fmt"
	"strings"
)

// FieldError names the key path of a bad value, e.g. rosters[0].shifts[1].
// It never carries a secret's value.
type FieldError struct {
	Path string
	Err  error
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Err.Error()
	}
	return e.Path + ": " + e.Err.Error()
}

func (e *FieldError) Unwrap() error { return e.Err }

// Errorf is a *FieldError at path with a formatted message.
func Errorf(path, format string, a ...any) error {
	return &FieldError{Path: path, Err: fmt.Errorf(format, a...)}
}

// Under puts err below the key prefix: a *FieldError at "qos" under
// "mqtt" is one at "mqtt.qos", one at "[1].name" under "tokens" is at
// "tokens[1].name". Any other error becomes a *FieldError at prefix; nil
// stays nil.
func Under(prefix string, err error) error {
	if err == nil {
		return nil
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		return &FieldError{Path: prefix, Err: err}
	}
	return &FieldError{Path: Join(prefix, fe.Path), Err: fe.Err}
}

// Join joins two key paths: "mqtt" and "qos" make "mqtt.qos", "tokens" and
// "[1]" make "tokens[1]"; an empty side gives the other.
func Join(prefix, path string) string {
	switch {
	case prefix == "":
		return path
	case path == "":
		return prefix
	case strings.HasPrefix(path, "["):
		return prefix + path
	}
	return prefix + "." + path
}

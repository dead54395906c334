// Package promreg registers Prometheus collectors the way every Caretaker
// component needs: on the registry it was given (none in unit tests), and,
// when a collector of that name is already there (two components sharing a
// registry, or a component started twice), reusing the existing one.
package promreg

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register adds c to reg (when there is one) and returns the collector to
// use: the one already registered under that name, if any.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

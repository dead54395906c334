package devices

import (
	"errors"
	"fmt"
	"time"
)

// Query asks the time-series store for the history of one device. From is
// inclusive, To exclusive; Kind and Metric may be empty to mean any. The
// stores (ingest/influx, ingest/tsdb) answer it; the rules' backtest and
// the dashboard's history ask it.
type Query struct {
	Device string
	Kind   Kind
	Metric string
	From   time.Time
	To     time.Time
}

// Point is one stored value of one metric. Flags read back as 0 or 1.
type Point struct {
	Time   time.Time `json:"ts"`
	Metric string    `json:"metric"`
	Value  float64   `json:"value"`
}

// Normalize checks a query and fills in its time defaults: a zero To
// means now, a zero From a day before To. Every value a store puts into
// its query language has been checked here first.
func (q Query) Normalize(now func() time.Time) (Query, error) {
	if !ValidID(q.Device) {
		return q, errors.New("query: device: must be a valid device id")
	}
	if q.Kind != "" {
		if _, err := ParseKind(string(q.Kind)); err != nil {
			return q, fmt.Errorf("query: kind: %w", err)
		}
	}
	if q.Metric != "" && !ValidID(q.Metric) {
		return q, errors.New("query: metric: must be a valid metric name")
	}
	if q.To.IsZero() {
		q.To = now()
	}
	if q.From.IsZero() {
		q.From = q.To.Add(-24 * time.Hour)
	}
	if !q.From.Before(q.To) {
		return q, errors.New("query: from: must be before to")
	}
	return q, nil
}

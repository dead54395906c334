package ingest

import (
	"context"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// Message is one raw MQTT message as it arrived.
type Message struct {
	Topic    string
	Payload  []byte
	Received time.Time
}

// Sink receives validated, registry-enriched data. The rules engine and the
// dashboard sit behind it; cmd/ wires them.
type Sink interface {
	Reading(ctx context.Context, r devices.Reading)
	Event(ctx context.Context, e devices.Event)
	Status(ctx context.Context, s devices.Status)
}

// Writer is the time-series store side: InfluxDB or the embedded store.
type Writer interface {
	WriteReading(ctx context.Context, r devices.Reading) error
	WriteEvent(ctx context.Context, e devices.Event) error
}

// Query asks the time-series store for the history of one device. From is
// inclusive, To exclusive; Kind and Metric may be empty to mean any.
type Query struct {
	Device string
	Kind   devices.Kind
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

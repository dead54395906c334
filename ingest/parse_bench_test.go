package ingest_test

import (
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/ingest"
)

// BenchmarkParseTelemetry: one telemetry payload of a power meter.
func BenchmarkParseTelemetry(b *testing.B) {
	payload := []byte(`{"ts": 1795395500123, "metrics": {"voltage_v": 230.1, "current_a": 12.5, "power_kw": 2.8, "frequency_hz": 50, "power_factor": 0.97, "energy_kwh": 123456.7}}`)
	now := time.UnixMilli(1795395500200)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for i := 0; i < b.N; i++ {
		if _, _, err := ingest.ParseTelemetry(payload, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseTopic: the topic of every device message.
func BenchmarkParseTopic(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, _, _, err := ingest.ParseTopic("sites/s1/devices/pm-b1-01/telemetry"); err != nil {
			b.Fatal(err)
		}
	}
}

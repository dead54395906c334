// Package rules decides when readings are an emergency. It holds rule
// definitions and their stored versions, evaluates every reading, device
// event and status against them, keeps the per-device state (for-durations,
// hysteresis, flap guard, late data, staleness, inhibition by parent and
// by another rule's alarm) and emits Alarm changes: raised, updated,
// cleared. Besides conditions on one metric it has conditions on several
// metrics of one reading (all), on the alarms of a building's devices
// (building_count, building_alarm, derived.go) and on the calendar since a
// device's last recorded service (service_overdue, calendar.go). A change the AlarmSink
// refuses is kept and retried, in order, until it takes it. With
// Config.HandOffLater the changes are queued and handed to the AlarmSink
// by Run's goroutine, so evaluation never waits for it (outbox.go;
// AfterSettled tells a feeder when a reading's alarms are handed on). The state a
// restart must not forget is saved by device, only what changed since the
// last save (Engine.SaveChanges, snapshot_delta.go), and taken back
// (Engine.RestoreState). The Backtester replays stored history through
// the same Engine.
//
// State is kept by device (state.go) and only for rules that apply to the
// device's kind and scope and looked at its data; a threshold rule that
// never held keeps only the time of its newest value, an episode its
// alarm only once it raised. Engine.Stats counts it; BenchmarkEngineMemory
// measures it for 100 000 devices (docs/benchmarks.md).
//
// It knows devices and nothing else of the project: never tickets, screens
// or gateways. Whoever wants alarms passes an AlarmSink; history comes
// through the History interface (as a stream when it is a StreamHistory).
package rules

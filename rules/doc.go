// Package rules decides when readings are an emergency. It holds rule
// definitions and their stored versions, evaluates every reading, device
// event and status against them, keeps the per-device state (for-durations,
// hysteresis, flap guard, late data, staleness, inhibition by parent) and
// emits Alarm changes: raised, updated, cleared. A change the AlarmSink
// refuses is kept and retried, in order, until it takes it. The state a
// restart must not forget is written out (Engine.Snapshot) and taken back
// (Engine.RestoreSnapshot). The Backtester replays stored history through
// the same Engine.
//
// It knows devices and nothing else of the project: never tickets, screens
// or gateways. Whoever wants alarms passes an AlarmSink; history comes
// through the History interface.
package rules

// Package rules decides when readings are an emergency. It holds rule
// definitions and their stored versions, evaluates every reading, device
// event and status against them, keeps the per-device state (for-durations,
// hysteresis, flap guard, late data, staleness, inhibition by parent) and
// emits Alarm changes: raised, updated, cleared. The Backtester replays
// stored history through the same Engine.
//
// It knows devices and nothing else of the project: never tickets, screens
// or gateways. Whoever wants alarms passes an AlarmSink; history comes
// through the History interface.
package rules

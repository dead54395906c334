// Package rules decides when readings are an emergency. It holds rule
// definitions, evaluates every reading and device event against them, keeps
// the per-device state (for-durations, hysteresis) and emits Alarm changes:
// raised, updated, cleared.
//
// It knows devices and nothing else of the project: never tickets, screens
// or gateways. Whoever wants alarms passes an AlarmSink.
package rules

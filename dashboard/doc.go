// Package dashboard is what people and screens see of Caretaker: the HTTP
// API under /api/ (bearer tokens with roles), the WebSocket hub behind /ws
// that pushes alarm, ticket, device-status and reading events to the control
// room, the live device state those events come from, and the web UI served
// from the binary (no CDN, works on a closed network): plain ES modules in
// web/js, no build step, every user-typed text put in with textContent.
// A Relay shares the hub's events with other caretaker instances over the
// MQTT broker (caretaker/events/{type}).
//
// It knows devices, the rules.Alarm type and ticketing types, through small
// interfaces declared here that cmd/ wires to the real services. It must
// never talk to gateways, brokers or stores directly, never decide alarms or
// ticket transitions itself, and never log or echo a token.
package dashboard

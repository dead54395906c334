// Package dashboard is what people and screens see of Caretaker: the HTTP
// API under /api/ (bearer tokens with roles), the WebSocket hub behind /ws
// that pushes alarm, ticket, device-status and reading events to the control
// room, the live device state those events come from, and the web UI served
// from the binary (no CDN, works on a closed network).
//
// It knows devices, the rules.Alarm type and ticketing types, through small
// interfaces declared here that cmd/ wires to the real services. It must
// never talk to gateways, brokers or stores directly, never decide alarms or
// ticket transitions itself, and never log or echo a token.
package dashboard

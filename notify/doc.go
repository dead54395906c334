// Package notify pages people until one of them answers: who is on duty
// (rosters and shifts in the site's time zone), which escalation steps are
// due for a ticket and whom they reach (policies), the messages they read
// in their own language, the signed link that lets them acknowledge, and
// the channels that carry a page (webhook, email over SMTP, WeCom, DingTalk
// and Feishu group robots, an HTTP SMS gateway, and a log-only channel).
//
// It is pure where it can be: the planner, the rosters, delivery ids, the
// backoff schedule and the renderer take plain values and a time and
// return plain values, so they are tested on fixed clocks. Channels are
// small types with one Send method that keeps the receiver's answer for
// the record.
//
// It must never know gateways, the rules engine, screens or the ticket
// store: whoever wires it (cmd/caretaker) turns a ticket into an Incident,
// writes the Pages the planner returns into its own outbox (in the same
// transaction as the change that caused them), and runs a worker that
// calls Channel.Send with backoff until max_age. It starts no goroutine
// and keeps no global state; secrets (webhook and robot secrets, the SMTP
// password, the ack key) are never logged nor repeated in errors.
package notify

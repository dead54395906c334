// Package ticketing carries every repair ticket, from sensors and from
// people, through its life: intake, level, dispatch, on-site work,
// acceptance and callback, with the history of every step. It also keeps
// the alarms the rules engine raised, so that an alarm and its ticket are
// stored together in one SQLite transaction.
//
// One incident has at most one open ticket, and the database enforces it:
// every ticket carries an incident key (for a sensor ticket
// "device:<device>:<rule>") under a partial unique index over the open
// statuses. A raised alarm opens, joins or reopens (within ReopenWindow of
// its resolution) the ticket of its incident, or joins the open ticket of
// a report about its device or place; a manual report about a device or a
// place that already has an open ticket is merged into it, and every
// report keeps its reporter, phone, text and photos (ticket_reports). An
// alarm that comes back while its ticket is open, after an earlier one was
// acknowledged or had cleared, is counted as a recurrence; a cleared alarm
// records who or what cleared it.
// Every change to a ticket writes a history row. Times are stored as unix
// milliseconds; the clock is injected.
//
// The repair flow is a state machine (flow.go: which action is legal
// from which status, for which role), whose every step is a history row.
// Clocks (clocks.go) are deadlines stored in ticket_deadlines and read by
// Run, so a restart loses none; they warn before a limit and escalate up
// the chain after it. Dispatch (dispatch.go) weighs skill, zone and load
// and records why. Stats computes the KPIs from the stored history and
// clocks, so a past month can be recomputed. docs/ticketing.md describes
// it for users.
//
// Checklists (checklist.go): a ticket gets the checklist of one of its
// alarms' rules, else of its category; its items are checked (who, when,
// a value) in ticket_checks, and resolve is refused until the required
// ones are. The owner's acceptance of the work, its parts and the fee
// agreed on site (confirm, dispute) is kept on the ticket (completion.go).
//
// Triage (triage.go): a raised alarm below level 1 waits in the triage
// queue (alarm_triage) instead of opening its ticket, unless its rule
// opens it by itself, it commands devices, or its incident has an open
// ticket; an operator makes it a ticket, snoozes it or dismisses it as a
// false alarm (the per-rule false-alarm rates); a level 1 alarm of its
// incident takes it onto its ticket at once; the triage clock on Run's
// tick escalates what nobody triaged within Triage.Timeout.
//
// Paging (paging.go): a Pager, passed in by the wiring, says whom a
// ticket pages; the pages are stored in the notifications outbox in the
// same transaction as the change that causes them (opening, a raised
// level, a reopening, a clock escalation), later policy steps on the
// clock's tick until the ticket is acknowledged (claimed, accepted, or its
// alarm acked); DuePages and RecordPage are the sender's side.
//
// It knows devices and the rules.Alarm type; never gateways or screens.
// Whoever wants to hear about changes passes a Notifier. It must never
// show a verification code anywhere but in the answer to the report that
// created it (and then only to the owner's channel, never to a
// technician), and never send a second ticket or event for a replayed alarm.
package ticketing

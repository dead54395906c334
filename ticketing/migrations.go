package ticketing

// migrations are applied in order, each in its own transaction, and
// recorded in schema_migrations; a migration is never edited once
// released, only followed by a new one. Times are unix milliseconds.
var migrations = []string{
	// 1: tickets, their history, alarms, per-day ticket number sequence.
	`
CREATE TABLE tickets (
	id             INTEGER PRIMARY KEY AUTOINCREMENT,
	number         TEXT UNIQUE, -- set right after insert, in the same transaction
	source         TEXT NOT NULL,
	status         TEXT NOT NULL,
	level          INTEGER NOT NULL CHECK (level BETWEEN 1 AND 3),
	category       TEXT NOT NULL,
	site           TEXT NOT NULL,
	building       TEXT NOT NULL,
	location       TEXT NOT NULL DEFAULT '',
	scope          TEXT NOT NULL,
	unit           TEXT NOT NULL DEFAULT '',
	floor          TEXT NOT NULL DEFAULT '',
	room           TEXT NOT NULL DEFAULT '',
	device_id      TEXT NOT NULL DEFAULT '',
	alarm_id       TEXT NOT NULL DEFAULT '',
	description    TEXT NOT NULL,
	reporter_name  TEXT NOT NULL DEFAULT '',
	reporter_phone TEXT NOT NULL DEFAULT '',
	created_by     TEXT NOT NULL,
	assignee       TEXT NOT NULL DEFAULT '',
	verification_code TEXT NOT NULL DEFAULT '',
	-- incident_key names the incident: "device:<device>:<metric>" for sensor
	-- tickets, "device:<device>:report" or "place:..." for reports.
	incident_key   TEXT NOT NULL,
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL,
	done_at        INTEGER -- when last resolved or closed
);
-- One incident, one open ticket: enforced here, not only in Go.
CREATE UNIQUE INDEX tickets_open_incident ON tickets(incident_key)
	WHERE status IN ('new','dispatched','accepted','on_site');
CREATE INDEX tickets_created ON tickets(created_at);
CREATE INDEX tickets_device ON tickets(device_id) WHERE device_id <> '';
CREATE INDEX tickets_incident_done ON tickets(incident_key, done_at);

CREATE TABLE ticket_history (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	ticket_id INTEGER NOT NULL REFERENCES tickets(id),
	at        INTEGER NOT NULL,
	actor     TEXT NOT NULL,
	role      TEXT NOT NULL,
	action    TEXT NOT NULL,
	note      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ticket_history_ticket ON ticket_history(ticket_id, at);

CREATE TABLE ticket_numbers (
	day TEXT PRIMARY KEY, -- YYYYMMDD, local date
	seq INTEGER NOT NULL
);

CREATE TABLE alarms (
	id         TEXT PRIMARY KEY, -- the episode key of rules.AlarmID
	rule_id    TEXT NOT NULL,
	rule_name  TEXT NOT NULL DEFAULT '',
	device_id  TEXT NOT NULL,
	kind       TEXT NOT NULL DEFAULT '',
	site       TEXT NOT NULL DEFAULT '',
	building   TEXT NOT NULL DEFAULT '',
	location   TEXT NOT NULL DEFAULT '',
	metric     TEXT NOT NULL DEFAULT '',
	event      TEXT NOT NULL DEFAULT '',
	severity   TEXT NOT NULL DEFAULT '',
	level      INTEGER NOT NULL,
	state      TEXT NOT NULL,
	value      REAL NOT NULL,
	peak       REAL NOT NULL,
	message    TEXT NOT NULL DEFAULT '',
	raised_at  INTEGER NOT NULL,
	cleared_at INTEGER,
	shadow     INTEGER NOT NULL DEFAULT 0,
	acked      INTEGER NOT NULL DEFAULT 0,
	acked_by   TEXT NOT NULL DEFAULT '',
	acked_at   INTEGER,
	ticket_id  INTEGER REFERENCES tickets(id),
	updated_at INTEGER NOT NULL
);
CREATE INDEX alarms_raised ON alarms(raised_at);
CREATE INDEX alarms_state ON alarms(state);
`,
	// 2: the repair flow: dispatch data, completion, callback, links
	// between tickets, SLA deadlines that survive restarts, photos.
	`
ALTER TABLE tickets ADD COLUMN zone TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN code_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN resolution TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN actual_fault TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN parts TEXT NOT NULL DEFAULT '[]'; -- JSON list of {name, qty}
ALTER TABLE tickets ADD COLUMN paid INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN fee_cents INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN score INTEGER; -- callback score 1-5, NULL before the callback
ALTER TABLE tickets ADD COLUMN fixed INTEGER; -- callback: the owner says it is fixed
ALTER TABLE tickets ADD COLUMN outcome TEXT NOT NULL DEFAULT ''; -- confirmed, disputed, rework, cancelled
ALTER TABLE tickets ADD COLUMN rework_of INTEGER REFERENCES tickets(id);
ALTER TABLE tickets ADD COLUMN reinspection_of INTEGER REFERENCES tickets(id);
ALTER TABLE tickets ADD COLUMN first_reported_at INTEGER; -- clocks run from here; NULL: created_at
CREATE INDEX tickets_assignee_open ON tickets(assignee) WHERE status IN ('new','dispatched','accepted','on_site');
CREATE INDEX tickets_place ON tickets(site, building, location, category, created_at);
CREATE INDEX tickets_rework ON tickets(rework_of) WHERE rework_of IS NOT NULL;

-- One row per clock of a ticket. due_at is when the limit is missed;
-- warn_at when the warning goes out; met_at when the step was done.
-- escalations counts the steps up the chain already taken; next_at is
-- when the next one is due (the first one at due_at).
CREATE TABLE ticket_deadlines (
	ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
	kind        TEXT NOT NULL, -- claim, dispatch, arrive, close, progress, callback
	start_at    INTEGER NOT NULL,
	due_at      INTEGER NOT NULL,
	warn_at     INTEGER NOT NULL,
	warned      INTEGER NOT NULL DEFAULT 0,
	escalations INTEGER NOT NULL DEFAULT 0,
	next_at     INTEGER NOT NULL,
	met_at      INTEGER,
	PRIMARY KEY (ticket_id, kind)
);
CREATE INDEX ticket_deadlines_pending ON ticket_deadlines(next_at) WHERE met_at IS NULL;

CREATE TABLE ticket_photos (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	ticket_id    INTEGER NOT NULL REFERENCES tickets(id),
	file         TEXT NOT NULL UNIQUE, -- name inside the photos folder, never user input
	content_type TEXT NOT NULL,
	size         INTEGER NOT NULL,
	stage        TEXT NOT NULL DEFAULT '', -- before, after or empty
	uploaded_by  TEXT NOT NULL,
	uploaded_at  INTEGER NOT NULL
);
CREATE INDEX ticket_photos_ticket ON ticket_photos(ticket_id);
`,
	// 3: what the rules engine says beyond the threshold: a flapping alarm
	// is held raised; a trend alarm predicts when the limit is crossed.
	`
ALTER TABLE alarms ADD COLUMN flapping INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alarms ADD COLUMN predicted_at INTEGER;
`,
	// 4: one incident keeps every voice and every comeback: each report
	// (the first and every merged one) with its reporter, phone, text and
	// photos; each alarm that came back while the ticket was open; and who
	// or what cleared an alarm.
	`
CREATE TABLE ticket_reports (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
	at          INTEGER NOT NULL,
	source      TEXT NOT NULL,
	name        TEXT NOT NULL DEFAULT '',
	phone       TEXT NOT NULL DEFAULT '',
	description TEXT NOT NULL,
	reported_by TEXT NOT NULL,
	merged      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ticket_reports_ticket ON ticket_reports(ticket_id, id);
INSERT INTO ticket_reports (ticket_id, at, source, name, phone, description, reported_by)
	SELECT id, created_at, source, reporter_name, reporter_phone, description, created_by
	FROM tickets WHERE source <> 'sensor' ORDER BY id;
ALTER TABLE ticket_photos ADD COLUMN report_id INTEGER REFERENCES ticket_reports(id);

CREATE TABLE ticket_recurrences (
	ticket_id INTEGER NOT NULL REFERENCES tickets(id),
	alarm_id  TEXT NOT NULL REFERENCES alarms(id),
	at        INTEGER NOT NULL,
	PRIMARY KEY (ticket_id, alarm_id)
);
ALTER TABLE tickets ADD COLUMN recurrences INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN last_recurred_at INTEGER;
ALTER TABLE tickets ADD COLUMN recurrence_peak REAL;

ALTER TABLE alarms ADD COLUMN cleared_by TEXT NOT NULL DEFAULT '';
ALTER TABLE alarms ADD COLUMN clear_reason TEXT NOT NULL DEFAULT '';
`,
	// 5: paging people. notifications is the durable outbox: one row per
	// page (delivery id, stable for a ticket, step, recipient and channel),
	// written in the same transaction as the change that causes it and
	// updated by the sender with every attempt. A ticket remembers when its
	// escalation steps started (paging_since; NULL: created_at), when it was
	// acknowledged, and when its next step falls due.
	`
CREATE TABLE notifications (
	id          TEXT PRIMARY KEY, -- delivery id
	ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
	step        TEXT NOT NULL,
	recipient   TEXT NOT NULL,
	channel     TEXT NOT NULL,
	message     TEXT NOT NULL, -- the rendered message, JSON
	state       TEXT NOT NULL DEFAULT 'queued', -- queued, sent, failed
	attempts    INTEGER NOT NULL DEFAULT 0,
	queued_at   INTEGER NOT NULL,
	next_at     INTEGER NOT NULL,
	done_at     INTEGER,
	last_status INTEGER NOT NULL DEFAULT 0,
	last_body   TEXT NOT NULL DEFAULT '',
	last_error  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX notifications_due ON notifications(next_at) WHERE state = 'queued';
CREATE INDEX notifications_ticket ON notifications(ticket_id, queued_at);
ALTER TABLE tickets ADD COLUMN paging_since INTEGER;
ALTER TABLE tickets ADD COLUMN acked_at INTEGER;
ALTER TABLE tickets ADD COLUMN page_next_at INTEGER;
CREATE INDEX tickets_page_next ON tickets(page_next_at) WHERE page_next_at IS NOT NULL;
`,
	// 6: a ticket resolved while its alarm was still active keeps who
	// overrode, when and why.
	`
ALTER TABLE tickets ADD COLUMN override_by TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN override_at INTEGER;
ALTER TABLE tickets ADD COLUMN override_reason TEXT NOT NULL DEFAULT '';
`,
	// device_commands: the device actions an alarm's rule calls for
	// (close the zone's water valve, start its fan), on the alarm's
	// ticket: awaiting_operator until an operator confirms (confirm:
	// operator), queued, sent (attempts so far), done when read back,
	// failed when it did not take effect.
	`
CREATE TABLE device_commands (
	id           INTEGER PRIMARY KEY,
	ticket_id    INTEGER NOT NULL REFERENCES tickets(id),
	alarm_id     TEXT NOT NULL,
	device_id    TEXT NOT NULL,
	actuator     TEXT NOT NULL,
	command      TEXT NOT NULL,
	confirm      TEXT NOT NULL,
	state        TEXT NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL,
	confirmed_by TEXT NOT NULL DEFAULT '',
	confirmed_at INTEGER,
	sent_at      INTEGER,
	done_at      INTEGER,
	result       TEXT NOT NULL DEFAULT '',
	UNIQUE (alarm_id, device_id, command)
);
CREATE INDEX device_commands_ticket ON device_commands(ticket_id, id);
CREATE INDEX device_commands_state ON device_commands(state);
`,
	// eta_at: when a technician who cannot arrive within the time limit
	// says they will be on site.
	`
ALTER TABLE tickets ADD COLUMN eta_at INTEGER;
`,
	// carried_at, carry_reason: work the technician cannot finish today,
	// for the morning shift's list of unfinished work.
	`
ALTER TABLE tickets ADD COLUMN carried_at INTEGER;
ALTER TABLE tickets ADD COLUMN carry_reason TEXT NOT NULL DEFAULT '';
`,
	// floor_plans: the uploaded plan of one floor of a building (the file
	// in the plans folder of the photos folder); device_positions: where
	// a device sits on its floor's plan, as fractions of its width and
	// height.
	`
CREATE TABLE floor_plans (
	site         TEXT NOT NULL,
	building     TEXT NOT NULL,
	floor        TEXT NOT NULL,
	file         TEXT NOT NULL,
	content_type TEXT NOT NULL,
	size         INTEGER NOT NULL,
	width        INTEGER NOT NULL,
	height       INTEGER NOT NULL,
	uploaded_by  TEXT NOT NULL,
	uploaded_at  INTEGER NOT NULL,
	PRIMARY KEY (site, building, floor)
);
CREATE TABLE device_positions (
	device_id TEXT PRIMARY KEY,
	site      TEXT NOT NULL,
	building  TEXT NOT NULL,
	floor     TEXT NOT NULL,
	x         REAL NOT NULL,
	y         REAL NOT NULL,
	placed_by TEXT NOT NULL,
	placed_at INTEGER NOT NULL
);
CREATE INDEX device_positions_site ON device_positions(site);
`,
	// ticket_checks: the items of a ticket's checklist that are checked,
	// who checked them, when, with what value, in the words of the item
	// at the time. accepted_*: the owner's verdict on the work, its parts
	// and fee (confirmed or disputed), who recorded it and when.
	`
CREATE TABLE ticket_checks (
	ticket_id  INTEGER NOT NULL REFERENCES tickets(id),
	item       TEXT NOT NULL,
	checklist  TEXT NOT NULL,
	text       TEXT NOT NULL,
	text_zh    TEXT NOT NULL DEFAULT '',
	value_kind TEXT NOT NULL DEFAULT '',
	answer     TEXT NOT NULL DEFAULT '',
	by_name    TEXT NOT NULL,
	by_role    TEXT NOT NULL,
	at         INTEGER NOT NULL,
	PRIMARY KEY (ticket_id, item)
);
ALTER TABLE tickets ADD COLUMN accepted_by TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN accepted_role TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN accepted_at INTEGER;
ALTER TABLE tickets ADD COLUMN accepted_verdict TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN accepted_terms TEXT NOT NULL DEFAULT '';
`,
	// alarm_triage: an alarm below level 1 waits for an operator instead
	// of opening its ticket: queued (due_at is the triage clock, escalated
	// once at escalated_at), snoozed until snoozed_until, ticketed or
	// dismissed as a false alarm; who decided, when and why. incident_key
	// is the sensor incident the alarm belongs to. alarm_triage_log keeps
	// every decision.
	`
CREATE TABLE alarm_triage (
	alarm_id      TEXT PRIMARY KEY REFERENCES alarms(id),
	rule_id       TEXT NOT NULL,
	site          TEXT NOT NULL,
	incident_key  TEXT NOT NULL,
	state         TEXT NOT NULL,
	queued_at     INTEGER NOT NULL,
	due_at        INTEGER NOT NULL,
	escalated_at  INTEGER,
	snoozed_until INTEGER,
	reason        TEXT NOT NULL DEFAULT '',
	decided_by    TEXT NOT NULL DEFAULT '',
	decided_role  TEXT NOT NULL DEFAULT '',
	decided_at    INTEGER
);
CREATE INDEX alarm_triage_state ON alarm_triage(state, due_at);
CREATE INDEX alarm_triage_incident ON alarm_triage(incident_key, state);
CREATE INDEX alarm_triage_rule ON alarm_triage(rule_id, state);
CREATE TABLE alarm_triage_log (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	alarm_id TEXT NOT NULL REFERENCES alarms(id),
	at       INTEGER NOT NULL,
	actor    TEXT NOT NULL,
	role     TEXT NOT NULL,
	action   TEXT NOT NULL,
	note     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alarm_triage_log_alarm ON alarm_triage_log(alarm_id, at);
`,
	// A page may be about an alarm nobody triaged, not a ticket: the
	// outbox is rebuilt with ticket_id optional and alarm_id ('' for a
	// ticket's page); its rows and indexes are kept.
	`
CREATE TABLE notifications_v2 (
	id          TEXT PRIMARY KEY,
	ticket_id   INTEGER REFERENCES tickets(id),
	alarm_id    TEXT NOT NULL DEFAULT '',
	step        TEXT NOT NULL,
	recipient   TEXT NOT NULL,
	channel     TEXT NOT NULL,
	message     TEXT NOT NULL,
	state       TEXT NOT NULL DEFAULT 'queued',
	attempts    INTEGER NOT NULL DEFAULT 0,
	queued_at   INTEGER NOT NULL,
	next_at     INTEGER NOT NULL,
	done_at     INTEGER,
	last_status INTEGER NOT NULL DEFAULT 0,
	last_body   TEXT NOT NULL DEFAULT '',
	last_error  TEXT NOT NULL DEFAULT ''
);
INSERT INTO notifications_v2 (id, ticket_id, step, recipient, channel, message, state, attempts, queued_at, next_at,
	done_at, last_status, last_body, last_error)
	SELECT id, ticket_id, step, recipient, channel, message, state, attempts, queued_at, next_at,
	done_at, last_status, last_body, last_error FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_v2 RENAME TO notifications;
CREATE INDEX notifications_due ON notifications(next_at) WHERE state = 'queued';
CREATE INDEX notifications_ticket ON notifications(ticket_id, queued_at);
CREATE INDEX notifications_alarm ON notifications(alarm_id) WHERE alarm_id <> '';
`,
}

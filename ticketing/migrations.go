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
}

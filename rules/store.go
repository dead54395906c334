package rules

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/caretaker-iot/caretaker/internal/sqldb"
)

// Store keeps every version of every rule, the recorded services and the
// saved rule state, in SQLite or PostgreSQL. It may share its database with
// ticketing: its tables and its migration record are its own. Versions are
// only ever appended.
type Store struct {
	db  *sqldb.DB
	now func() time.Time
}

// StoreConfig opens a Store.
type StoreConfig struct {
	Path string // SQLite file; its folder is created
	URL  string // PostgreSQL instead: postgres://...
	Now  func() time.Time
}

// Version is one stored version of a rule and who made it, when and why.
type Version struct {
	Version int       `json:"version"`
	Action  string    `json:"action"` // seed, create, update, rollback, promote
	Rule    Rule      `json:"rule"`
	Old     *Rule     `json:"old,omitempty"` // the version of the same mode in force before
	By      string    `json:"by"`
	Role    string    `json:"role,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	At      time.Time `json:"at"`
}

// Author is who changes a rule.
type Author struct {
	Name string
	Role string
}

// Version actions.
const (
	ActionSeed     = "seed"
	ActionCreate   = "create"
	ActionUpdate   = "update"
	ActionRollback = "rollback"
	ActionPromote  = "promote"
)

var storeMigrations = []string{
	`CREATE TABLE rule_versions (
	rule_id    TEXT NOT NULL,
	version    INTEGER NOT NULL,
	mode       TEXT NOT NULL CHECK (mode IN ('live','shadow')),
	action     TEXT NOT NULL,
	body       TEXT NOT NULL, -- the rule as JSON
	author     TEXT NOT NULL,
	role       TEXT NOT NULL DEFAULT '',
	reason     TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL, -- unix ms
	PRIMARY KEY (rule_id, version)
);
CREATE TABLE rule_services (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	rule_id    TEXT NOT NULL,
	device_id  TEXT NOT NULL,
	base       REAL, -- counter total at the service; NULL: the next value
	author     TEXT NOT NULL,
	reason     TEXT NOT NULL DEFAULT '',
	at         INTEGER NOT NULL
);
CREATE INDEX rule_services_rule_device ON rule_services(rule_id, device_id, id);`,
	`CREATE TABLE rule_state (
	id       INTEGER PRIMARY KEY CHECK (id = 1), -- one row: the latest snapshot
	body     TEXT NOT NULL,                       -- Engine.Snapshot, JSON
	saved_at INTEGER NOT NULL                     -- unix ms
);`,
	`CREATE TABLE rule_state_partitions (
	partition TEXT PRIMARY KEY, -- a cluster partition: its leader's latest snapshot
	body      TEXT NOT NULL,
	saved_at  INTEGER NOT NULL  -- unix ms
);`,
	// The rule state by device (StateDelta); it replaces the two whole
	// snapshots above, whose rows are removed at the first save.
	`CREATE TABLE rule_state_devices (
	partition TEXT NOT NULL,   -- '' for a single instance, else the cluster partition
	device    TEXT NOT NULL,   -- '' for the head row: format, alarm changes not handed on
	body      TEXT NOT NULL,   -- JSON: the device's episodes
	saved_at  INTEGER NOT NULL, -- unix ms
	PRIMARY KEY (partition, device)
);`,
}

// OpenStore opens the PostgreSQL database at cfg.URL, or (creating it if
// needed) the SQLite file at cfg.Path in WAL mode, and applies the rules'
// migrations.
func OpenStore(ctx context.Context, cfg StoreConfig) (*Store, error) {
	if cfg.URL != "" {
		if _, err := sqldb.CheckURL(cfg.URL); err != nil {
			return nil, fieldErr("store.url", "%s", err)
		}
	} else if cfg.Path == "" || strings.ContainsAny(cfg.Path, "?#") {
		return nil, fieldErr("store.path", "%q must be a file path without ? or #", cfg.Path)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	db, err := sqldb.Open(ctx, sqldb.Config{Path: cfg.Path, URL: cfg.URL})
	if err != nil {
		return nil, fmt.Errorf("rule store: %w", err)
	}
	s := &Store{db: db, now: cfg.Now}
	if err := db.Migrate(ctx, "rules_migrations", storeMigrations, s.now); err != nil {
		db.Close()
		return nil, fmt.Errorf("rule store: %w", err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// inTx runs fn in one write transaction (sqldb.DB.InTx: fenced, and on
// PostgreSQL possibly run again, so fn sets afresh what it tells).
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.db.InTx(ctx, fn)
}

// Seed stores, as their first versions, the given rules whose ids have no
// version yet; it returns how many it stored. Ids already stored keep
// their stored versions: after the first start the store is the truth and
// the configuration only adds new rules.
func (s *Store) Seed(ctx context.Context, rules []Rule) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		n = 0
		stored := map[string]bool{}
		rows, err := tx.QueryContext(ctx, "SELECT DISTINCT rule_id FROM rule_versions")
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			stored[id] = true
		}
		rows.Close()
		next := map[string]int{}
		for _, r := range rules {
			if stored[r.ID] {
				continue
			}
			next[r.ID]++
			if err := insertVersion(ctx, tx, r, next[r.ID], ActionSeed, Author{Name: "config", Role: "system"}, "", s.now()); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("seed rules: %w", err)
	}
	return n, nil
}

func insertVersion(ctx context.Context, tx *sql.Tx, r Rule, v int, action string, by Author, reason string, at time.Time) error {
	if c, err := r.compile(); err == nil {
		r = c.Rule // stored with its defaults filled in: level, enabled, name, mode
	}
	if r.Mode == "" {
		r.Mode = ModeLive
	}
	r.Version = v
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO rule_versions(rule_id, version, mode, action, body, author, role, reason, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, v, r.Mode, action, string(body), by.Name, by.Role, reason, at.UnixMilli())
	return err
}

// Current is the live and the shadow version of every stored rule. A
// shadow version counts only while it is newer than the live one: a live
// change or a promotion ends the trial.
type Current struct {
	Live   *Rule `json:"live,omitempty"`
	Shadow *Rule `json:"shadow,omitempty"`
}

// Current returns the versions in force, by rule id.
func (s *Store) Current(ctx context.Context) (map[string]Current, error) {
	vs, err := s.versions(ctx, "")
	if err != nil {
		return nil, err
	}
	out := map[string]Current{}
	for _, v := range vs {
		out[v.Rule.ID] = advance(out[v.Rule.ID], v.Rule)
	}
	return out, nil
}

func advance(c Current, r Rule) Current {
	r2 := r
	if r.Mode == ModeShadow {
		c.Shadow = &r2
	} else {
		c.Live, c.Shadow = &r2, nil
	}
	return c
}

// History returns every version of a rule, oldest first, each with the
// version of the same mode it replaced; ErrNotFound for an unknown id.
func (s *Store) History(ctx context.Context, id string) ([]Version, error) {
	vs, err := s.versions(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, ErrNotFound
	}
	var cur Current
	for i := range vs {
		prev := cur.Live
		if vs[i].Rule.Mode == ModeShadow {
			prev = cur.Shadow
		}
		vs[i].Old = prev
		cur = advance(cur, vs[i].Rule)
	}
	return vs, nil
}

func (s *Store) versions(ctx context.Context, id string) ([]Version, error) {
	q := "SELECT version, action, body, author, role, reason, created_at FROM rule_versions"
	var args []any
	if id != "" {
		q += " WHERE rule_id = ?"
		args = append(args, id)
	}
	rows, err := s.db.QueryContext(ctx, q+" ORDER BY rule_id, version", args...)
	if err != nil {
		return nil, fmt.Errorf("read rule versions: %w", err)
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		var v Version
		var body string
		var at int64
		if err := rows.Scan(&v.Version, &v.Action, &body, &v.By, &v.Role, &v.Reason, &at); err != nil {
			return nil, fmt.Errorf("read rule versions: %w", err)
		}
		if err := json.Unmarshal([]byte(body), &v.Rule); err != nil {
			return nil, fmt.Errorf("rule version %d: %w", v.Version, err)
		}
		v.Rule.Version = v.Version
		v.At = time.UnixMilli(at).UTC()
		out = append(out, v)
	}
	return out, rows.Err()
}

// Append stores r as the next version of its rule and returns it with the
// version it replaced. The rule must validate.
func (s *Store) Append(ctx context.Context, r Rule, action string, by Author, reason string) (Version, error) {
	if err := r.Validate(); err != nil {
		return Version{}, err
	}
	if r.Mode == "" {
		r.Mode = ModeLive
	}
	var v Version
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var last sql.NullInt64
		if err := tx.QueryRowContext(ctx, "SELECT max(version) FROM rule_versions WHERE rule_id = ?", r.ID).Scan(&last); err != nil {
			return err
		}
		at := s.now()
		if c, err := r.compile(); err == nil {
			r = c.Rule
		}
		v = Version{Version: int(last.Int64) + 1, Action: action, Rule: r, By: by.Name, Role: by.Role, Reason: reason, At: at.UTC()}
		v.Rule.Version = v.Version
		return insertVersion(ctx, tx, r, v.Version, action, by, reason, at)
	})
	if err != nil {
		return Version{}, fmt.Errorf("store rule %s: %w", r.ID, err)
	}
	hist, err := s.History(ctx, r.ID)
	if err == nil && len(hist) > 0 {
		v.Old = hist[len(hist)-1].Old
	}
	return v, nil
}

// Service is one recorded service of a counter rule on a device.
type Service struct {
	RuleID string    `json:"rule_id"`
	Device string    `json:"device_id"`
	Base   *float64  `json:"base,omitempty"`
	By     string    `json:"by"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// AddService records a service.
func (s *Store) AddService(ctx context.Context, sv Service) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO rule_services(rule_id, device_id, base, author, reason, at) VALUES (?, ?, ?, ?, ?, ?)",
			sv.RuleID, sv.Device, sv.Base, sv.By, sv.Reason, sv.At.UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("record service: %w", err)
	}
	return nil
}

// LastServices returns the latest service of every rule and device.
func (s *Store) LastServices(ctx context.Context) ([]Service, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT rule_id, device_id, base, author, reason, at FROM rule_services
		WHERE id IN (SELECT max(id) FROM rule_services GROUP BY rule_id, device_id) ORDER BY rule_id, device_id`)
	if err != nil {
		return nil, fmt.Errorf("read services: %w", err)
	}
	defer rows.Close()
	var out []Service
	for rows.Next() {
		var sv Service
		var base sql.NullFloat64
		var at int64
		if err := rows.Scan(&sv.RuleID, &sv.Device, &base, &sv.By, &sv.Reason, &at); err != nil {
			return nil, fmt.Errorf("read services: %w", err)
		}
		if base.Valid {
			b := base.Float64
			sv.Base = &b
		}
		sv.At = time.UnixMilli(at).UTC()
		out = append(out, sv)
	}
	return out, rows.Err()
}

// SaveState writes a batch of what changed in the rule state
// (Engine.SaveChanges).
func (s *Store) SaveState(ctx context.Context, b StateBatch) error {
	if err := s.saveState(ctx, "", b); err != nil {
		return fmt.Errorf("save rule state: %w", err)
	}
	return nil
}

// LoadState reads the saved rule state back (Engine.RestoreState).
func (s *Store) LoadState(ctx context.Context, fn func(device string, body []byte) error) error {
	return s.loadState(ctx, "", fn)
}

// PartitionState is the saved rule state of one cluster partition: its
// leader saves it, the next leader takes it back (a for that had started
// goes on).
type PartitionState struct {
	Store     *Store
	Partition string
}

// SaveState writes a batch of what changed in the partition's rule
// state. In a write transaction: on PostgreSQL it is fenced, so a deposed
// leader cannot overwrite its successor's state.
func (p PartitionState) SaveState(ctx context.Context, b StateBatch) error {
	if err := p.Store.saveState(ctx, p.Partition, b); err != nil {
		return fmt.Errorf("save rule state of partition %q: %w", p.Partition, err)
	}
	return nil
}

// LoadState reads the partition's saved rule state back.
func (p PartitionState) LoadState(ctx context.Context, fn func(device string, body []byte) error) error {
	if err := p.Store.loadState(ctx, p.Partition, fn); err != nil {
		return fmt.Errorf("partition %q: %w", p.Partition, err)
	}
	return nil
}

// stateBatch is how many rows one statement writes or removes.
const stateBatch = 200

// saveState writes a batch in one transaction: each changed device's row
// upserted, the rows of devices with nothing left removed, then the head
// if it came (and the whole snapshot an older instance saved is removed).
func (s *Store) saveState(ctx context.Context, partition string, b StateBatch) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		at := s.now().UnixMilli()
		var ups, dels []any
		flush := func() error {
			if len(ups) > 0 {
				q := "INSERT INTO rule_state_devices(partition, device, body, saved_at) VALUES " +
					strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?), ", len(ups)/4), ", ") +
					" ON CONFLICT(partition, device) DO UPDATE SET body = excluded.body, saved_at = excluded.saved_at"
				if _, err := tx.ExecContext(ctx, q, ups...); err != nil {
					return err
				}
				ups = ups[:0]
			}
			if len(dels) > 1 {
				q := "DELETE FROM rule_state_devices WHERE partition = ? AND device IN (" +
					strings.TrimSuffix(strings.Repeat("?, ", len(dels)-1), ", ") + ")"
				if _, err := tx.ExecContext(ctx, q, dels...); err != nil {
					return err
				}
			}
			dels = append(dels[:0], partition)
			return nil
		}
		dels = append(dels, partition)
		for _, d := range b.Devices {
			if d.Body == nil {
				dels = append(dels, d.Device)
			} else {
				ups = append(ups, partition, d.Device, string(d.Body), at)
			}
			if len(ups) >= 4*stateBatch || len(dels) > stateBatch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
		if h := b.Head; h != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO rule_state_devices(partition, device, body, saved_at) VALUES (?, '', ?, ?)
				ON CONFLICT(partition, device) DO UPDATE SET body = excluded.body, saved_at = excluded.saved_at`, partition, string(h), at); err != nil {
				return err
			}
			legacy, args := "DELETE FROM rule_state", []any(nil)
			if partition != "" {
				legacy, args = "DELETE FROM rule_state_partitions WHERE partition = ?", []any{partition}
			}
			if _, err := tx.ExecContext(ctx, legacy, args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// loadState hands fn the head row (or, if there is none, the whole
// snapshot an older instance saved), then each device's row.
func (s *Store) loadState(ctx context.Context, partition string, fn func(device string, body []byte) error) error {
	rows, err := s.db.QueryContext(ctx, "SELECT device, body FROM rule_state_devices WHERE partition = ? ORDER BY device", partition)
	if err != nil {
		return fmt.Errorf("load rule state: %w", err)
	}
	defer rows.Close()
	first := true
	for rows.Next() {
		var device, body string
		if err := rows.Scan(&device, &body); err != nil {
			return fmt.Errorf("load rule state: %w", err)
		}
		if first && device != "" {
			if err := s.loadLegacy(ctx, partition, fn); err != nil {
				return err
			}
		}
		first = false
		if err := fn(device, []byte(body)); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load rule state: %w", err)
	}
	if first {
		return s.loadLegacy(ctx, partition, fn)
	}
	return nil
}

// loadLegacy hands fn the whole snapshot an older instance saved, if any.
func (s *Store) loadLegacy(ctx context.Context, partition string, fn func(device string, body []byte) error) error {
	q, args := "SELECT body FROM rule_state WHERE id = 1", []any(nil)
	if partition != "" {
		q, args = "SELECT body FROM rule_state_partitions WHERE partition = ?", []any{partition}
	}
	var body string
	err := s.db.QueryRowContext(ctx, q, args...).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load rule state: %w", err)
	}
	return fn("", []byte(body))
}

// errNoShadow is a promotion with nothing to promote.
var errNoShadow = errors.New("no shadow version to promote")

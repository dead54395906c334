package main

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/caretaker-iot/caretaker/dashboard"
	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest/influx"
	"github.com/caretaker-iot/caretaker/ingest/modbus"
	"github.com/caretaker-iot/caretaker/ingest/mqtt"
	"github.com/caretaker-iot/caretaker/internal/config"
	"github.com/caretaker-iot/caretaker/internal/sqldb"
	"github.com/caretaker-iot/caretaker/notify"
	"github.com/caretaker-iot/caretaker/rules"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// Config is the whole configuration file (contract.md, "Configuration").
type Config struct {
	HTTP        HTTPConfig               `yaml:"http"`
	MQTT        mqtt.Options             `yaml:"mqtt"`
	DevicesFile string                   `yaml:"devices_file"`
	Devices     []devices.Device         `yaml:"devices"`
	Models      map[string]devices.Model `yaml:"models"`
	Influx      influx.Config            `yaml:"influx"`
	Modbus      modbus.Config            `yaml:"modbus"`
	Store       StoreConfig              `yaml:"store"`
	Auth        dashboard.Auth           `yaml:"auth"`
	Technicians []ticketing.Technician   `yaml:"technicians"`
	SLA         ticketing.SLA            `yaml:"sla"`
	Tickets     ticketing.Config         `yaml:"tickets"`
	Triage      ticketing.Triage         `yaml:"triage"`
	Rules       RulesConfig              `yaml:"rules"`
	Log         LogConfig                `yaml:"log"`
	QR          QRConfig                 `yaml:"qr"`
	Actions     ActionsConfig            `yaml:"actions"`
	Cluster     ClusterConfig            `yaml:"cluster"`
	// TimeZone is the zone of every site that names none (IANA name;
	// empty: the machine's local zone); Sites names the estates and their
	// zones (contract.md, "Sites and time").
	TimeZone string         `yaml:"time_zone"`
	Sites    []devices.Site `yaml:"sites"`
	// people, rosters, channels and notify: who is paged, when and how
	// (docs/notifications.md).
	notify.Config `yaml:",inline"`
}

// HTTPConfig is the dashboard's listener.
type HTTPConfig struct {
	Listen         string   `yaml:"listen"`
	AllowedOrigins []string `yaml:"allowed_origins"`
	// Hosts are the names the server answers to (Host header), besides
	// localhost and IP addresses.
	Hosts []string      `yaml:"hosts"`
	TLS   HTTPTLSConfig `yaml:"tls"`
	// Timeouts; zero: dashboard's defaults.
	ReadHeaderTimeout devices.Duration `yaml:"read_header_timeout"`
	ReadTimeout       devices.Duration `yaml:"read_timeout"`
	WriteTimeout      devices.Duration `yaml:"write_timeout"`
	IdleTimeout       devices.Duration `yaml:"idle_timeout"`
	TransferTimeout   devices.Duration `yaml:"transfer_timeout"`
	MaxConnections    int              `yaml:"max_connections"`
	WSPerToken        int              `yaml:"ws_per_token"`
	WSMax             int              `yaml:"ws_max"`
	ReadingsMaxPoints int              `yaml:"readings_max_points"`
	ReadingsMaxRange  devices.Duration `yaml:"readings_max_range"`
	// WSStallTimeout: a screen (WebSocket client) that has taken nothing
	// for this long while events wait for it is cut off. One that is only
	// slow gets the latest reading of each device and every other event.
	WSStallTimeout devices.Duration `yaml:"ws_stall_timeout"`
}

// HTTPTLSConfig makes the dashboard speak HTTPS: PEM files of the
// certificate (chain) and its key.
type HTTPTLSConfig struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// StoreConfig places the records: tickets, alarms, deadlines, audit, the
// paging outbox, rule versions and rule state go to PostgreSQL when URL is
// set, to the SQLite file Path otherwise; readings and photos stay files.
type StoreConfig struct {
	Path              string           `yaml:"path"`
	URL               string           `yaml:"url"` // postgres://user:password@host:5432/dbname?sslmode=...
	ReadingsPath      string           `yaml:"readings_path"`
	ReadingsRetention devices.Duration `yaml:"readings_retention"`
	PhotosDir         string           `yaml:"photos_dir"`
}

// RulesConfig selects the rules in force: the default pack unless turned
// off, plus the rules given here (same id replaces a default rule).
type RulesConfig struct {
	Defaults *bool        `yaml:"defaults"`
	Define   []rules.Rule `yaml:"define"`
	// SnapshotInterval is how often the rule state a restart must not
	// forget is saved to store.path (also once at shutdown).
	SnapshotInterval devices.Duration `yaml:"snapshot_interval"`
}

// LogConfig sets the log output.
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// defaultConfig is what the file is read over: each component's section
// with the defaults of its WithDefaults (DefaultSLA for sla), and the
// defaults of the keys cmd owns (http, store, rules, log, influx.spool_dir).
func defaultConfig() Config {
	d := func(s string) devices.Duration { v, _ := time.ParseDuration(s); return devices.Duration(v) }
	return Config{
		HTTP:    HTTPConfig{Listen: "127.0.0.1:8080", WSStallTimeout: d("30s")},
		MQTT:    mqtt.Options{}.WithDefaults(),
		Influx:  sectionDefaults(influx.Config{SpoolDir: "data/spool"}.WithDefaults()),
		Store:   StoreConfig{Path: "data/caretaker.db", ReadingsPath: "data/readings.db", ReadingsRetention: d("720h"), PhotosDir: "data/photos"},
		SLA:     ticketing.DefaultSLA(),
		Tickets: sectionDefaults(ticketing.Config{}.WithDefaults()),
		Triage:  ticketing.Triage{}.WithDefaults(),
		Log:     LogConfig{Level: "info", Format: "text"},
		Rules:   RulesConfig{SnapshotInterval: devices.Duration(rules.DefaultSnapshotInterval)},
	}
}

// ConfigError is a bad configuration; it names the key.
type ConfigError struct {
	Key string
	Msg string
}

func (e *ConfigError) Error() string {
	if e.Key == "" {
		return "config: " + e.Msg
	}
	return fmt.Sprintf("config: %s: %s", e.Key, e.Msg)
}

// fieldConfigError is a component's *config.FieldError as a *ConfigError,
// its path put under the section key.
func fieldConfigError(section string, err error) error {
	var fe *config.FieldError
	if errors.As(config.Under(section, err), &fe) {
		return &ConfigError{Key: fe.Path, Msg: fe.Err.Error()}
	}
	return &ConfigError{Key: section, Msg: err.Error()}
}

// LoadConfig reads the file (if any), applies CARETAKER_* overrides from
// env and validates the result.
func LoadConfig(path string, env []string) (Config, error) {
	var b []byte
	if path != "" {
		var err error
		if b, err = os.ReadFile(path); err != nil {
			return Config{}, &ConfigError{Msg: err.Error()}
		}
	}
	return parseConfig(b, env)
}

// parseConfig is LoadConfig once the file is read (nil: no file).
func parseConfig(b []byte, env []string) (Config, error) {
	cfg := defaultConfig()
	if err := decodeStrict(b, &cfg); err != nil {
		return Config{}, err
	}
	if err := applyEnv(&cfg, env); err != nil {
		return Config{}, err
	}
	cfg.inheritZone()
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// decodeStrict decodes YAML into v after checking that every key in the
// document is one v knows, so a typo is named with its full path.
func decodeStrict(b []byte, v any) error {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return &ConfigError{Msg: err.Error()}
	}
	if len(root.Content) == 0 {
		return nil // empty file
	}
	if err := checkKeys(root.Content[0], reflect.TypeOf(v).Elem(), ""); err != nil {
		return err
	}
	// checkKeys has refused every key v does not know, as KnownFields
	// would, and marked the durations as strings.
	if err := root.Decode(v); err != nil {
		return &ConfigError{Msg: err.Error()}
	}
	return nil
}

var durationType = reflect.TypeOf(time.Duration(0))

// sectionDefaults keeps of a component's defaulted config only its keys:
// the fields tagged yaml:"-" (loggers, clocks, values derived from other
// keys) stay zero, for the component to fill once the file is read.
func sectionDefaults[T any](v T) T {
	rv := reflect.ValueOf(&v).Elem()
	for i := 0; i < rv.NumField(); i++ {
		if f := rv.Type().Field(i); f.IsExported() && f.Tag.Get("yaml") == "-" {
			rv.Field(i).SetZero()
		}
	}
	return v
}

func checkKeys(n *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.AliasNode:
		return checkKeys(n.Alias, t, path)
	case t == durationType && n.Kind == yaml.ScalarNode:
		// A time.Duration is written "15m" (or 0); read it with
		// time.ParseDuration, as devices.Duration is.
		n.Tag = "!!str"
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		if t == reflect.TypeOf(rules.Condition{}) {
			break // its value is free-form by design
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			f, ok := fields[key]
			if !ok {
				return &ConfigError{Key: join(path, key), Msg: fmt.Sprintf("unknown key (line %d)", n.Content[i].Line)}
			}
			if err := checkKeys(n.Content[i+1], f.Type, join(path, key)); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			if err := checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkKeys(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value)); err != nil {
				return err
			}
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps YAML key names to the struct fields they fill.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if name == "-" || !f.IsExported() {
			continue
		}
		if strings.Contains(f.Tag.Get("yaml"), ",inline") {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f
	}
	return out
}

// applyEnv applies CARETAKER_<PATH_IN_UPPER_SNAKE> variables. A scalar key
// takes the value as written; a list or map key takes it as YAML, e.g.
// CARETAKER_AUTH_TOKENS='[{name: ops1, role: operator, token: ...}]'.
func applyEnv(cfg *Config, env []string) error {
	targets := map[string]reflect.Value{}
	envTargets(reflect.ValueOf(cfg).Elem(), "CARETAKER", targets)
	var names []string
	vals := map[string]string{}
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "CARETAKER_") {
			continue
		}
		names = append(names, name)
		vals[name] = val
	}
	sort.Strings(names)
	for _, name := range names {
		v, ok := targets[name]
		if !ok {
			return &ConfigError{Key: name, Msg: "environment variable names no configuration key"}
		}
		if err := yaml.Unmarshal([]byte(quoteScalar(v, vals[name])), v.Addr().Interface()); err != nil {
			if secretEnv(name) {
				return &ConfigError{Key: name, Msg: fmt.Sprintf("cannot use the value (not shown: it may hold secrets): want YAML for %s", v.Type())}
			}
			return &ConfigError{Key: name, Msg: fmt.Sprintf("cannot use %q: %v", vals[name], err)}
		}
	}
	return nil
}

// quoteScalar makes a string-typed value YAML-safe so "on" or "1883" stay
// strings.
func quoteScalar(v reflect.Value, s string) string {
	if v.Kind() == reflect.String || v.Type() == durationType {
		return fmt.Sprintf("%q", s)
	}
	return s
}

func envTargets(v reflect.Value, prefix string, out map[string]reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if strings.Contains(f.Tag.Get("yaml"), ",inline") {
			envTargets(v.Field(i), prefix, out)
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		key := prefix + "_" + strings.ToUpper(name)
		fv := v.Field(i)
		out[key] = fv
		if fv.Kind() == reflect.Struct && f.Type != reflect.TypeOf(devices.Duration(0)) {
			envTargets(fv, key, out)
		}
	}
}

// Validate checks the configuration; the error names the key at fault.
func (c *Config) Validate() error {
	if err := c.Modbus.Validate(); err != nil {
		return fieldConfigError("modbus", err)
	}
	if err := c.HTTP.validate(); err != nil {
		return err
	}
	if _, err := c.SiteZones(); err != nil {
		return err
	}
	if c.HTTP.WSStallTimeout <= 0 {
		return &ConfigError{Key: "http.ws_stall_timeout", Msg: "must be a positive duration"}
	}
	if err := c.MQTT.Validate(); err != nil {
		return fieldConfigError("mqtt", err)
	}
	if err := c.Influx.Validate(); err != nil {
		return fieldConfigError("influx", err)
	}
	if c.Rules.SnapshotInterval <= 0 {
		return &ConfigError{Key: "rules.snapshot_interval", Msg: "must be a positive duration"}
	}
	if c.Store.URL != "" {
		if _, err := sqldb.CheckURL(c.Store.URL); err != nil {
			return &ConfigError{Key: "store.url", Msg: err.Error()}
		}
	} else if c.Store.Path == "" {
		return &ConfigError{Key: "store.path", Msg: "missing (or set store.url)"}
	}
	if err := c.validateCluster(); err != nil {
		return err
	}
	if c.Influx.URL == "" && c.Store.ReadingsPath == "" {
		return &ConfigError{Key: "store.readings_path", Msg: "missing (needed when influx.url is empty)"}
	}
	if err := c.Auth.Validate(); err != nil {
		return fieldConfigError("auth", err)
	}
	if err := ticketingConfig(*c, nil, nil, nil).Validate(); err != nil {
		return fieldConfigError("", err)
	}
	for i, d := range c.Devices {
		if rules.IsReservedID(d.ID) {
			return &ConfigError{Key: fmt.Sprintf("devices[%d].id", i), Msg: fmt.Sprintf("%q is reserved for a data source (the MQTT connection); name the device otherwise", d.ID)}
		}
	}
	for i, r := range c.Rules.Define {
		if err := r.Validate(); err != nil {
			return &ConfigError{Key: fmt.Sprintf("rules.define[%d]", i), Msg: err.Error()}
		}
	}
	if err := c.Config.WithDefaults().Validate(); err != nil {
		return fieldConfigError("", err)
	}
	if err := c.QR.validate(qrBase(*c)); err != nil {
		return err
	}
	return c.Actions.validate()
}

// inheritZone gives the rosters' shifts (notify.timezone) the sites'
// default zone, unless notify names one of its own.
func (c *Config) inheritZone() {
	if c.Notify.Timezone == "" {
		c.Notify.Timezone = c.TimeZone
	}
}

// SiteZones is the time zone of each site (time_zone, sites).
func (c *Config) SiteZones() (*devices.Sites, error) {
	s, err := devices.NewSites(c.TimeZone, c.Sites)
	if err != nil {
		key, msg, _ := strings.Cut(err.Error(), ": ")
		return nil, &ConfigError{Key: key, Msg: msg}
	}
	return s, nil
}

// Registry loads the devices from devices_file and the inline lists.
func (c *Config) Registry() (*devices.Registry, error) {
	// The built-in model library comes first: a device may name one of its
	// models without copying the register map; a model of the same name in
	// the configuration replaces it.
	builtin, err := devices.BuiltinModels()
	if err != nil {
		return nil, err
	}
	cat := devices.Catalog{Devices: c.Devices, Models: builtin}
	if c.DevicesFile != "" {
		f, err := devices.LoadCatalog(c.DevicesFile)
		if err != nil {
			return nil, &ConfigError{Key: "devices_file", Msg: err.Error()}
		}
		cat.Devices = append(cat.Devices, f.Devices...)
		for k, m := range f.Models {
			cat.Models[k] = m
		}
	}
	for k, m := range c.Models {
		cat.Models[k] = m
	}
	for _, d := range cat.Devices[len(c.Devices):] { // the inline ones are checked by Validate
		if rules.IsReservedID(d.ID) {
			return nil, &ConfigError{Key: "devices_file", Msg: fmt.Sprintf("device %q: the name is reserved for a data source (the MQTT connection); name the device otherwise", d.ID)}
		}
	}
	r, err := devices.NewRegistry(cat)
	if err != nil {
		return nil, &ConfigError{Key: "devices", Msg: err.Error()}
	}
	return r, nil
}

// RuleSet is the default pack (unless rules.defaults is false) with the
// configured rules added; a configured rule replaces a default of the same id.
func (c *Config) RuleSet() ([]rules.Rule, error) {
	var out []rules.Rule
	if c.Rules.Defaults == nil || *c.Rules.Defaults {
		pack, err := rules.DefaultPack()
		if err != nil {
			return nil, err
		}
		out = pack
	}
	for _, r := range c.Rules.Define {
		replaced := false
		for i := range out {
			if out[i].ID == r.ID {
				out[i], replaced = r, true
			}
		}
		if !replaced {
			out = append(out, r)
		}
	}
	return out, nil
}

// storeName names the records' store for messages: the PostgreSQL URL
// without its password, or the SQLite file.
func (s StoreConfig) storeName() string {
	if s.URL != "" {
		return redactURL(s.URL)
	}
	return s.Path
}

// exists tells whether there is a store to read: a PostgreSQL database is
// always there, a SQLite file only once written.
func (s StoreConfig) exists() bool {
	if s.URL != "" {
		return true
	}
	_, err := os.Stat(s.Path)
	return err == nil
}

func (h HTTPConfig) validate() error {
	if h.Listen == "" {
		return &ConfigError{Key: "http.listen", Msg: "missing"}
	}
	if (h.TLS.Cert == "") != (h.TLS.Key == "") {
		return &ConfigError{Key: "http.tls", Msg: "give both cert and key"}
	}
	for _, d := range []struct {
		key string
		v   devices.Duration
	}{{"read_header_timeout", h.ReadHeaderTimeout}, {"read_timeout", h.ReadTimeout}, {"write_timeout", h.WriteTimeout},
		{"idle_timeout", h.IdleTimeout}, {"transfer_timeout", h.TransferTimeout}, {"readings_max_range", h.ReadingsMaxRange}} {
		if d.v < 0 {
			return &ConfigError{Key: "http." + d.key, Msg: "must not be negative"}
		}
	}
	for _, n := range []struct {
		key string
		v   int
	}{{"max_connections", h.MaxConnections}, {"ws_per_token", h.WSPerToken}, {"ws_max", h.WSMax}, {"readings_max_points", h.ReadingsMaxPoints}} {
		if n.v < 0 {
			return &ConfigError{Key: "http." + n.key, Msg: "must not be negative"}
		}
	}
	for i, name := range h.Hosts {
		if name == "" || strings.ContainsAny(name, ":/ ") {
			return &ConfigError{Key: fmt.Sprintf("http.hosts[%d]", i), Msg: fmt.Sprintf("%q is not a host name such as ops.example.com", name)}
		}
	}
	return nil
}

// dashboardLimits are the http keys that shape the dashboard's server.
func (h HTTPConfig) dashboardLimits(dc *dashboard.Config) {
	dc.Hosts = h.Hosts
	dc.TLSCert, dc.TLSKey = h.TLS.Cert, h.TLS.Key
	dc.ReadHeaderTimeout, dc.ReadTimeout = h.ReadHeaderTimeout.Std(), h.ReadTimeout.Std()
	dc.WriteTimeout, dc.IdleTimeout, dc.TransferTimeout = h.WriteTimeout.Std(), h.IdleTimeout.Std(), h.TransferTimeout.Std()
	dc.MaxConns, dc.WSPerToken, dc.WSMax = h.MaxConnections, h.WSPerToken, h.WSMax
	dc.MaxReadingPoints, dc.MaxReadingRange = h.ReadingsMaxPoints, h.ReadingsMaxRange.Std()
}

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/notify"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "caretaker.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// notifyKeys is a paging configuration with every top-level key.
const notifyKeys = `people:
  - {name: tech1, phone: "+8613800000001"}
  - {name: sup1, email: "sup1@example.com", roles: [supervisor]}
rosters:
  - {zones: [z1], people: [tech1], shifts: ["mon-sun 00:00-24:00"]}
channels:
  - {name: hook, type: webhook, url: "http://127.0.0.1:9000/hook", secret: "0123456789abcdef"}
notify:
  policies:
    - level: 1
      steps:
        - {after: 0s, to: [on_duty], via: [hook]}
        - {after: 5m, to: [supervisor], via: [hook]}
`

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		env     []string
		wantKey string // "" means no error
		check   func(t *testing.T, c Config)
	}{
		{name: "defaults", file: "", check: func(t *testing.T, c Config) {
			if c.HTTP.Listen != "127.0.0.1:8080" || c.MQTT.QoS != 1 || c.Influx.BatchSize != 5000 {
				t.Fatalf("defaults not applied: %+v", c)
			}
			if c.SLA.L1.Dispatch != 15*time.Minute || c.SLA.ClaimTimeout != 5*time.Minute {
				t.Fatalf("sla defaults: %+v", c.SLA)
			}
		}},
		{name: "file values", file: "influx: {url: 'http://127.0.0.1:8086', flush_interval: 250ms}\nmqtt: {qos: 0}\n",
			check: func(t *testing.T, c Config) {
				if c.Influx.URL != "http://127.0.0.1:8086" || c.Influx.FlushInterval != 250*time.Millisecond || c.MQTT.QoS != 0 {
					t.Fatalf("file not applied: %+v", c)
				}
				if c.Influx.Bucket != "caretaker" {
					t.Fatalf("default lost beside a set key: %q", c.Influx.Bucket)
				}
			}},
		{name: "unknown top key", file: "influxx: {}\n", wantKey: "influxx"},
		{name: "unknown nested key", file: "influx:\n  urll: x\n", wantKey: "influx.urll"},
		{name: "unknown key in list", file: "auth:\n  tokens:\n    - {name: a, role: admin, token: abcdefghijklmnopq, colour: red}\n", wantKey: "auth.tokens[0].colour"},
		{name: "bad qos", file: "mqtt: {qos: 3}\n", wantKey: "mqtt.qos"},
		{name: "embedded broker without credentials", file: "mqtt: {embedded: true}\n", wantKey: "mqtt.users"},
		{name: "embedded broker user without hash", file: "mqtt: {embedded: true, users: [{username: gas-1, password_hash: secret}]}\n", wantKey: "mqtt.users[0].password_hash"},
		{name: "embedded broker user twice", file: "mqtt:\n  embedded: true\n  users: [{username: a, password_hash: \"$7$101$iS4f2PzXSNrjhqbz$InOZWmp+UFMwK5UxyZAfjuNuk5a7U+P2P+NqHG5xZWwN7L9KCtZL1GS46GsWy9qDky43e+F9Mir5KUQMnWtqNw==\"}, {username: a, password_hash: \"$7$101$iS4f2PzXSNrjhqbz$InOZWmp+UFMwK5UxyZAfjuNuk5a7U+P2P+NqHG5xZWwN7L9KCtZL1GS46GsWy9qDky43e+F9Mir5KUQMnWtqNw==\"}]\n", wantKey: "mqtt.users[1].username"},
		{name: "embedded broker user bad device", file: "mqtt:\n  embedded: true\n  users: [{username: gw, devices: [a/b], password_hash: \"$7$101$iS4f2PzXSNrjhqbz$InOZWmp+UFMwK5UxyZAfjuNuk5a7U+P2P+NqHG5xZWwN7L9KCtZL1GS46GsWy9qDky43e+F9Mir5KUQMnWtqNw==\"}]\n", wantKey: "mqtt.users[0].devices[0]"},
		{name: "users for an external broker", file: "mqtt: {users: [{username: a}]}\n", wantKey: "mqtt.users"},
		{name: "embedded tls without key", file: "mqtt: {embedded: true, username: d, password: p, tls: {cert_file: c.pem}}\n", wantKey: "mqtt.tls.key_file"},
		{name: "embedded tls unreadable", file: "mqtt: {embedded: true, username: d, password: p, tls: {cert_file: /nonexistent/c.pem, key_file: /nonexistent/k.pem}}\n", wantKey: "mqtt.tls.cert_file"},
		{name: "shared group without cluster key", file: "mqtt: {shared_group: g}\n", wantKey: "mqtt.cluster_key"},
		{name: "short cluster key", file: "mqtt: {shared_group: g, cluster_key: short}\n", wantKey: "mqtt.cluster_key"},
		{name: "embedded shared credential without password", file: "mqtt: {embedded: true, username: devices}\n", wantKey: "mqtt.password"},
		{name: "tiny max_packet_size", file: "mqtt: {max_packet_size: 10}\n", wantKey: "mqtt.max_packet_size"},
		{name: "reserved device id", file: "devices:\n  - {id: ingest, kind: gas, site: s1}\n", wantKey: "devices[0].id"},
		{name: "bad max_inflight", file: "mqtt: {max_inflight: 0}\n", wantKey: "mqtt.max_inflight"},
		{name: "bad role", file: "auth:\n  tokens:\n    - {name: a, role: boss, token: abcdefghijklmnopq}\n", wantKey: "auth.tokens[0].role"},
		{name: "short token", file: "auth:\n  tokens:\n    - {name: a, role: admin, token: short}\n", wantKey: "auth.tokens[0].token"},
		{name: "bad influx url", file: "influx: {url: '127.0.0.1:8086'}\n", wantKey: "influx.url"},
		{name: "bad rule", file: "rules:\n  define:\n    - {id: x, kind: gas, metric: lel_pct, condition: {op: '>=', value: 5}, severity: huge}\n", wantKey: "rules.define[0]"},
		{name: "env overrides file", file: "influx: {url: 'http://a:1'}\n",
			env: []string{"CARETAKER_INFLUX_URL=http://b:2", "CARETAKER_MQTT_QOS=0", "CARETAKER_MQTT_EMBEDDED=true", "CARETAKER_MQTT_USERNAME=devices", "CARETAKER_MQTT_PASSWORD=devices-pw", "PATH=/bin"},
			check: func(t *testing.T, c Config) {
				if c.Influx.URL != "http://b:2" || c.MQTT.QoS != 0 || !c.MQTT.Embedded {
					t.Fatalf("env not applied: %+v", c)
				}
			}},
		{name: "env list as yaml", env: []string{"CARETAKER_AUTH_TOKENS=[{name: ops1, role: operator, token: 0123456789abcdef}]"},
			check: func(t *testing.T, c Config) {
				if len(c.Auth.Tokens) != 1 || c.Auth.Tokens[0].Role != "operator" {
					t.Fatalf("tokens: %+v", c.Auth.Tokens)
				}
			}},
		{name: "env string stays string", env: []string{"CARETAKER_MQTT_PASSWORD=1883"},
			check: func(t *testing.T, c Config) {
				if c.MQTT.Password != "1883" {
					t.Fatalf("password: %q", c.MQTT.Password)
				}
			}},
		{name: "cluster without instance", file: "cluster: {lease: 5s}\n", wantKey: "cluster.instance"},
		{name: "cluster without store.url", file: "mqtt: {broker: 'tcp://127.0.0.1:1883'}\ncluster: {instance: ct-a}\n", wantKey: "store.url"},
		{name: "cluster without cluster key", file: "mqtt: {broker: 'tcp://127.0.0.1:1883'}\nstore: {url: 'postgres://x@h/db'}\ncluster: {instance: ct-a}\n", wantKey: "mqtt.cluster_key"},
		{name: "cluster on the embedded broker", file: "mqtt:\n  embedded: true\n  users: [{username: a, password_hash: \"$7$101$iS4f2PzXSNrjhqbz$InOZWmp+UFMwK5UxyZAfjuNuk5a7U+P2P+NqHG5xZWwN7L9KCtZL1GS46GsWy9qDky43e+F9Mir5KUQMnWtqNw==\"}]\nstore: {url: 'postgres://x@h/db'}\ncluster: {instance: ct-a}\n", wantKey: "mqtt.embedded"},
		{name: "cluster lease too short", file: "mqtt: {broker: 'tcp://127.0.0.1:1883', cluster_key: cluster-key-0123456789abcdef}\nstore: {url: 'postgres://x@h/db'}\ncluster: {instance: ct-a, lease: 100ms}\n", wantKey: "cluster.lease"},
		{name: "partition without sites", file: "mqtt: {broker: 'tcp://127.0.0.1:1883', cluster_key: cluster-key-0123456789abcdef}\nstore: {url: 'postgres://x@h/db'}\ncluster: {instance: ct-a, partitions: [{name: north}]}\n", wantKey: "cluster.partitions[0].sites"},
		{name: "site in two partitions", file: "mqtt: {broker: 'tcp://127.0.0.1:1883', cluster_key: cluster-key-0123456789abcdef}\nstore: {url: 'postgres://x@h/db'}\ncluster: {instance: ct-a, partitions: [{name: north, sites: [s1]}, {name: south, sites: [s1]}]}\n", wantKey: "cluster.partitions[1].sites"},
		{name: "device in no partition", file: "mqtt: {broker: 'tcp://127.0.0.1:1883', cluster_key: cluster-key-0123456789abcdef}\nstore: {url: 'postgres://x@h/db'}\ncluster: {instance: ct-a, partitions: [{name: north, sites: [s1]}]}\ndevices: [{id: g1, kind: gas, site: s9}]\n", wantKey: "devices[0].site"},
		{name: "cluster", file: "mqtt: {broker: 'tcp://127.0.0.1:1883', cluster_key: cluster-key-0123456789abcdef}\nstore: {url: 'postgres://x@h/db'}\ncluster: {instance: ct-a, lease: 5s, partitions: [{name: north, sites: [s1]}]}\ndevices: [{id: g1, kind: gas, site: s1}]\n",
			check: func(t *testing.T, c Config) {
				if c.Cluster.lease() != 5*time.Second || len(c.Cluster.partitions()) != 1 || partitionClientID(c, c.Cluster.partitions()[0]) != c.MQTT.ClientID+"-north" {
					t.Fatalf("cluster = %+v", c.Cluster)
				}
			}},
		{name: "bad warn_at", file: "sla: {warn_at: 1.5}\n", wantKey: "sla.warn_at"},
		{name: "zero warn_at", file: "sla: {warn_at: 0}\n", wantKey: "sla.warn_at"},
		{name: "bad progress_every", file: "sla: {progress_every: 0s}\n", wantKey: "sla.progress_every"},
		{name: "bad escalation_step", file: "sla: {escalation_step: -5m}\n", wantKey: "sla.escalation_step"},
		{name: "bad callback_within", file: "sla: {callback_within: 0s}\n", wantKey: "sla.callback_within"},
		{name: "bad reinspect_within", file: "sla: {reinspect_within: 0s}\n", wantKey: "sla.reinspect_within"},
		{name: "empty chain", file: "sla: {chain: []}\n", wantKey: "sla.chain"},
		{name: "chain step twice", file: "sla: {chain: [team_lead, team_lead]}\n", wantKey: "sla.chain[1]"},
		{name: "bad dispatch", file: "tickets: {dispatch: grab}\n", wantKey: "tickets.dispatch"},
		{name: "bad reopen_window", file: "tickets: {reopen_window: 0s}\n", wantKey: "tickets.reopen_window"},
		{name: "bad triage timeout", file: "triage: {timeout: 0s}\n", wantKey: "triage.timeout"},
		{name: "negative triage timeout", file: "triage: {timeout: -5m}\n", wantKey: "triage.timeout"},
		{name: "bad max_code_attempts", file: "tickets: {max_code_attempts: 0}\n", wantKey: "tickets.max_code_attempts"},
		{name: "bad max_photo_bytes", file: "tickets: {max_photo_bytes: 100}\n", wantKey: "tickets.max_photo_bytes"},
		{name: "photo larger than an upload", file: "tickets: {max_photo_bytes: 100000000}\n", wantKey: "tickets.max_photo_bytes"},
		{name: "bad repeat_window", file: "tickets: {repeat_window: 0s}\n", wantKey: "tickets.repeat_window"},
		{name: "unknown tickets key", file: "tickets: {pool: true}\n", wantKey: "tickets.pool"},
		{name: "bad env code attempts", env: []string{"CARETAKER_TICKETS_MAX_CODE_ATTEMPTS=many"}, wantKey: "CARETAKER_TICKETS_MAX_CODE_ATTEMPTS"},
		{name: "bad env dispatch", env: []string{"CARETAKER_TICKETS_DISPATCH=grab"}, wantKey: "tickets.dispatch"},
		{name: "ticketing keys", file: "sla: {warn_at: 0.5, progress_every: 10m, chain: [duty_officer, supervisor], escalation_step: 15m," +
			" callback_within: 12h, reinspect_within: 24h}\ntickets: {dispatch: pool, reopen_window: 1h, max_code_attempts: 3," +
			" max_photo_bytes: 2097152, repeat_window: 168h}\n",
			env: []string{"CARETAKER_TICKETS_MAX_CODE_ATTEMPTS=4"},
			check: func(t *testing.T, c Config) {
				tc := ticketingConfig(c, nil, nil, nil)
				if tc.SLA.WarnAt != 0.5 || tc.SLA.ProgressEvery != 10*time.Minute || tc.SLA.EscalationStep != 15*time.Minute ||
					tc.SLA.CallbackWithin != 12*time.Hour || tc.SLA.ReinspectWithin != 24*time.Hour ||
					strings.Join(tc.SLA.Chain, ",") != "duty_officer,supervisor" {
					t.Errorf("sla: %+v", tc.SLA)
				}
				if tc.Dispatch != "pool" || tc.ReopenWindow != time.Hour || tc.MaxCodeAttempts != 4 ||
					tc.MaxPhotoBytes != 2<<20 || tc.RepeatWindow != 168*time.Hour {
					t.Errorf("tickets: %+v", tc)
				}
			}},
		{name: "ticketing defaults", check: func(t *testing.T, c Config) {
			tc := ticketingConfig(c, nil, nil, nil)
			if tc.SLA.WarnAt != 0.8 || tc.SLA.ProgressEvery != 30*time.Minute || len(tc.SLA.Chain) != 3 ||
				tc.Dispatch != "auto" || tc.ReopenWindow != 30*time.Minute || tc.MaxCodeAttempts != 5 || tc.MaxPhotoBytes != 10<<20 {
				t.Errorf("defaults: %+v", tc)
			}
		}},
		{name: "bad time_zone", file: "time_zone: Mars/Olympus\n", wantKey: "time_zone"},
		{name: "bad site time_zone", file: "sites: [{id: s1, name: 北区}, {id: s2, name: 南区, time_zone: '+08:00'}]\n", wantKey: "sites[1].time_zone"},
		{name: "bad site id", file: "sites: [{id: 's 1', name: 北区}]\n", wantKey: "sites[0].id"},
		{name: "bad building unit", file: "sites: [{id: s1, buildings: [{id: 3号楼, units: ['1', '1']}]}]\n", wantKey: "sites[0].buildings[0].units[1]"},
		{name: "building rooms without floors", file: "sites: [{id: s1}, {id: s2, buildings: [{id: B1}, {id: B2, rooms: ['01']}]}]\n", wantKey: "sites[1].buildings[1].rooms"},
		{name: "site buildings", file: "sites: [{id: s1, buildings: [{id: 3号楼, name_en: Building 3, units: ['1', '2'], floors: 18, rooms: ['01', '02']}]}]\n",
			check: func(t *testing.T, c Config) {
				s, err := c.SiteZones()
				if err != nil {
					t.Fatal(err)
				}
				if b := s.List()[0].Buildings; len(b) != 1 || b[0].ID != "3号楼" || b[0].NameEn != "Building 3" || len(b[0].Units) != 2 || b[0].Floors != 18 || len(b[0].Rooms) != 2 {
					t.Errorf("buildings: %+v", b)
				}
			}},
		{name: "site zones", file: "time_zone: Asia/Shanghai\nsites: [{id: s1, name: 北区, name_en: North estate}, {id: s2, name: 柏林, time_zone: Europe/Berlin}]\n",
			check: func(t *testing.T, c Config) {
				tc := ticketingConfig(c, nil, nil, nil)
				if tc.Location.String() != "Asia/Shanghai" || tc.SiteLocation("s2").String() != "Europe/Berlin" || tc.SiteLocation("s7").String() != "Asia/Shanghai" {
					t.Errorf("zones: %v %v", tc.Location, tc.SiteLocation("s2"))
				}
				if c.Notify.Timezone != "Asia/Shanghai" {
					t.Errorf("notify.timezone %q: want the default zone", c.Notify.Timezone)
				}
			}},
		{name: "notify keeps its own zone", file: "time_zone: Asia/Shanghai\nnotify: {timezone: Europe/Berlin}\n",
			check: func(t *testing.T, c Config) {
				if c.Notify.Timezone != "Europe/Berlin" {
					t.Errorf("notify.timezone %q", c.Notify.Timezone)
				}
			}},
		{name: "unknown env key", env: []string{"CARETAKER_INFLUX_URLL=x"}, wantKey: "CARETAKER_INFLUX_URLL"},
		{name: "bad env value", env: []string{"CARETAKER_MQTT_QOS=high"}, wantKey: "CARETAKER_MQTT_QOS"},
		{name: "bad env duration", env: []string{"CARETAKER_INFLUX_FLUSH_INTERVAL=soon"}, wantKey: "CARETAKER_INFLUX_FLUSH_INTERVAL"},
		{name: "zero duration is read, then refused", file: "influx: {flush_interval: 0}\n", wantKey: "influx.flush_interval"},
		{name: "env duration", env: []string{"CARETAKER_INFLUX_FLUSH_INTERVAL=2s", "CARETAKER_MODBUS_INTERVAL=0"},
			check: func(t *testing.T, c Config) {
				if c.Influx.FlushInterval != 2*time.Second {
					t.Fatalf("flush_interval: %v", c.Influx.FlushInterval)
				}
			}},
		{name: "modbus keys", file: "modbus: {interval: 5s, timeout: 0, offline_after: 4, max_backoff: 2m, max_gap: 4, max_registers: 60}\n",
			check: func(t *testing.T, c Config) {
				m := c.Modbus
				if m.Interval != 5*time.Second || m.Timeout != 0 || m.OfflineAfter != 4 || m.MaxBackoff != 2*time.Minute ||
					m.Plan.MaxGap != 4 || m.Plan.MaxRegisters != 60 {
					t.Fatalf("modbus: %+v", m)
				}
			}},
		{name: "bad modbus max_gap", env: []string{"CARETAKER_MODBUS_MAX_GAP=200"}, wantKey: "modbus.max_gap"},
		{name: "bad modbus interval", file: "modbus: {interval: -1s}\n", wantKey: "modbus.interval"},
		{name: "unknown modbus key", file: "modbus: {max_bits: 8}\n", wantKey: "modbus.max_bits"},
		{name: "derived defaults follow the file", file: "influx: {batch_size: 100}\n",
			check: func(t *testing.T, c Config) {
				if c.Influx.MaxPending != 0 || c.Influx.WithDefaults().MaxPending != 400 {
					t.Fatalf("max pending: %d, then %d", c.Influx.MaxPending, c.Influx.WithDefaults().MaxPending)
				}
			}},
		{name: "notify keys", file: notifyKeys,
			env: []string{`CARETAKER_NOTIFY_MAX_AGE=30m`},
			check: func(t *testing.T, c Config) {
				if len(c.People) != 2 || c.People[1].Roles[0] != "supervisor" || len(c.Rosters) != 1 || len(c.Channels) != 1 ||
					c.Channels[0].Secret != "0123456789abcdef" || len(c.Notify.Policies) != 1 || c.Notify.MaxAge.Std() != 30*time.Minute {
					t.Fatalf("notify config: %+v", c.Config)
				}
			}},
		{name: "unknown people key", file: "people: [{name: tech1, nmae: x}]\n", wantKey: "people[0].nmae"},
		{name: "unknown notify key", file: "notify: {polices: []}\n", wantKey: "notify.polices"},
		{name: "bad shift", file: "people: [{name: tech1}]\nrosters: [{people: [tech1], shifts: ['mon-fri 25:00-08:00']}]\n", wantKey: "rosters[0].shifts[0]"},
		{name: "short webhook secret", file: "channels: [{name: hook, type: webhook, url: 'http://127.0.0.1:9/h', secret: short}]\n", wantKey: "channels[0].secret"},
		{name: "step via unknown channel", file: strings.Replace(notifyKeys, "via: [hook]", "via: [pigeon]", 1), wantKey: "notify.policies[0].steps[0].via[0]"},
		{name: "step to unknown person", file: strings.Replace(notifyKeys, "to: [on_duty]", "to: [nobody]", 1), wantKey: "notify.policies[0].steps[0].to[0]"},
		{name: "bad env notify", env: []string{"CARETAKER_NOTIFY_MAX_AGE=-1h"}, wantKey: "notify.max_age"},
		{name: "store url", file: "store: {url: 'postgres://ct:pw@db.example:5432/caretaker?sslmode=verify-full'}\n",
			check: func(t *testing.T, c Config) {
				if tc := ticketingConfig(c, nil, nil, nil); tc.URL != c.Store.URL || c.Store.URL == "" {
					t.Fatalf("store.url not passed to ticketing: %q", tc.URL)
				}
				if got := c.Store.storeName(); strings.Contains(got, "pw") {
					t.Fatalf("store name shows the password: %s", got)
				}
			}},
		{name: "store url not postgres", file: "store: {url: 'mysql://db/caretaker'}\n", wantKey: "store.url"},
		{name: "store url without database", env: []string{"CARETAKER_STORE_URL=postgres://db.example:5432"}, wantKey: "store.url"},
		{name: "store url unparsable", env: []string{"CARETAKER_STORE_URL=postgres://ct:pw@db example/x"}, wantKey: "store.url"},
		{name: "no store", file: "store: {path: ''}\n", wantKey: "store.path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = writeConfig(t, tc.file)
			}
			c, err := LoadConfig(path, tc.env)
			if tc.wantKey != "" {
				var ce *ConfigError
				if !errors.As(err, &ce) || ce.Key != tc.wantKey {
					t.Fatalf("error = %v, want one naming %q", err, tc.wantKey)
				}
				if !strings.HasPrefix(tc.name, "unknown") && strings.Contains(ce.Msg, "unknown key") {
					t.Fatalf("error = %v, want a bad value, not an unknown key", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestRegistryFromConfig(t *testing.T) {
	dir := t.TempDir()
	devFile := filepath.Join(dir, "devices.yaml")
	if err := os.WriteFile(devFile, []byte(`devices:
  - {id: pm-b1-01, kind: power, site: s1, building: B1, model: acme-pm3,
     modbus: {address: "tcp://127.0.0.1:5020", unit: 1, interval: 1s, timeout: 500ms}}
models:
  acme-pm3:
    registers:
      - {metric: voltage_v, table: holding, address: 0, type: uint16, scale: 0.1}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(writeConfig(t, "devices_file: "+devFile+"\ndevices:\n  - {id: gas-1, kind: gas, site: s1, building: B2}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := c.Registry()
	if err != nil {
		t.Fatal(err)
	}
	if reg.Len() != 2 {
		t.Fatalf("devices = %d", reg.Len())
	}
	d, _ := reg.Lookup("pm-b1-01")
	if d.Modbus == nil || d.Modbus.Interval.Std() != time.Second || d.Modbus.Unit != 1 {
		t.Fatalf("modbus = %+v", d.Modbus)
	}

	c.Devices = append(c.Devices, c.Devices[0])
	if _, err := c.Registry(); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("duplicate device accepted: %v", err)
	}
}

func TestRuleSetReplacesDefaults(t *testing.T) {
	c, err := LoadConfig(writeConfig(t, `rules:
  define:
    - {id: gas-lel-critical, name: Gas alarm, kind: gas, metric: lel_pct, condition: {op: ">=", value: 25}, severity: critical}
    - {id: my-rule, kind: gas, metric: co_ppm, condition: {op: ">", value: 30}, severity: minor}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := c.RuleSet()
	if err != nil {
		t.Fatal(err)
	}
	var found, mine int
	for _, r := range rs {
		if r.ID == "gas-lel-critical" {
			found++
			if v, _ := r.Condition.Value.(int); v != 25 {
				t.Fatalf("default not replaced: %+v", r.Condition)
			}
		}
		if r.ID == "my-rule" {
			mine++
		}
	}
	if found != 1 || mine != 1 {
		t.Fatalf("rules: critical %d, mine %d", found, mine)
	}
}

func TestExampleConfigLoads(t *testing.T) {
	c, err := LoadConfig("../../caretaker.example.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := c.Registry()
	if err != nil {
		t.Fatal(err)
	}
	if reg.Len() != 4 || len(c.Auth.Tokens) != 4 || len(c.Technicians) != 1 {
		t.Fatalf("example: %d devices, %d tokens", reg.Len(), len(c.Auth.Tokens))
	}
}

// A bad ticketing value stops serve with exit 2, naming the key.
func TestServeRejectsBadTicketingValue(t *testing.T) {
	for _, c := range []struct{ yaml, key string }{
		{"tickets: {dispatch: grab}\n", "tickets.dispatch"},
		{"sla: {warn_at: 2}\n", "sla.warn_at"},
		{"tickets: {checklists: [{name: lift, rules: [elevator-entrapment], items: [{id: a, text: A, value: date}]}]}\n", "tickets.checklists[0].items[0].value"},
		{"tickets: {checklists: [{name: lift, items: [{id: a, text: A}]}]}\n", "tickets.checklists[0]"},
	} {
		dir := t.TempDir()
		path := writeConfig(t, "store: {path: "+dir+"/c.db, readings_path: "+dir+"/r.db}\n"+c.yaml)
		var out, errb strings.Builder
		if code := run(context.Background(), []string{"serve", "--config", path}, &out, &errb, nil); code != 2 ||
			!strings.Contains(errb.String(), "config: "+c.key+": ") {
			t.Errorf("%s: exit %d, stderr %q, want 2 naming %s", c.key, code, errb.String(), c.key)
		}
	}
}

func TestServeRejectsBadTicketingConfig(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, "store: {path: "+dir+"/c.db, readings_path: "+dir+"/r.db}\nmqtt: {embedded: true, embedded_listen: '127.0.0.1:0', username: d, password: p}\nhttp: {listen: '127.0.0.1:0'}\n"+
		"technicians:\n  - {name: tech1, skills: [plumbing]}\n  - {name: tech1, skills: [gas]}\n")
	var out, errb strings.Builder
	if code := run(context.Background(), []string{"serve", "--config", path}, &out, &errb, nil); code != 2 || !strings.Contains(errb.String(), "technicians[1].name") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

// A bad CARETAKER_CHANNELS or CARETAKER_NOTIFY_* value is named, never
// repeated: channels carry webhook secrets and SMTP passwords, notify the
// ack key.
func TestNotifyEnvErrorsHideValues(t *testing.T) {
	for _, kv := range []string{
		"CARETAKER_CHANNELS=[{name: hook, secret: wh-SECRET-0123456789, url: [",
		"CARETAKER_NOTIFY_POLICIES=[{level: 1, steps: ak-SECRET-0123456789",
		"CARETAKER_NOTIFY=[ak-SECRET-0123456789",
	} {
		_, err := parseConfig(nil, []string{kv})
		name, _, _ := strings.Cut(kv, "=")
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Key != name {
			t.Fatalf("%s: error %v, want one naming the variable", name, err)
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Fatalf("%s: error repeats the value: %v", name, err)
		}
	}
}

// Every key the configuration takes, now that the components' configs
// make it up, is in docs/configuration.md (a struct key either as a whole
// or key by key); the paging keys are in docs/notifications.md.
func TestEveryKeyDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	var walk func(typ reflect.Type, prefix string)
	walk = func(typ reflect.Type, prefix string) {
		for key, f := range yamlFields(typ) {
			path := join(prefix, key)
			if _, paging := yamlFields(reflect.TypeOf(notify.Config{}))[key]; prefix == "" && paging {
				continue // docs/notifications.md
			}
			if bytes.Contains(doc, []byte("`"+path+"`")) {
				continue
			}
			if f.Type.Kind() == reflect.Struct && f.Type != durationType {
				walk(f.Type, path)
				continue
			}
			t.Errorf("key %s is not in docs/configuration.md", path)
		}
	}
	walk(reflect.TypeOf(Config{}), "")
}

// tickets.checklists: absent, the default lists; given, exactly those
// (from the file or CARETAKER_TICKETS_CHECKLISTS); [] turns them off.
func TestChecklistsConfig(t *testing.T) {
	base := "store: {path: /tmp/c.db, readings_path: /tmp/r.db}\n"
	for _, c := range []struct {
		name, yaml string
		env        []string
		want       []string
	}{
		{"absent", base, nil, []string{"elevator_entrapment", "gas_leak", "water_leak", "power_fault"}},
		{"off", base + "tickets: {checklists: []}\n", nil, []string{}},
		{"own", base + "tickets:\n  checklists:\n    - {name: fire_alarm, categories: [fire], items: [{id: panel_reset, text: Fire panel reset, text_zh: 消防主机已复位}]}\n", nil, []string{"fire_alarm"}},
		{"env", base, []string{"CARETAKER_TICKETS_CHECKLISTS=[{name: pump, rules: [water-leak*], items: [{id: pump_off, text: Pump off}]}]"}, []string{"pump"}},
	} {
		cfg, err := parseConfig([]byte(c.yaml), c.env)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := []string{}
		for _, l := range ticketingConfig(cfg, nil, nil, nil).WithDefaults().Checklists {
			got = append(got, l.Name)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: checklists %v, want %v", c.name, got, c.want)
		}
	}
}

package main

import (
	"errors"
	"strings"
	"testing"
)

// FuzzLoadConfig feeds configuration files and one CARETAKER_* variable to
// the loader. It must never panic; every refusal is a *ConfigError (exit
// code 2 with the key named); what it accepts validates again and yields a
// registry and a rule set; and an error never repeats the value of a
// variable that carries secrets. Longer runs by hand (docs/testing.md):
//
//	go test -run '^$' -fuzz '^FuzzLoadConfig$' -fuzztime 5m ./cmd/caretaker
func FuzzLoadConfig(f *testing.F) {
	seeds := []struct{ yaml, env, val string }{
		{"http: {listen: \"127.0.0.1:8080\"}\nmqtt: {broker: \"tcp://127.0.0.1:1883\", client_id: c1, username: u, password: p}\n", "", ""},
		{"influx: {url: http://127.0.0.1:8086, token: sekret-influx-token, bucket: b, flush_interval: 100ms}\n", "CARETAKER_INFLUX_BATCH_SIZE", "0"},
		{"auth:\n  tokens:\n    - {name: ops1, role: operator, token: op-0123456789abcdef}\n", "CARETAKER_AUTH_TOKENS", "[{name: x, role: admin, token: tok-0123456789abcdef}"},
		{"mqtt: {embedded: true, embedded_listen: \"127.0.0.1:0\"}\n", "CARETAKER_MQTT_PASSWORD", "hunter2-hunter2"},
		{"mqtt: {qos: 7}\n", "CARETAKER_MQTT", "{password: [sekret-password-1]}"},
		{"devices:\n  - {id: gas-b2-07, kind: gas, site: s1, building: B2, location: \"B2 boiler room\"}\n  - {id: gas-b2-07, kind: gas, site: s1}\n", "", ""},
		{"devices:\n  - id: pm-1\n    kind: power\n    site: s1\n    model: acme\n    modbus: {address: \"tcp://127.0.0.1:5020\", unit: 1, interval: 1s}\nmodels:\n  acme:\n    registers:\n      - {metric: voltage_v, table: holding, address: 0, type: uint16, scale: 0.1}\n", "", ""},
		{"rules:\n  defaults: false\n  define:\n    - {id: r1, kind: gas, metric: lel_pct, condition: {op: '>=', value: 20}, severity: critical}\n", "", ""},
		{"sla: {l1: {dispatch: 0s, arrive: 1m, close: 1h}}\n", "CARETAKER_SLA_CLAIM_TIMEOUT", "forever"},
		{"store: {path: \"\"}\n", "CARETAKER_NOPE", "1"},
		{"log: {level: loud}\n", "CARETAKER_LOG_FORMAT", "xml"},
		{"a: &a [*a]\n", "", ""},
		{"http: [1, 2]\n", "CARETAKER_HTTP_LISTEN", ""},
		{"\x00\xff", "CARETAKER_MQTT_QOS", "one"},
		{"", "", ""},
	}
	for _, s := range seeds {
		f.Add([]byte(s.yaml), s.env, s.val)
	}
	f.Fuzz(func(t *testing.T, yaml []byte, envName, envVal string) {
		var env []string
		if envName != "" {
			env = []string{envName + "=" + envVal}
		}
		cfg, err := parseConfig(yaml, env)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T) is not a *ConfigError", err, err)
			}
			if secretEnv(strings.SplitN(envName, "=", 2)[0]) && len(envVal) >= 6 && strings.Contains(err.Error(), envVal) {
				t.Fatalf("the error shows the value of %s: %v", envName, err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted configuration does not validate again: %v", err)
		}
		if _, err := cfg.Registry(); err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("registry error %v (%T) is not a *ConfigError", err, err)
			}
		}
		if _, err := cfg.RuleSet(); err != nil {
			t.Fatalf("accepted configuration has no rule set: %v", err)
		}
		if _, err := newLogger(cfg.Log, nil); err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("log error %v (%T) is not a *ConfigError", err, err)
			}
		}
	})
}

package mqtt_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/caretaker-iot/caretaker/ingest/mqtt"
	"github.com/caretaker-iot/caretaker/internal/config"
)

// The mqtt section's defaults are the contract's ("Configuration"), and
// the gateway and the broker get theirs from it.
func TestOptionsDefaults(t *testing.T) {
	o := mqtt.Options{}.WithDefaults()
	if o.Broker != "tcp://127.0.0.1:1883" || o.EmbeddedListen != "127.0.0.1:1883" || o.ClientID != "caretaker-1" ||
		o.QoS != 1 || o.MaxInflight != 1000 || o.Embedded || o.AutoRegister {
		t.Fatalf("defaults: %+v", o)
	}
	if err := o.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	o.TLS.CAFile, o.SharedGroup, o.QoS = "ca.pem", "g", 0
	if g := o.GatewayConfig(); g.ClientID != "caretaker-1" || g.CAFile != "ca.pem" || g.SharedGroup != "g" || g.QoS != 0 || g.MaxInFlight != 1000 {
		t.Fatalf("gateway: %+v", g)
	}
	if b := o.BrokerConfig(); b.Listen != "127.0.0.1:1883" || b.MaxInFlight != 1000 {
		t.Fatalf("broker: %+v", b)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*mqtt.Options)
		path string
	}{
		{"qos 3", func(o *mqtt.Options) { o.QoS = 3 }, "qos"},
		{"negative qos", func(o *mqtt.Options) { o.QoS = -1 }, "qos"},
		{"broker not a URL", func(o *mqtt.Options) { o.Broker = "127.0.0.1:1883" }, "broker"},
		{"max_inflight 0", func(o *mqtt.Options) { o.MaxInflight = 0 }, "max_inflight"},
		{"no client id", func(o *mqtt.Options) { o.ClientID = "" }, "client_id"},
		{"embedded needs no broker URL", func(o *mqtt.Options) { o.Embedded, o.Broker, o.Username, o.Password = true, "", "d", "p" }, ""},
		{"embedded needs credentials", func(o *mqtt.Options) { o.Embedded = true }, "users"},
		{"embedded anonymous (demo)", func(o *mqtt.Options) { o.Embedded, o.Anonymous = true, true }, ""},
		{"users without embedded", func(o *mqtt.Options) { o.Users = []mqtt.User{{Username: "a"}} }, "users"},
		{"user without a $7$ hash", func(o *mqtt.Options) { o.Embedded, o.Users = true, []mqtt.User{{Username: "a", PasswordHash: "a"}} }, "users[0].password_hash"},
		{"retained larger than a packet", func(o *mqtt.Options) { o.MaxRetainedBytes = o.MaxPacketSize + 1 }, "max_retained_bytes"},
		{"shared group without key", func(o *mqtt.Options) { o.SharedGroup = "g" }, "cluster_key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := mqtt.Options{}.WithDefaults()
			tc.edit(&o)
			err := o.Validate()
			var fe *config.FieldError
			if tc.path == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if !errors.As(err, &fe) || fe.Path != tc.path {
				t.Fatalf("Validate = %v, want a FieldError at %q", err, tc.path)
			}
		})
	}
}

func TestSiteTopics(t *testing.T) {
	cases := []struct {
		sites []string
		want  []string
	}{
		{nil, nil},
		{[]string{"s1"}, []string{"sites/s1/devices/+/telemetry", "sites/s1/devices/+/event", "sites/s1/devices/+/status"}},
		{[]string{"n", "s"}, []string{"sites/n/devices/+/telemetry", "sites/n/devices/+/event", "sites/n/devices/+/status",
			"sites/s/devices/+/telemetry", "sites/s/devices/+/event", "sites/s/devices/+/status"}},
	}
	for _, tc := range cases {
		if got := mqtt.SiteTopics(tc.sites); !slices.Equal(got, tc.want) {
			t.Errorf("SiteTopics(%v) = %v, want %v", tc.sites, got, tc.want)
		}
	}
}

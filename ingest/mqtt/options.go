package mqtt

import (
	"strings"

	"github.com/caretaker-iot/caretaker/internal/config"
)

// Defaults of the mqtt section (contract.md, "Configuration"); the
// gateway's own zero ClientID takes DefaultClientID too.
const (
	DefaultBroker         = "tcp://127.0.0.1:1883"
	DefaultEmbeddedListen = "127.0.0.1:1883"
	DefaultClientID       = "caretaker-1"
	DefaultQoS            = 1
	DefaultMaxInFlight    = 1000
)

// Options is the mqtt section of caretaker.yaml: how readings come in over
// MQTT, from an external broker through the Gateway or from devices
// connecting to the embedded Broker.
type Options struct {
	Broker         string     `yaml:"broker"`
	Embedded       bool       `yaml:"embedded"`
	EmbeddedListen string     `yaml:"embedded_listen"`
	ClientID       string     `yaml:"client_id"` // stable, so the broker keeps the session across restarts
	Username       string     `yaml:"username"`
	Password       string     `yaml:"password"`
	TLS            TLSOptions `yaml:"tls"`
	QoS            int        `yaml:"qos"`
	SharedGroup    string     `yaml:"shared_group"`
	// AutoRegister lets the pipeline take messages of unknown devices.
	AutoRegister bool `yaml:"auto_register"`
	// MaxInflight caps QoS 1 messages taken but not yet durable (and so
	// not yet acknowledged); keep the broker's in-flight window at least
	// this large (docs/operations.md).
	MaxInflight int `yaml:"max_inflight"`
}

// TLSOptions names the CA that signs the broker's certificate.
type TLSOptions struct {
	CAFile string `yaml:"ca_file"`
}

// WithDefaults fills the zero fields that have a default; every default of
// the section is here. The configuration file is read over
// Options{}.WithDefaults(), so a qos written as 0 stays 0.
func (o Options) WithDefaults() Options {
	if o.Broker == "" {
		o.Broker = DefaultBroker
	}
	if o.EmbeddedListen == "" {
		o.EmbeddedListen = DefaultEmbeddedListen
	}
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.QoS == 0 {
		o.QoS = DefaultQoS
	}
	if o.MaxInflight == 0 {
		o.MaxInflight = DefaultMaxInFlight
	}
	return o
}

// Validate checks the section; the *config.FieldError names the key.
func (o Options) Validate() error {
	switch {
	case o.QoS < 0 || o.QoS > 2:
		return config.Errorf("qos", "%d is not 0, 1 or 2", o.QoS)
	case !o.Embedded && !hasScheme(o.Broker, "tcp://", "ssl://", "tls://", "mqtt://", "mqtts://", "ws://", "wss://"):
		return config.Errorf("broker", "%q must be a URL such as tcp://127.0.0.1:1883", o.Broker)
	case o.MaxInflight < 1:
		return config.Errorf("max_inflight", "%d must be at least 1", o.MaxInflight)
	case o.ClientID == "":
		return config.Errorf("client_id", "missing: a stable id keeps the broker session across restarts")
	}
	return nil
}

// GatewayConfig is the gateway's part of the section; the caller adds the
// logger and the connection hook.
func (o Options) GatewayConfig() Config {
	return Config{
		Broker: o.Broker, ClientID: o.ClientID, Username: o.Username, Password: o.Password,
		CAFile: o.TLS.CAFile, QoS: byte(o.QoS), SharedGroup: o.SharedGroup, MaxInFlight: o.MaxInflight,
	}
}

// BrokerConfig is the embedded broker's part of the section; the caller
// adds the logger.
func (o Options) BrokerConfig() BrokerConfig {
	return BrokerConfig{Listen: o.EmbeddedListen, Username: o.Username, Password: o.Password, MaxInFlight: o.MaxInflight}
}

func hasScheme(s string, schemes ...string) bool {
	for _, p := range schemes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

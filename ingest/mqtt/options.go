package mqtt

import (
	"crypto/tls"
	"fmt"
	"strings"

	"github.com/caretaker-iot/caretaker/devices"
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
	// Users are the embedded broker's client credentials and rights
	// (docs/security.md).
	Users []User `yaml:"users"`
	// Bounds of the embedded broker.
	MaxPacketSize    int `yaml:"max_packet_size"`
	MaxRetained      int `yaml:"max_retained"`
	MaxRetainedBytes int `yaml:"max_retained_bytes"`
	// ClusterKey signs the events instances relay to each other over
	// caretaker/events/ (shared_group); never logged.
	ClusterKey string `yaml:"cluster_key"`
	// Anonymous lets the embedded broker take clients without
	// credentials: set by caretaker demo only, never by a file.
	Anonymous bool `yaml:"-"`
}

// TLSOptions: the CA that signs the external broker's certificate; the
// certificate and key the embedded broker's listener serves.
type TLSOptions struct {
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// MinClusterKey is the shortest cluster_key taken, in bytes.
const MinClusterKey = 16

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
	if o.MaxPacketSize == 0 {
		o.MaxPacketSize = DefaultMaxPacketSize
	}
	if o.MaxRetained == 0 {
		o.MaxRetained = DefaultMaxRetained
	}
	if o.MaxRetainedBytes == 0 {
		o.MaxRetainedBytes = DefaultMaxRetainedBytes
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
	case o.MaxPacketSize < 64:
		return config.Errorf("max_packet_size", "%d must be at least 64 bytes", o.MaxPacketSize)
	case o.MaxRetained < 1:
		return config.Errorf("max_retained", "%d must be at least 1", o.MaxRetained)
	case o.MaxRetainedBytes < 1 || o.MaxRetainedBytes > o.MaxPacketSize:
		return config.Errorf("max_retained_bytes", "%d must be from 1 to max_packet_size (%d)", o.MaxRetainedBytes, o.MaxPacketSize)
	case o.SharedGroup != "" && len(o.ClusterKey) < MinClusterKey:
		return config.Errorf("cluster_key", "instances sharing the device traffic (shared_group) sign the events they relay: set a random key of at least %d bytes, the same on every instance", MinClusterKey)
	case o.ClusterKey != "" && len(o.ClusterKey) < MinClusterKey:
		return config.Errorf("cluster_key", "must be at least %d bytes", MinClusterKey)
	}
	if err := o.validateBroker(); err != nil {
		return err
	}
	return nil
}

// validateBroker checks the embedded broker's keys: its users, its TLS
// certificate; and that they are not set for an external broker.
func (o Options) validateBroker() error {
	if !o.Embedded {
		switch {
		case len(o.Users) > 0:
			return config.Errorf("users", "only the embedded broker takes users; give an external broker its own (deploy/mosquitto, docs/security.md)")
		case o.TLS.CertFile != "" || o.TLS.KeyFile != "":
			return config.Errorf("tls.cert_file", "only the embedded broker's listener serves a certificate; tls.ca_file is the external broker's CA")
		}
		return nil
	}
	if o.Username != "" && o.Password == "" {
		return config.Errorf("password", "missing beside username: the embedded broker would let in anyone giving that username")
	}
	if len(o.Users) == 0 && o.Username == "" && !o.Anonymous {
		return config.Errorf("users", "the embedded broker lets no client in without credentials: give devices theirs under mqtt.users (caretaker hash-password makes the hashes)")
	}
	seen := map[string]bool{o.Username: o.Username != ""}
	for i, u := range o.Users {
		at := func(k string) string { return fmt.Sprintf("users[%d].%s", i, k) }
		switch {
		case u.Username == "":
			return config.Errorf(at("username"), "missing")
		case seen[u.Username]:
			return config.Errorf(at("username"), "%q is given twice (mqtt.username counts)", u.Username)
		}
		seen[u.Username] = true
		if _, err := parseHash(u.PasswordHash); err != nil {
			return config.Errorf(at("password_hash"), "%v", err)
		}
		for j, d := range u.Devices {
			if !devices.ValidID(d) {
				return config.Errorf(fmt.Sprintf("users[%d].devices[%d]", i, j), "%q is not a device id (1-64 letters, digits, '.', '_' or '-')", d)
			}
		}
		if len(u.Devices) == 0 && !u.Admin && !devices.ValidID(u.Username) {
			return config.Errorf(at("devices"), "missing, and the username %q is not a device id to stand for one", u.Username)
		}
	}
	switch {
	case (o.TLS.CertFile == "") != (o.TLS.KeyFile == ""):
		if o.TLS.CertFile == "" {
			return config.Errorf("tls.cert_file", "missing beside tls.key_file")
		}
		return config.Errorf("tls.key_file", "missing beside tls.cert_file")
	case o.TLS.CertFile != "":
		if _, err := tls.LoadX509KeyPair(o.TLS.CertFile, o.TLS.KeyFile); err != nil {
			return config.Errorf("tls.cert_file", "%v", err)
		}
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
	return BrokerConfig{Listen: o.EmbeddedListen, Username: o.Username, Password: o.Password, MaxInFlight: o.MaxInflight,
		Users: o.Users, Anonymous: o.Anonymous, MaxPacketSize: o.MaxPacketSize, MaxRetained: o.MaxRetained,
		MaxRetainedBytes: o.MaxRetainedBytes, CertFile: o.TLS.CertFile, KeyFile: o.TLS.KeyFile}
}

func hasScheme(s string, schemes ...string) bool {
	for _, p := range schemes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

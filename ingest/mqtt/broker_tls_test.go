package mqtt_test

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/ingest/mqtt"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// TestEmbeddedBrokerTLS: with a certificate and key the embedded broker's
// listener speaks TLS only: a device trusting the CA connects over ssl://
// and its reading goes through; a plain-text client gets no session, and
// one that does not trust the certificate neither.
func TestEmbeddedBrokerTLS(t *testing.T) {
	ca, cert, key := testserver.TestCertificates(t, t.TempDir(), "127.0.0.1")
	s := startSecured(t, mqtt.BrokerConfig{CertFile: cert, KeyFile: key, Users: []mqtt.User{user(t, "gas-b2-07", false)}})
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	connect := func(url string, tc *tls.Config) (paho.Client, error) {
		o := paho.NewClientOptions().AddBroker(url).SetClientID("gas-b2-07").SetUsername("gas-b2-07").SetPassword("pw-gas-b2-07").
			SetAutoReconnect(false).SetProtocolVersion(4).SetConnectTimeout(3 * time.Second)
		if tc != nil {
			o.SetTLSConfig(tc)
		}
		c := paho.NewClient(o)
		tok := c.Connect()
		if !tok.WaitTimeout(10 * time.Second) {
			t.Fatalf("connect %s: no answer", url)
		}
		return c, tok.Error()
	}
	if c, err := connect("tcp://"+s.b.Addr(), nil); err == nil {
		c.Disconnect(0)
		t.Fatal("a plain-text client connected to the TLS listener")
	}
	if c, err := connect("ssl://"+s.b.Addr(), &tls.Config{MinVersion: tls.VersionTLS12}); err == nil {
		c.Disconnect(0)
		t.Fatal("a client not trusting the test CA connected")
	}
	dev, err := connect("ssl://"+s.b.Addr(), &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS connect: %v", err)
	}
	defer dev.Disconnect(100)
	ingesttest.Publish(t, dev, "sites/s1/devices/gas-b2-07/telemetry", `{"metrics": {"lel_pct": 2}}`)
	if r := s.sink.Wait(t, 1)[0]; r.Device != "gas-b2-07" {
		t.Fatalf("reading %+v", r)
	}
}

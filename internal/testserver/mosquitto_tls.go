package testserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// MosquittoOptions turns on what a production broker has: a TLS listener
// with a certificate from a test CA, and password authentication.
type MosquittoOptions struct {
	TLS      bool   // listen with TLS; the CA is in Broker.CAFile
	Username string // set: anonymous clients are refused
	Password string
	// PasswordFile (mosquitto's password_file) and ACLFile (acl_file),
	// set: anonymous clients are refused and these files decide.
	PasswordFile, ACLFile string
	// Extra lines appended to mosquitto.conf.
	Extra string
}

// Broker is a mosquitto started with options.
type Broker struct {
	*Process
	CAFile string // PEM of the CA that signed the broker's certificate (TLS only)
	URL    string // tcp://127.0.0.1:PORT or ssl://127.0.0.1:PORT
}

// MosquittoWith starts mosquitto like Mosquitto, with TLS and passwords as
// asked. The CA and the server certificate are made for the test with
// crypto/x509 and live in a temporary folder.
func MosquittoWith(t testing.TB, o MosquittoOptions) *Broker {
	t.Helper()
	bin := Binary(t, "mosquitto")
	dir := t.TempDir()
	port := FreePort(t)
	b := &Broker{URL: fmt.Sprintf("tcp://127.0.0.1:%d", port)}
	conf := fmt.Sprintf("listener %d 127.0.0.1\n%s\npersistence true\npersistence_location %s/\n"+
		"max_queued_messages 1000000\nmax_inflight_messages 1000\nlog_dest stdout\nlog_type error\nlog_type warning\n",
		port, userLine(), dir)
	if o.TLS {
		ca, cert, key := TestCertificates(t, dir, "127.0.0.1")
		b.CAFile = ca
		b.URL = fmt.Sprintf("ssl://127.0.0.1:%d", port)
		conf += fmt.Sprintf("cafile %s\ncertfile %s\nkeyfile %s\ntls_version tlsv1.2\n", ca, cert, key)
	}
	if o.PasswordFile != "" || o.ACLFile != "" {
		conf += "allow_anonymous false\n"
		if o.PasswordFile != "" {
			conf += fmt.Sprintf("password_file %s\n", o.PasswordFile)
		}
		if o.ACLFile != "" {
			conf += fmt.Sprintf("acl_file %s\n", o.ACLFile)
		}
	} else if o.Username != "" {
		pw := filepath.Join(dir, "passwd")
		if out, err := exec.Command(Binary(t, "mosquitto_passwd"), "-c", "-b", pw, o.Username, o.Password).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v: %s", err, out)
		}
		conf += fmt.Sprintf("allow_anonymous false\npassword_file %s\n", pw)
	} else {
		conf += "allow_anonymous true\n"
	}
	conf += o.Extra
	cf := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b.Process = start(t, "mosquitto", fmt.Sprintf("127.0.0.1:%d", port), bin, "-c", cf)
	waitTCP(t, b.Process, 10*time.Second)
	return b
}

// TestCertificates writes a self-signed CA and a server certificate for
// host (an IP or a name) signed by it into dir and returns the three PEM
// files: CA certificate, server certificate, server key.
func TestCertificates(t testing.TB, dir, host string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "caretaker test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	for path, blk := range map[string]*pem.Block{
		caFile: {Type: "CERTIFICATE", Bytes: caDER}, certFile: {Type: "CERTIFICATE", Bytes: der},
		keyFile: {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(blk), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return caFile, certFile, keyFile
}

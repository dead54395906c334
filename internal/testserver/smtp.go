package testserver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testkit"
)

// SMTPTLS is how the test SMTP server speaks TLS.
type SMTPTLS int

// SMTP server TLS modes.
const (
	SMTPPlain    SMTPTLS = iota // no TLS
	SMTPStartTLS                // STARTTLS offered and required before MAIL
	SMTPImplicit                // TLS from the first byte (SMTPS)
)

// SMTPServer is Debian's python3-aiosmtpd storing what it receives in a
// Maildir.
type SMTPServer struct {
	*Process
	Dir    string // the Maildir
	CAFile string // PEM of the CA that signed the server's certificate (TLS modes)
}

// SMTP starts `python3 -m aiosmtpd` with the Mailbox handler on a free
// loopback port and waits until it accepts connections.
func SMTP(t testing.TB, mode SMTPTLS) *SMTPServer {
	t.Helper()
	py := aiosmtpdPython(t)
	dir := t.TempDir()
	box := filepath.Join(dir, "maildir")
	port := FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := []string{py, "-m", "aiosmtpd", "-n", "-l", addr, "-c", "aiosmtpd.handlers.Mailbox"}
	s := &SMTPServer{Dir: box}
	if mode != SMTPPlain {
		ca, cert, key := TestCertificates(t, dir, "127.0.0.1")
		s.CAFile = ca
		if mode == SMTPStartTLS {
			args = append(args, "--tlscert", cert, "--tlskey", key)
		} else {
			args = append(args, "--smtpscert", cert, "--smtpskey", key)
		}
	}
	args = append(args, box)
	s.Process = start(t, "aiosmtpd", addr, args...)
	waitTCP(t, s.Process, 15*time.Second)
	return s
}

// SMTPLogin starts aiosmtpd with STARTTLS required and AUTH (PLAIN,
// LOGIN) required after it: only user and password are accepted. The CLI
// has no AUTH option, so a short script runs aiosmtpd's Controller.
func SMTPLogin(t testing.TB, user, password string) *SMTPServer {
	t.Helper()
	py := aiosmtpdPython(t)
	dir := t.TempDir()
	box := filepath.Join(dir, "maildir")
	port := FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ca, cert, key := TestCertificates(t, dir, "127.0.0.1")
	script := filepath.Join(dir, "smtp_login.py")
	if err := os.WriteFile(script, []byte(smtpLoginScript), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := filepath.Join(dir, "creds")
	if err := os.WriteFile(creds, []byte(user+"\n"+password), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &SMTPServer{Dir: box, CAFile: ca}
	s.Process = start(t, "aiosmtpd-login", addr, py, script, strconv.Itoa(port), cert, key, creds, box)
	waitTCP(t, s.Process, 15*time.Second)
	return s
}

const smtpLoginScript = `
import ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, creds, box = sys.argv[1:6]
user, password = open(creds, "rb").read().split(b"\n", 1)

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == user and auth_data.password == password
    return AuthResult(success=ok, handled=False)

ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
c = Controller(Mailbox(box), hostname="127.0.0.1", port=int(port), tls_context=ctx, require_starttls=True,
               auth_required=True, auth_require_tls=True, authenticator=authenticator)
c.start()
print("smtp listening", port, flush=True)
while True:
    time.sleep(3600)
`

// Messages returns the raw messages delivered so far, oldest first.
func (s *SMTPServer) Messages(t testing.TB) [][]byte {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(s.Dir, "new"))
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		t.Fatalf("read maildir: %v", err)
	}
	type msg struct {
		mod  time.Time
		name string
		raw  []byte
	}
	var ms []msg
	for _, e := range entries {
		p := filepath.Join(s.Dir, "new", e.Name())
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
		info, _ := e.Info()
		ms = append(ms, msg{mod: info.ModTime(), name: e.Name(), raw: raw})
	}
	sort.Slice(ms, func(i, j int) bool {
		if !ms[i].mod.Equal(ms[j].mod) {
			return ms[i].mod.Before(ms[j].mod)
		}
		return ms[i].name < ms[j].name
	})
	out := make([][]byte, len(ms))
	for i, m := range ms {
		out[i] = m.raw
	}
	return out
}

// WaitMessages polls the Maildir until it holds n messages and returns
// them, failing the test after d.
func (s *SMTPServer) WaitMessages(t testing.TB, n int, d time.Duration) [][]byte {
	t.Helper()
	var got [][]byte
	testkit.Eventually(t, d, fmt.Sprintf("%d messages in %s", n, s.Dir), func() bool {
		got = s.Messages(t)
		return len(got) >= n
	})
	return got
}

// aiosmtpdPython finds a Python that can import aiosmtpd: Debian's own
// /usr/bin/python3 first (a pyenv python3 earlier on PATH does not see
// Debian's packages).
func aiosmtpdPython(t testing.TB) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		path, err := exec.LookPath(py)
		if err != nil {
			continue
		}
		if exec.Command(path, "-c", "import aiosmtpd.handlers").Run() == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("python3-aiosmtpd not installed: the test script must install it")
	}
	t.Skipf("python3-aiosmtpd not installed; run ./scripts/test to install it")
	return ""
}

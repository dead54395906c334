package testserver

import (
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testkit"
)

// TestProcessExited: a server that dies by itself is seen as ended (so a
// wait for it to listen fails at once, with its output); one running is
// not, until it is stopped; Start after Stop watches the new process.
func TestProcessExited(t *testing.T) {
	dead := start(t, "dies", "127.0.0.1:1", "sh", "-c", "echo port taken; exit 3")
	testkit.Eventually(t, 10*time.Second, "the dead server seen as ended", dead.Exited)
	testkit.Eventually(t, 10*time.Second, "its output kept", func() bool { return dead.Output() == "port taken\n" })

	alive := start(t, "sleeps", "127.0.0.1:1", "sleep", "60")
	if alive.Exited() {
		t.Fatal("a running server seen as ended")
	}
	alive.Stop()
	if !alive.Exited() {
		t.Fatal("a stopped server not seen as ended")
	}
	if err := alive.Start(); err != nil {
		t.Fatal(err)
	}
	if alive.Exited() {
		t.Fatal("the server started again seen as ended")
	}
}

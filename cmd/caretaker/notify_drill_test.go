package main

import (
	"fmt"
	"net"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// Paging drill: pages queued while the receiver is down survive a
// SIGKILL of caretaker and are delivered after the restart, once each,
// with the ids they had before.
//
//	+0      an L1 gas reading over a real mosquitto; the receiver's port is
//	        closed, so both pages (tech1, desk) fail and stay queued
//	kill    SIGKILL of the caretaker binary
//	restart caretaker again; the receiver comes up on its port
//	end     each page delivered exactly once, with its delivery id from
//	        before the kill; the pending gauge back to 0
func TestDrillPagesSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the drill builds the binary and runs it twice")
	}
	broker := testserver.Mosquitto(t)
	bin := testkit.CaretakerBinary(t)
	hookAddr := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
	ct := newCaretakerDir(t, func(httpAddr, dir string) string {
		return pagingConfig(httpAddr, broker.Addr, "caretaker-page-drill", dir, "http://"+hookAddr)
	})
	proc := ct.startProcess(t, bin)
	base := ct.Base

	publishGasL1(t, broker.Addr)
	tk := waitOneTicket(t, base, "the L1 ticket")
	var before []apiNotification
	waitFor(t, 15*time.Second, "both pages tried and queued", func() bool {
		before = ticketNotifications(t, base, tk.ID)
		if len(before) != 2 {
			return false
		}
		for _, n := range before {
			if n.State != "queued" || n.Attempts < 1 {
				return false
			}
		}
		return true
	})
	if p := drillScrape(t, base, "caretaker_notifications_pending"); p != 2 {
		t.Fatalf("pending gauge = %v before the kill, want 2", p)
	}

	proc.Kill()
	proc.Start()
	proc.WaitReady(base, 30*time.Second)

	recv := &hookReceiver{}
	hook := httptest.NewUnstartedServer(recv)
	ln, err := net.Listen("tcp", hookAddr)
	if err != nil {
		t.Fatalf("receiver on %s: %v", hookAddr, err)
	}
	hook.Listener.Close()
	hook.Listener = ln
	hook.Start()
	defer hook.Close()

	after := waitPagesSent(t, base, tk.ID, 2, "both pages sent after the restart")
	ids := func(ns []apiNotification) []string {
		var out []string
		for _, n := range ns {
			out = append(out, n.ID)
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(ids(before), ids(after)) {
		t.Fatalf("ids before the kill %v, after %v", ids(before), ids(after))
	}
	d := delivered(recv.snapshot())
	for _, id := range ids(before) {
		if d[id] != 1 {
			t.Errorf("page %s delivered %d times, want once (all: %v)", id, d[id], d)
		}
	}
	if len(d) != 2 {
		t.Errorf("delivered ids %v, want the 2 pages only", d)
	}
	for _, c := range recv.snapshot() {
		if !c.ValidSig {
			t.Errorf("page %s: bad signature", c.ID)
		}
	}
	if p := drillScrape(t, base, "caretaker_notifications_pending"); p != 0 {
		t.Errorf("pending gauge = %v after delivery, want 0", p)
	}
	if n := drillScrape(t, base, `caretaker_notifications_total{channel="hook",result="sent"}`); n != 2 {
		t.Errorf("sent counter = %v, want 2", n)
	}
}

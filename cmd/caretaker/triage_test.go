package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testserver"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// TestUntriagedAlarmPagesTheSupervisor, on a real mosquitto, a real
// caretaker process and a real webhook receiver, as a timeline:
//
//	+0s  gas-t1-01 reads 12 %LEL: an L2 alarm, queued for triage, no ticket
//	+2s  triage.timeout passes with nobody looking
//	     within the clock's tick: escalated (escalated_at), and sup1 (the
//	     supervisor) paged through the L2 policy's channel, signed, naming
//	     the alarm, without an ack link (there is no ticket to acknowledge)
//	then an operator makes it a ticket: the L2 ticket with the alarm on it.
func TestUntriagedAlarmPagesTheSupervisor(t *testing.T) {
	broker := testserver.Mosquitto(t)
	recv := &hookReceiver{}
	hookURL := receiverURL(t, recv)
	ct, _ := serveConfig(t, func(httpAddr, dir string) string {
		return fmt.Sprintf(`http: {listen: "%s"}
mqtt: {broker: "tcp://%s", client_id: caretaker-triage, qos: 1}
store: {path: "%[3]s/caretaker.db", readings_path: "%[3]s/readings.db", photos_dir: "%[3]s/photos"}
influx: {spool_dir: "%[3]s/spool"}
auth:
  tokens:
    - {name: ops1, role: operator, token: %[4]s}
triage: {timeout: 2s}
devices:
  - {id: gas-t1-01, kind: gas, site: s1, building: T1, location: "T1 laundry"}
people:
  - {name: sup1, email: "sup1@example.com", roles: [supervisor], lang: en}
channels:
  - {name: hook, type: webhook, url: "%[5]s/hook", secret: "%[6]s", timeout: 2s}
notify:
  ack_secret: "an-ack-secret-of-at-least-32-characters!"
  retry_min: 100ms
  retry_max: 300ms
  policies:
    - level: 2
      steps:
        - {after: 0s, to: [control_room], via: [hook]}
`, httpAddr, broker.Addr, dir, operatorToken, hookURL, hookSecret)
	})
	base := ct.Base

	publish(t, broker.Addr, "sites/s1/devices/gas-t1-01/telemetry",
		fmt.Sprintf(`{"ts": %d, "metrics": {"lel_pct": 12, "co_ppm": 3, "fault": false}}`, time.Now().UnixMilli()))
	type queue struct {
		Alarms []ticketing.TriageItem `json:"alarms"`
	}
	var q queue
	waitFor(t, 15*time.Second, "the L2 alarm in the triage queue", func() bool {
		getJSON(t, base+"/api/triage", operatorToken, &q)
		return len(q.Alarms) == 1
	})
	it := q.Alarms[0]
	if it.Alarm.RuleID != "gas-lel-warning" || it.Alarm.Level != 2 || it.State != ticketing.TriageQueued {
		t.Fatalf("queued %+v", it)
	}
	if got := it.DueAt.Sub(it.QueuedAt); got != 2*time.Second {
		t.Errorf("triage clock of %s, want triage.timeout 2s", got)
	}
	var list struct{ Tickets []ticketing.Ticket }
	getJSON(t, base+"/api/tickets", operatorToken, &list)
	if len(list.Tickets) != 0 {
		t.Fatalf("the L2 alarm opened tickets by itself: %+v", list.Tickets)
	}

	// Nobody triages it: escalated, and the supervisor paged.
	var calls []hookCall
	waitFor(t, 20*time.Second, "the supervisor's page", func() bool {
		calls = recv.snapshot()
		return len(calls) > 0
	})
	c := calls[0]
	if c.Body.Recipient.Name != "sup1" || !c.ValidSig || c.Answer != 200 {
		t.Errorf("page %+v (signature valid %v), want sup1's, signed, taken", c.Body, c.ValidSig)
	}
	if c.Body.Alarm == nil || c.Body.Alarm.ID != it.Alarm.ID || !strings.Contains(c.Body.Alarm.Observation, "gas-t1-01") || c.Body.Ticket.Level != 2 {
		t.Errorf("page body %+v, want the alarm %s at L2", c.Body, it.Alarm.ID)
	}
	if c.Body.AckURL != "" {
		t.Errorf("page carries ack_url %q: there is no ticket to acknowledge", c.Body.AckURL)
	}
	getJSON(t, base+"/api/triage", operatorToken, &q)
	if len(q.Alarms) != 1 || q.Alarms[0].EscalatedAt == nil || q.Alarms[0].State != ticketing.TriageQueued {
		t.Fatalf("after the triage clock: %+v, want it still queued, escalated", q.Alarms)
	}
	if n := len(recv.snapshot()); n != 1 {
		t.Errorf("%d pages, want the one", n)
	}

	// The operator makes it a ticket.
	resp := postJSON(t, base+"/api/triage/"+it.Alarm.ID+"/ticket", operatorToken, "")
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("make a ticket: %s", resp.Status)
	}
	tk := waitOneTicket(t, base, "the ticket made from triage")
	if tk.Level != 2 || tk.AlarmID != it.Alarm.ID || tk.DeviceID != "gas-t1-01" {
		t.Errorf("ticket %+v", tk)
	}
	getJSON(t, base+"/api/triage", operatorToken, &q)
	if len(q.Alarms) != 0 {
		t.Errorf("still queued: %+v", q.Alarms)
	}
}

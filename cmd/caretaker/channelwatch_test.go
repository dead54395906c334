package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// TestFailingChannelRaisesOneSystemAlarm: a real caretaker pages through
// a webhook on a real receiver that refuses everything (503). After
// notify.channel_alarm_after (3) failed attempts in a row, the control
// room hears notify:hook offline, once, however many more attempts fail;
// it is counted. The receiver comes back: the page goes through and
// notify:hook is online again.
func TestFailingChannelRaisesOneSystemAlarm(t *testing.T) {
	broker := testserver.Mosquitto(t)
	recv := &hookReceiver{}
	recv.setDown(true)
	hookURL := receiverURL(t, recv)
	ct, _ := serveConfig(t, func(httpAddr, dir string) string {
		return pagingConfig(httpAddr, broker.Addr, "caretaker-chanwatch", dir, hookURL)
	})
	base, httpAddr := ct.Base, ct.Addr
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+httpAddr+"/ws?token="+operatorToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	events := readEvents(t, ws)
	waitEvent(t, events, "snapshot", 5*time.Second)

	publishGasL1(t, broker.Addr)

	type status struct {
		Device string `json:"device_id"`
		Online bool   `json:"online"`
		Reason string `json:"reason"`
	}
	var statuses []status
	waitStatus := func(online bool) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatal("websocket closed")
				}
				if ev.Type != "device.status" {
					continue
				}
				var st status
				_ = json.Unmarshal(ev.Data, &st)
				if !strings.HasPrefix(st.Device, ChannelStatusPrefix) {
					continue
				}
				statuses = append(statuses, st)
				if st.Online == online {
					return
				}
			case <-deadline:
				t.Fatalf("no %s online=%v (saw %+v)", ChannelStatusPrefix+"hook", online, statuses)
			}
		}
	}
	waitStatus(false)
	if len(statuses) != 1 || statuses[0].Device != "notify:hook" || !strings.Contains(statuses[0].Reason, "3 attempts in a row failed") ||
		!strings.Contains(statuses[0].Reason, "503") {
		t.Fatalf("statuses %+v, want notify:hook offline after 3 failed attempts", statuses)
	}
	// More attempts fail: still one alarm.
	waitFor(t, 20*time.Second, "more failed attempts", func() bool {
		return len(recv.snapshot()) >= 8
	})
	if n := drillScrape(t, base, `caretaker_notification_channel_alarms_total{channel="hook"}`); n != 1 {
		t.Errorf("channel alarms counted %v, want 1", n)
	}
	if n := drillScrape(t, base, "caretaker_notification_channels_failing"); n != 1 {
		t.Errorf("channels failing %v, want 1", n)
	}
	recv.setDown(false)
	waitStatus(true)
	if len(statuses) != 2 || statuses[1].Device != "notify:hook" {
		t.Fatalf("statuses %+v, want one offline then online", statuses)
	}
	if n := drillScrape(t, base, "caretaker_notification_channels_failing"); n != 0 {
		t.Errorf("channels failing %v after recovery, want 0", n)
	}
}

package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/internal/testkit"
)

// memBus is an in-memory broker: every subscriber hears every message,
// its publisher included, as on MQTT.
type memBus struct {
	mu   sync.Mutex
	subs []func(topic string, payload []byte)
	sent []string
}

func (b *memBus) Publish(_ context.Context, topic string, payload []byte) error {
	b.mu.Lock()
	subs := append([]func(string, []byte){}, b.subs...)
	b.sent = append(b.sent, topic)
	b.mu.Unlock()
	for _, s := range subs {
		s(topic, payload)
	}
	return nil
}

func (b *memBus) Subscribe(_ context.Context, filter string, handle func(string, []byte)) error {
	if filter != EventTopicPrefix+"#" {
		panic("unexpected filter " + filter)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs = append(b.subs, handle)
	return nil
}

func (b *memBus) topics() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.sent...)
}

func (b *memBus) subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Two instances on one bus: an alarm raised on A shows on B's screens
// once; A's own screens see it once too (its echo is skipped); readings
// stay local; B numbers the event in its own sequence.
func TestRelayTwoInstancesShowTheSameEvents(t *testing.T) {
	bus := &memBus{}
	a, b := newEstate(t, HubConfig{}), newEstate(t, HubConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for i, e := range []*estate{a, b} {
		r, err := NewRelay(RelayConfig{Hub: e.hub, Bus: bus, Instance: []string{"a", "b"}[i], Receive: true, Key: testClusterKey})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = r.Run(ctx) }()
	}
	testkit.Eventually(t, 10*time.Second, "both relays subscribed", func() bool { return bus.subscribers() == 2 })

	notify(b.hub, "alarm.acked", map[string]any{"id": "x", "site": "s1"}) // B's seq is ahead of A's
	// A hears it through the bus in its own time: wait for it, so that it
	// is in A's snapshot replay window and not the next message on A's screen.
	testkit.Eventually(t, 10*time.Second, "B's first event relayed to A", func() bool { return a.hub.Seq() == 1 })
	onA, onB := a.mustDial(t, ""), b.mustDial(t, "")
	if m := next(t, onA); m.Type != EventSnapshot {
		t.Fatalf("A first message %q", m.Type)
	}
	if m := next(t, onB); m.Type != EventSnapshot {
		t.Fatalf("B first message %q", m.Type)
	}
	bSeq := b.hub.Seq()

	notify(a.hub, "alarm.raised", map[string]any{"id": "gas-lel-critical:gas-b2-07:1", "site": "s1", "device_id": "gas-b2-07", "level": 1})
	notify(a.hub, EventReading, map[string]any{"device_id": "gas-b2-07", "site": "s1"})
	notify(a.hub, "ticket.created", map[string]any{"id": 7, "site": "s1"})

	for _, c := range []struct {
		name    string
		conn    func() Message
		firstSq uint64
	}{
		{"A", func() Message { return next(t, onA) }, 0},
		{"B", func() Message { return next(t, onB) }, bSeq + 1},
	} {
		m1, m2 := c.conn(), c.conn()
		if m1.Type != "alarm.raised" || !strings.Contains(string(m1.Data), "gas-b2-07:1") || m2.Type != "ticket.created" {
			t.Fatalf("%s saw %s %s then %s", c.name, m1.Type, m1.Data, m2.Type)
		}
		if c.firstSq != 0 && (m1.Seq != c.firstSq || m2.Seq != c.firstSq+1) {
			t.Fatalf("%s numbered them %d, %d; want %d, %d", c.name, m1.Seq, m2.Seq, c.firstSq, c.firstSq+1)
		}
	}
	// Nothing more: a sentinel from B is the next message on both.
	notify(b.hub, "device.status", map[string]any{"device_id": "sentinel", "site": "s1"})
	for name, conn := range map[string]func() Message{"A": func() Message { return next(t, onA) }, "B": func() Message { return next(t, onB) }} {
		if m := conn(); m.Type != "device.status" || !strings.Contains(string(m.Data), "sentinel") {
			t.Fatalf("%s: after the relayed events came %s %s, want the sentinel", name, m.Type, m.Data)
		}
	}
	for _, topic := range bus.topics() {
		if !strings.HasPrefix(topic, EventTopicPrefix) || strings.HasSuffix(topic, "/"+EventReading) {
			t.Fatalf("published on %q", topic)
		}
	}
}

// Foreign or malformed messages on the bus are ignored, never a panic.
func TestRelayIgnoresWhatIsNotAnotherInstancesEvent(t *testing.T) {
	e := newEstate(t, HubConfig{})
	r, err := NewRelay(RelayConfig{Hub: e.hub, Bus: &memBus{}, Instance: "me", Receive: true, Key: testClusterKey})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ topic, payload string }{
		{"caretaker/events/alarm.raised", `not json`},
		{"caretaker/events/alarm.raised", `{"type":"alarm.raised","data":{"id":"1"}}`},                      // no instance
		{"caretaker/events/alarm.raised", `{"type":"alarm.raised","data":{"id":"1"},"instance":"me"}`},      // our own
		{"caretaker/events/snapshot", `{"type":"snapshot","data":{},"instance":"other"}`},                   // not an event
		{"caretaker/events/reading", `{"type":"reading","data":{},"instance":"other"}`},                     // stays local
		{"caretaker/events/ticket.created", `{"type":"alarm.raised","data":{"id":"1"},"instance":"other"}`}, // topic and type disagree
		{"caretaker/events/alarm.raised", `{"type":"alarm.raised","instance":"other"}`},                     // no data
	} {
		r.receive(c.topic, []byte(c.payload))
	}
	if got := e.hub.Seq(); got != 0 {
		t.Fatalf("hub took %d events from the bus, want none", got)
	}
	good := signed(t, testClusterKey, "caretaker/events/alarm.raised", `{"seq":9,"type":"alarm.raised","ts":"2026-11-23T01:00:00Z","data":{"id":"1"},"instance":"other"}`, time.Now())
	r.receive("caretaker/events/alarm.raised", good)
	if got := e.hub.Seq(); got != 1 {
		t.Fatalf("hub seq %d after a good event, want 1", got)
	}
}

var testClusterKey = []byte("cluster-key-0123456789abcdef")

// signed is payload (a BusMessage) as an instance with key sends it on
// topic at now.
func signed(t *testing.T, key []byte, topic, payload string, now time.Time) []byte {
	t.Helper()
	var m BusMessage
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		t.Fatal(err)
	}
	b, err := sign(key, topic, m, now)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRelayDropsForgedEvents: with a cluster key, an event is shown only
// when it verifies: unsigned, signed under another key, altered after
// signing, moved to another topic, sent too long ago or replayed, it is
// dropped and counted by reason; a well-signed one is shown once.
func TestRelayDropsForgedEvents(t *testing.T) {
	e := newEstate(t, HubConfig{})
	reg := prometheus.NewRegistry()
	now := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
	r, err := NewRelay(RelayConfig{Hub: e.hub, Bus: &memBus{}, Instance: "me", Receive: true, Key: testClusterKey,
		Now: func() time.Time { return now }, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	const topic = "caretaker/events/alarm.raised"
	const ev = `{"type":"alarm.raised","ts":"2026-11-23T01:00:00Z","data":{"id":"gas-lel-critical:gas-b2-07:1","site":"s1","level":1},"instance":"other"}`
	good := signed(t, testClusterKey, topic, ev, now)
	altered := bytes.Replace(good, []byte(`"level":1`), []byte(`"level":3`), 1)
	for _, c := range []struct {
		name, topic string
		payload     []byte
		reason      string
	}{
		{"unsigned", topic, []byte(ev), RelayRejectedSignature},
		{"another key", topic, signed(t, []byte("not-the-cluster-key-0123"), topic, ev, now), RelayRejectedSignature},
		{"altered", topic, altered, RelayRejectedSignature},
		{"another topic", "caretaker/events/alarm.cleared", signed(t, testClusterKey, topic, strings.Replace(ev, "alarm.raised", "alarm.cleared", 1), now), RelayRejectedSignature},
		{"stale", topic, signed(t, testClusterKey, topic, ev, now.Add(-10*time.Minute)), RelayRejectedStale},
		{"from the future", topic, signed(t, testClusterKey, topic, ev, now.Add(10*time.Minute)), RelayRejectedStale},
	} {
		r.receive(c.topic, c.payload)
		if got := e.hub.Seq(); got != 0 {
			t.Fatalf("%s: shown (hub seq %d)", c.name, got)
		}
	}
	r.receive(topic, good)
	r.receive(topic, good) // captured and sent again
	if got := e.hub.Seq(); got != 1 {
		t.Fatalf("hub seq %d after a good event and its replay, want 1", got)
	}
	m := testkit.Gather(t, reg)
	for reason, want := range map[string]float64{RelayRejectedSignature: 4, RelayRejectedStale: 2, RelayRejectedReplay: 1} {
		if got := m.Sum(`caretaker_events_relay_rejected_total{reason="` + reason + `"}`); got != want {
			t.Errorf("rejected{%s} = %v, want %v", reason, got, want)
		}
	}
}

func TestNewRelayReceivingNeedsAKey(t *testing.T) {
	if _, err := NewRelay(RelayConfig{Hub: NewHub(HubConfig{}), Bus: &memBus{}, Receive: true}); err == nil {
		t.Fatal("a receiving relay without a cluster key")
	}
}

// A full publish queue drops events (counted) instead of slowing the hub.
func TestRelayQueueFullDropsWithoutBlocking(t *testing.T) {
	e := newEstate(t, HubConfig{})
	r, err := NewRelay(RelayConfig{Hub: e.hub, Bus: &memBus{}, Queue: 2})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		for i := 0; i < 10; i++ {
			notify(e.hub, "alarm.updated", map[string]any{"id": "x"})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Notify blocked on the relay")
	}
	if got := len(r.out); got != 2 {
		t.Fatalf("queue holds %d, want 2", got)
	}
}

func TestNewRelayNeedsHubAndBus(t *testing.T) {
	if _, err := NewRelay(RelayConfig{Bus: &memBus{}}); err == nil {
		t.Fatal("no error without a hub")
	}
}

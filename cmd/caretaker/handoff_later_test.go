package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/rules"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// durableAtOnce is a DurableWriter whose writes are durable at once, so
// that what holds an acknowledgement back is the rules' side alone.
type durableAtOnce struct{ ingesttest.Recorder }

func (*durableAtOnce) AfterDurable(done func()) { done() }

// TestAlarmTicketCommitsOffTheReadingsPath: serve's wiring (a pipeline
// whose sink is the fanout with the engine first, the engine handing
// alarms on later, the real SQLite ticket store). While another
// connection holds the ticket store's write lock, the ticket of a
// raised alarm cannot commit: the readings behind it are still evaluated
// (another device's alarm is raised and cleared meanwhile) and one that
// changed no alarm is acknowledged, but the reading that raised it is
// not. Once the lock goes, each alarm has
// exactly one ticket, every reading is acknowledged, and the alarm
// raised then cleared reached the store in that order (cleared).
func TestAlarmTicketCommitsOffTheReadingsPath(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path := filepath.Join(t.TempDir(), "caretaker.db")
	// The commit waits for the lock as long as the test holds it.
	tickets, err := ticketing.Open(ctx, ticketing.Config{Path: path, BusyTimeout: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer tickets.Close()

	reg, err := devices.NewRegistry(devices.Catalog{Devices: []devices.Device{
		{ID: "leak-1", Kind: devices.KindWaterLeak, Site: "s1", Building: "B1"},
		{ID: "leak-2", Kind: devices.KindWaterLeak, Site: "s1", Building: "B1"},
		{ID: "leak-3", Kind: devices.KindWaterLeak, Site: "s1", Building: "B1"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := rules.NewEngine(rules.Config{Sink: tickets, Devices: reg, HandOffLater: true,
		Rules: []rules.Rule{{ID: "leak", Kind: devices.KindWaterLeak, Metric: "leak", Severity: rules.Critical,
			Condition: rules.Condition{Op: "is", Value: true}}}})
	if err != nil {
		t.Fatal(err)
	}
	pipeline := ingest.NewPipeline(ingest.PipelineConfig{Registry: reg, Writer: &durableAtOnce{}, Sink: fanout{engine}})
	engineDone, pipeDone := make(chan error, 1), make(chan error, 1)
	go func() { engineDone <- engine.Run(ctx) }()
	go func() { pipeDone <- pipeline.Run(ctx) }()
	release := func() {}
	defer func() {
		release() // a test failing with the store still locked ends too
		cancel()
		<-pipeDone
		<-engineDone
	}()

	t0 := time.Now()
	acks := map[string]ingesttest.DoneFlag{}
	send := func(name, device string, leak bool, at time.Duration) {
		acks[name] = ingesttest.NewDone()
		if err := pipeline.Submit(ctx, ingest.Message{Topic: "sites/s1/devices/" + device + "/telemetry",
			Payload: []byte(fmt.Sprintf(`{"ts": %d, "metrics": {"leak": %t}}`, t0.Add(at).UnixMilli(), leak)),
			Done:    acks[name].Fn()}); err != nil {
			t.Fatal(err)
		}
	}
	activeOn := func(device string) bool {
		for _, a := range engine.Active() {
			if a.Device == device {
				return true
			}
		}
		return false
	}

	var once sync.Once
	unlock := lockStore(t, path)
	release = func() { once.Do(unlock) }
	send("raise 1", "leak-1", true, 0)
	send("dry 3", "leak-3", false, 0)
	send("raise 2", "leak-2", true, time.Millisecond)
	send("clear 2", "leak-2", false, 2*time.Millisecond)
	// The ticket of leak-1's alarm waits for the lock; the readings
	// behind it do not.
	waitFor(t, 30*time.Second, "the readings behind an alarm whose ticket cannot commit still evaluated", func() bool {
		return pipeline.Stats().Received == 4
	})
	if activeOn("leak-2") {
		t.Fatal("leak-2's alarm still active after its clearing reading was evaluated")
	}
	if engine.PendingHandoffs() != 3 {
		t.Fatalf("%d alarm changes waiting for the locked store, want 3 (raise 1, raise 2, clear 2)", engine.PendingHandoffs())
	}
	if acks["raise 1"].Called() {
		t.Fatal("the reading that raised leak-1's alarm was acknowledged before its ticket was stored")
	}
	if !activeOn("leak-1") {
		t.Fatal("leak-1's alarm not active in the engine")
	}
	// A reading that changed no alarm does not wait for the others'.
	acks["dry 3"].Wait(t, "the reading of leak-3, which raised nothing, while leak-1's ticket waits")

	release()
	for name, ack := range acks {
		ack.Wait(t, name)
	}
	waitFor(t, 30*time.Second, "nothing left to hand on", func() bool { return engine.PendingHandoffs() == 0 })
	for _, dev := range []string{"leak-1", "leak-2", "leak-3"} {
		ts, err := tickets.List(ctx, ticketing.Filter{Device: dev})
		if err != nil {
			t.Fatal(err)
		}
		want := 1
		if dev == "leak-3" {
			want = 0
		}
		if len(ts) != want {
			t.Fatalf("%s: %d tickets, want %d", dev, len(ts), want)
		}
	}
	alarms, err := tickets.Alarms(ctx, ticketing.AlarmsAll)
	if err != nil {
		t.Fatal(err)
	}
	state := map[string]rules.AlarmState{}
	for _, a := range alarms {
		state[a.Device] = a.State
	}
	if len(alarms) != 2 || state["leak-1"] != rules.Raised || state["leak-2"] != rules.Cleared {
		t.Fatalf("stored alarms %v: want leak-1 raised, leak-2 raised then cleared", state)
	}
}

// TestQueuedAlarmAfterACrashOneTicket: the rule state is saved while a
// raised alarm is still queued for the ticket store (handed on later),
// then the process dies: before the ticket committed, or after (the
// snapshot then holds a change the store already has). The engine made
// from what was saved, with the active alarms of the store, hands it on
// at its first tick: exactly one ticket either way.
func TestQueuedAlarmAfterACrashOneTicket(t *testing.T) {
	for _, tc := range []struct {
		name      string
		committed bool // the ticket committed after the save, before the crash
	}{
		{name: "crash before the ticket committed"},
		{name: "crash after the ticket committed", committed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "caretaker.db")
			tickets, err := ticketing.Open(ctx, ticketing.Config{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			defer tickets.Close()
			ruleStore, err := rules.OpenStore(ctx, rules.StoreConfig{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			defer ruleStore.Close()
			newEngine := func() *rules.Engine {
				e, err := rules.NewEngine(rules.Config{Sink: tickets, HandOffLater: true,
					Rules: []rules.Rule{{ID: "leak", Kind: devices.KindWaterLeak, Metric: "leak", Severity: rules.Critical,
						Condition: rules.Condition{Op: "is", Value: true}}}})
				if err != nil {
					t.Fatal(err)
				}
				return e
			}

			before := newEngine()
			now := time.Now()
			before.Reading(ctx, devices.Reading{Device: "leak-1", Kind: devices.KindWaterLeak, Site: "s1", Building: "B1",
				Time: now, Received: now, Values: map[string]devices.Value{"leak": devices.FlagValue(true)}})
			if n := before.PendingHandoffs(); n != 1 {
				t.Fatalf("%d alarm changes queued, want 1", n)
			}
			if err := (&rules.Snapshotter{Engine: before, Store: ruleStore}).Save(ctx); err != nil {
				t.Fatal(err)
			}
			if tc.committed {
				before.FlushHandoffs(ctx)
			}
			// The process dies here: before is gone, nothing more saved.

			after := newEngine()
			if _, err := after.RestoreState(ctx, ruleStore); err != nil {
				t.Fatal(err)
			}
			active, err := tickets.Alarms(ctx, ticketing.AlarmsActive)
			if err != nil {
				t.Fatal(err)
			}
			as := make([]rules.Alarm, len(active))
			for i, a := range active {
				as[i] = a.Alarm
			}
			after.Restore(as)
			if n := after.PendingHandoffs(); n != 1 {
				t.Fatalf("after the restart %d alarm changes pending, want the 1 saved", n)
			}
			after.Tick(ctx, time.Now())
			if n := after.PendingHandoffs(); n != 0 {
				t.Fatalf("after a tick %d alarm changes pending, want 0", n)
			}
			ts, err := tickets.List(ctx, ticketing.Filter{Device: "leak-1"})
			if err != nil {
				t.Fatal(err)
			}
			if len(ts) != 1 {
				t.Fatalf("%d tickets, want exactly 1", len(ts))
			}
		})
	}
}

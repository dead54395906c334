package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// Message is one raw MQTT message as it arrived.
type Message struct {
	Topic    string
	Payload  []byte
	Received time.Time
	// Done, if set, is called once when what the message carried is safe,
	// so a gateway can acknowledge it then (QoS 1 PUBACK): a reading or
	// event once the Sink has seen it (and, a SettlingSink, settled it)
	// and the Writer has made it durable (a DurableWriter: committed,
	// written or spooled, or counted lost); a status once the Sink has
	// seen (and settled) it; a rejected message at once. It may
	// be called from any goroutine and must not block for long.
	Done func()
}

// Sink receives validated, registry-enriched data. The rules engine and the
// dashboard sit behind it; cmd/ wires them.
type Sink interface {
	Reading(ctx context.Context, r devices.Reading)
	Event(ctx context.Context, e devices.Event)
	Status(ctx context.Context, s devices.Status)
}

// SettlingSink is a Sink that tells when what it made of the data it was
// given is safe (the rules engine: the alarms the data raised are handed
// on to the tickets, off the goroutine that evaluates). AfterSettled
// calls done, once, when what the Sink made of the message it was handed
// last is settled; at once when nothing of it waits. The pipeline calls
// it from its one goroutine right after handing each message on, and
// acknowledges a message only once both the Writer and the Sink say so.
// It must not block.
type SettlingSink interface {
	AfterSettled(done func())
}

// Writer is the time-series store side: InfluxDB or the embedded store.
type Writer interface {
	WriteReading(ctx context.Context, r devices.Reading) error
	WriteEvent(ctx context.Context, e devices.Event) error
}

// DurableWriter is a Writer that tells when what it was given is safe.
// AfterDurable calls done, once and in a goroutine of its own choosing,
// when everything written before the call has been made durable (or, if
// it never can be, counted lost). It must not block. A writer that holds
// things back for a batch flushes early while anything waits on it.
type DurableWriter interface {
	AfterDurable(done func())
}

// Callbacks runs a DurableWriter's AfterDurable callbacks in goroutines of
// their own, so a gateway acknowledging to its broker never holds up the
// store, and owns them: the writer's Close (or Run's end) waits for those
// still running, so shutdown does not return while an acknowledgement is
// on its way. The zero value is ready to use.
type Callbacks struct {
	mu sync.Mutex // held by Wait, so that no Go starts while it waits
	wg sync.WaitGroup
}

// Go runs fns, in order, in one goroutine of its own.
func (c *Callbacks) Go(fns ...func()) {
	if len(fns) == 0 {
		return
	}
	c.mu.Lock()
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		for _, f := range fns {
			f()
		}
	}()
}

// Wait returns once every callback started so far has returned.
func (c *Callbacks) Wait() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wg.Wait()
}

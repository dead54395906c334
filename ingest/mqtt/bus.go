package mqtt

import (
	"context"
	"errors"
	"fmt"

	paho "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Subscriptions for caretaker's own traffic (caretaker/events/...: the
// events several instances share). Device data never comes this way.

// eventsSubscriptionID names the embedded broker's inline subscription.
const eventsSubscriptionID = 7001

// Subscribe waits until the gateway is connected, then subscribes to
// filter at QoS 0 and calls handle for every message on it. The session is
// persistent (clean session off), so the broker keeps the subscription
// across reconnects and paho keeps the route; filter must not overlap the
// device topics.
func (g *Gateway) Subscribe(ctx context.Context, filter string, handle func(topic string, payload []byte)) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-g.ready:
	}
	g.mu.Lock()
	c := g.client
	g.mu.Unlock()
	if c == nil {
		return errors.New("mqtt subscribe: gateway not running")
	}
	tok := c.Subscribe(filter, 0, func(_ paho.Client, m paho.Message) {
		handle(m.Topic(), m.Payload())
		m.Ack() // acks are manual on this client; QoS 0 has none to send
	})
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("mqtt subscribe %s: %w", filter, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mqtt subscribe %s: %w", filter, ctx.Err())
	}
}

// Subscribe waits until the embedded broker runs, then calls handle for
// every message published on filter, by devices, other clients or
// caretaker itself.
func (b *Broker) Subscribe(ctx context.Context, filter string, handle func(topic string, payload []byte)) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-b.ready:
	}
	b.mu.Lock()
	server := b.server
	b.mu.Unlock()
	if server == nil {
		return errors.New("mqtt broker subscribe: broker not running")
	}
	err := server.Subscribe(filter, eventsSubscriptionID, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
		handle(pk.TopicName, pk.Payload)
	})
	if err != nil {
		return fmt.Errorf("mqtt broker subscribe %s: %w", filter, err)
	}
	return nil
}

package mqtt

import (
	"strings"
	"sync/atomic"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// sessionStore is paho's memory store without the QoS 1 messages
// received. paho keeps each of them (under a lock, in a map) until its
// PUBACK is sent, but never uses it: on a reconnect it discards what it
// kept, and the broker sends again what was not acknowledged. What the
// store is for, the client's own outgoing messages and QoS 2 exchanges,
// is kept as before.
type sessionStore struct {
	*paho.MemoryStore
	inbound atomic.Bool // something received was kept (QoS 2)
}

func newSessionStore() *sessionStore { return &sessionStore{MemoryStore: paho.NewMemoryStore()} }

// inboundPrefix is how paho's keys of received packets begin.
const inboundPrefix = "i."

func (s *sessionStore) Put(key string, m packets.ControlPacket) {
	if strings.HasPrefix(key, inboundPrefix) {
		if p, ok := m.(*packets.PublishPacket); ok && p.Qos == 1 {
			return
		}
		s.inbound.Store(true)
	}
	s.MemoryStore.Put(key, m)
}

func (s *sessionStore) Del(key string) {
	if strings.HasPrefix(key, inboundPrefix) && !s.inbound.Load() {
		return
	}
	s.MemoryStore.Del(key)
}

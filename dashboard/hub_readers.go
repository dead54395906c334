package dashboard

// WantsReadings tells whether a connected client has subscribed to the
// readings of device. Reading events are live samples, neither numbered
// nor kept for replay, so one that no client wants need not be encoded at
// all: LiveState asks before it builds one (at thousands of readings a
// second, encoding them for nobody was a seventh of Caretaker's CPU).
func (h *Hub) WantsReadings(device string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		if c.readings[device] {
			return true
		}
	}
	return false
}

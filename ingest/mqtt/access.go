package mqtt

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"strings"
	"sync"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/internal/ratelog"
)

// User is one credential of the embedded broker (mqtt.users). A device
// user publishes only on its devices' topics
// (sites/{site}/devices/{id}/telemetry, event, status) and subscribes only
// to their command topics (sites/{site}/devices/{id}/cmd); an admin
// subscribes to anything (#, $SYS/#, caretaker/events/#) and publishes
// anywhere but caretaker/events/ (only caretaker itself does).
type User struct {
	Username string `yaml:"username"`
	// PasswordHash is a $7$ hash (PBKDF2-SHA512): `caretaker
	// hash-password` or mosquitto_passwd writes it.
	PasswordHash string `yaml:"password_hash"`
	// Devices are the device ids the user speaks for: one for a device,
	// several for a gateway. Default: the username alone.
	Devices []string `yaml:"devices"`
	Admin   bool     `yaml:"admin"`
}

// CommandChannel is the topic a device subscribes to for what is sent to
// it: sites/{site}/devices/{id}/cmd.
const CommandChannel = "cmd"

// Reasons the embedded broker refuses something; they label
// caretaker_mqtt_refused_total.
const (
	RefusedCredentials    = "credentials"      // no or wrong username or password
	RefusedClientID       = "client_id"        // the client id is another user's
	RefusedWill           = "will"             // a will on a topic not the device's own status
	RefusedPublish        = "publish"          // a topic the user may not publish on
	RefusedSubscribe      = "subscribe"        // a filter the user may not subscribe to
	RefusedRetained       = "retained"         // a retained message too large, or too many retained
	RefusedPacketTooLarge = "packet_too_large" // a packet over max_packet_size
)

// DeviceSites finds a registered device, so that a device publishes only
// under its own site; devices.Registry is one.
type DeviceSites interface {
	Lookup(id string) (devices.Device, bool)
}

// account is what a user may do.
type account struct {
	name    string
	hash    passwordHash
	plain   []byte // the shared mqtt.username/password: compared as is
	admin   bool
	devices map[string]bool // nil: every device (the shared credential, anonymous)
}

// access authenticates the embedded broker's clients and checks every
// publish, subscription and will against their rights; it bounds retained
// messages and counts what it refuses.
type access struct {
	mochi.HookBase
	users                         map[string]*account
	anonymous                     *account // nil: no client without credentials
	sites                         DeviceSites
	server                        *mochi.Server
	maxRetained, maxRetainedBytes int
	refused                       *prometheus.CounterVec
	warn                          *ratelog.Logger

	mu       sync.Mutex
	retained map[string]bool // topics holding a retained message ($SYS aside)
	// good holds, per username, a digest of the password of its last
	// good login, so that a fleet reconnecting at once is not hashed
	// again (memory only; the configuration keeps the slow hash).
	good map[string][32]byte
}

// dummyHash is checked for an unknown username, so that an unknown name
// takes as long as a wrong password.
var dummyHash, _ = parseHash("$7$" + "10000" + "$" + "AAAAAAAAAAAAAAAA" + "$" + strings.Repeat("A", 86) + "==")

func (h *access) ID() string { return "caretaker-access" }

func (h *access) Provides(b byte) bool {
	switch b {
	case mochi.OnConnect, mochi.OnConnectAuthenticate, mochi.OnACLCheck, mochi.OnPublish, mochi.OnDisconnect, mochi.OnRetainMessage:
		return true
	}
	return false
}

func (h *access) refuse(reason string, cl *mochi.Client, args ...any) {
	h.refused.WithLabelValues(reason).Inc()
	h.warn.Warn(reason, "mqtt client refused", append([]any{"reason", reason, "client", cl.ID, "remote", cl.Net.Remote,
		"username", string(cl.Properties.Username)}, args...)...)
}

// OnConnect checks the credentials, the will and the client id; what it
// refuses gets its CONNACK here. OnConnectAuthenticate then lets in what
// OnConnect let through.
func (h *access) OnConnect(cl *mochi.Client, pk packets.Packet) error {
	deny := func(reason string, code packets.Code, args ...any) error {
		h.refuse(reason, cl, args...)
		if _, ok := packets.V5CodesToV3[code]; cl.Properties.ProtocolVersion < 5 && !ok {
			code = packets.ErrBadUsernameOrPassword // sent as v3's 0x05, not authorized
		}
		_ = h.server.SendConnack(cl, code, false, nil)
		return code
	}
	acct := h.authenticate(pk.Connect.Username, pk.Connect.Password, pk.Connect.PasswordFlag)
	if acct == nil {
		return deny(RefusedCredentials, packets.ErrBadUsernameOrPassword)
	}
	if pk.Connect.WillFlag {
		_, _, ch, ok := deviceTopic(pk.Connect.WillTopic)
		switch {
		case !ok || ch != ingest.ChannelStatus || !h.mayPublish(acct, pk.Connect.WillTopic):
			return deny(RefusedWill, packets.ErrNotAuthorized, "will_topic", pk.Connect.WillTopic)
		case pk.Connect.WillRetain && len(pk.Connect.WillPayload) > h.maxRetainedBytes:
			return deny(RefusedWill, packets.ErrQuotaExceeded, "will_topic", pk.Connect.WillTopic, "will_bytes", len(pk.Connect.WillPayload))
		}
	}
	if existing, ok := h.server.Clients.Get(cl.ID); ok {
		// A client id in use (connected, or a session kept) is its
		// user's: nobody else takes it over and kicks the device off. A
		// user takes over its own (a device reconnecting), and a device
		// with credentials one an anonymous client holds.
		held := string(existing.Properties.Username)
		if (held != "" || acct.name == "") && held != acct.name {
			return deny(RefusedClientID, packets.ErrClientIdentifierNotValid)
		}
	}
	return nil
}

// authenticate is the account of the credentials, or nil.
func (h *access) authenticate(username, password []byte, hasPassword bool) *account {
	if len(username) == 0 {
		return h.anonymous
	}
	acct, ok := h.users[string(username)]
	if !ok {
		dummyHash.matches(password)
		return nil
	}
	if !hasPassword {
		return nil
	}
	if acct.plain != nil {
		if subtleEqual(acct.plain, password) {
			return acct
		}
		return nil
	}
	digest := sha256.Sum256(append(append([]byte(nil), acct.hash.salt...), password...))
	h.mu.Lock()
	last, ok := h.good[acct.name]
	h.mu.Unlock()
	if ok && subtle.ConstantTimeCompare(last[:], digest[:]) == 1 {
		return acct
	}
	if !acct.hash.matches(password) {
		return nil
	}
	h.mu.Lock()
	if h.good == nil {
		h.good = make(map[string][32]byte)
	}
	h.good[acct.name] = digest
	h.mu.Unlock()
	return acct
}

func (h *access) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	return true // OnConnect refused what it had to
}

// accountOf is the account a connected client authenticated as.
func (h *access) accountOf(cl *mochi.Client) *account {
	if len(cl.Properties.Username) == 0 {
		return h.anonymous
	}
	return h.users[string(cl.Properties.Username)]
}

func (h *access) OnACLCheck(cl *mochi.Client, topic string, write bool) bool {
	acct := h.accountOf(cl)
	if acct == nil {
		return false
	}
	if write {
		if !h.mayPublish(acct, topic) {
			h.refuse(RefusedPublish, cl, "topic", topic)
			return false
		}
		return true
	}
	if !h.maySubscribe(acct, topic) {
		h.refuse(RefusedSubscribe, cl, "filter", topic)
		return false
	}
	return true
}

// mayPublish: nobody but caretaker publishes its events or $ topics; an
// admin publishes anything else; a device user its own devices' telemetry,
// event and status topics, under the device's registered site.
func (h *access) mayPublish(a *account, topic string) bool {
	if isEventTopic(topic) || strings.HasPrefix(topic, "$") {
		return false
	}
	if a.admin {
		return true
	}
	site, dev, ch, ok := deviceTopic(topic)
	if !ok || (ch != ingest.ChannelTelemetry && ch != ingest.ChannelEvent && ch != ingest.ChannelStatus) {
		return false
	}
	return h.owns(a, site, dev)
}

// maySubscribe: an admin subscribes to anything; a device user only to
// its own devices' command topics, without wildcards.
func (h *access) maySubscribe(a *account, filter string) bool {
	if a.admin {
		return true
	}
	site, dev, ch, ok := deviceTopic(filter)
	return ok && ch == CommandChannel && h.owns(a, site, dev)
}

func (h *access) owns(a *account, site, dev string) bool {
	if a.devices != nil && !a.devices[dev] {
		return false
	}
	if h.sites != nil {
		if d, ok := h.sites.Lookup(dev); ok && d.Site != site {
			return false
		}
	}
	return true
}

// OnPublish bounds retained messages: one larger than max_retained_bytes,
// or a new one past max_retained, is refused and its client disconnected.
func (h *access) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || !pk.FixedHeader.Retain || len(pk.Payload) == 0 {
		return pk, nil
	}
	// The topic is counted here, with the check, not only once mochi has
	// retained it (OnRetainMessage comes after the PUBACK): a client that
	// publishes again at once must meet the cap already.
	h.mu.Lock()
	held, n := h.retained[pk.TopicName], len(h.retained)
	refused := len(pk.Payload) > h.maxRetainedBytes || (!held && n >= h.maxRetained)
	if !refused && !held && !strings.HasPrefix(pk.TopicName, "$") {
		if h.retained == nil {
			h.retained = make(map[string]bool)
		}
		h.retained[pk.TopicName] = true
	}
	h.mu.Unlock()
	if refused {
		h.refuse(RefusedRetained, cl, "topic", pk.TopicName, "bytes", len(pk.Payload), "retained", n)
		_ = h.server.DisconnectClient(cl, packets.ErrQuotaExceeded)
		return pk, packets.ErrRejectPacket
	}
	return pk, nil
}

// OnRetainMessage keeps the set of retained topics up to date (wills and
// forwarded messages included; mochi's own $SYS topics aside).
func (h *access) OnRetainMessage(cl *mochi.Client, pk packets.Packet, r int64) {
	if strings.HasPrefix(pk.TopicName, "$") {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.retained == nil {
		h.retained = make(map[string]bool)
	}
	if len(pk.Payload) > 0 {
		h.retained[pk.TopicName] = true
	} else {
		delete(h.retained, pk.TopicName)
	}
}

// OnDisconnect counts the clients cut off for a packet over the maximum
// size (mochi refuses it from its fixed header, before reading it).
func (h *access) OnDisconnect(cl *mochi.Client, err error, expire bool) {
	if errors.Is(err, packets.ErrPacketTooLarge) {
		h.refuse(RefusedPacketTooLarge, cl)
	}
}

func subtleEqual(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// deviceTopic splits sites/{site}/devices/{id}/{channel}; ok is false for
// any other topic, and for wildcards in the site or the id.
func deviceTopic(topic string) (site, dev, channel string, ok bool) {
	p := strings.Split(topic, "/")
	if len(p) != 5 || p[0] != "sites" || p[2] != "devices" || !devices.ValidID(p[1]) || !devices.ValidID(p[3]) {
		return "", "", "", false
	}
	return p[1], p[3], p[4], true
}

func isEventTopic(topic string) bool {
	return topic == "caretaker/events" || strings.HasPrefix(topic, "caretaker/events/")
}

func newRefusedCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "caretaker_mqtt_refused_total",
		Help: "What the embedded MQTT broker refused, by reason: credentials, client_id, will, publish, subscribe, retained, packet_too_large.",
	}, []string{"reason"})
}

// refusalLogInterval: at most one refusal line per reason per interval.
const refusalLogInterval = 10 * time.Second

package main

import (
	"net/url"
	"strings"
)

// secretEnv tells whether a CARETAKER_* variable may carry a secret: a
// token, a password, or a whole section that holds one. Errors about such
// a variable never repeat its value.
func secretEnv(name string) bool {
	switch name {
	case "CARETAKER_AUTH", "CARETAKER_MQTT", "CARETAKER_INFLUX", "CARETAKER_CHANNELS", "CARETAKER_STORE", "CARETAKER_STORE_URL":
		return true
	}
	// Channels carry webhook and robot secrets, SMTP passwords, keys in
	// their URLs; notify carries the ack key.
	if strings.HasPrefix(name, "CARETAKER_CHANNELS") || strings.HasPrefix(name, "CARETAKER_NOTIFY") || strings.HasPrefix(name, "CARETAKER_QR") {
		return true
	}
	// The embedded broker's users carry password hashes; cluster_key signs
	// relayed events.
	if strings.HasPrefix(name, "CARETAKER_MQTT_USERS") || strings.Contains(name, "KEY") {
		return true
	}
	return strings.Contains(name, "TOKEN") || strings.Contains(name, "PASSWORD")
}

// redactURL hides the password of a URL's user information, for logs.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}

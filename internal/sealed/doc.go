// Package sealed makes and opens the small signed tokens that links and
// codes carry (ack links, reporters' links, place codes):
// base64url(JSON payload) "." base64url(HMAC-SHA256(key, domain+body)),
// the MAC cut to a chosen length. The domain keeps tokens of one kind
// from ever opening as another made with the same key.
//
// It must never encrypt or hide the payload (whoever holds a token can
// read it), keep state, or decide what a payload allows: expiry and
// binding are the caller's.
package sealed

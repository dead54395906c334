// Package placecode makes the QR codes stuck on devices and public places:
// a signed, place-bound token that lets anyone who scans it file a report
// about that place (and device) without an account, a per-code limit on
// how many reports a code may file, and the printable sheets (PNG, PDF)
// of a site's codes.
//
// It knows no tickets and no HTTP: cmd wires a verified place to the
// ticket service, the dashboard serves the pages. The signing key never
// leaves the Signer and is never logged; a token carries no expiry (it is
// printed on a sticker), so changing the key is how every code of a site
// is withdrawn at once.
package placecode

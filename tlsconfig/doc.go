// Package tlsconfig builds the TLS configurations keyward serves and dials
// with, in one place: the listeners' certificates (reloaded from their files
// without a restart), mutual TLS for the admin side, the private CA that
// clients trust, and the messages that name a certificate problem.
//
// The floor is TLS 1.2 for both directions, with Go's default cipher suites
// (for TLS 1.2, ECDHE only, AEAD first; TLS 1.3's are not configurable).
// Nothing here ever disables verification.
package tlsconfig

import "crypto/tls"

// MinVersion is the oldest protocol keyward speaks: a TLS 1.0 or 1.1
// handshake is refused, even by a client willing to use them.
const MinVersion = tls.VersionTLS12

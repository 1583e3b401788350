// Package webhook calls endpoints with signed requests: the signature
// scheme, one signed POST, and the Dispatcher that sends the delivery
// outbox with retries.
//
// Requests are signed the way Stripe signs its webhooks, so that receivers
// can reuse what they already know:
//
//	Keyward-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>
//
// The timestamp is inside the MAC, so a captured request cannot be replayed
// once it falls outside the receiver's tolerance. A header may carry several
// v1 entries, one per secret, so that an endpoint's secret can be rolled
// over without a window where requests fail to verify. The HMAC key is the
// secret's text as NewSecret returns it and the endpoint's owner sees it,
// prefix included: receivers use it as is, without decoding.
//
// Delivery is at least once: a request that reached the endpoint but whose
// outcome was not recorded (a crash, a shutdown) is sent again, with the
// same Keyward-Delivery ID, which receivers use to drop duplicates.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Header names and the User-Agent of webhook requests.
const (
	HeaderSignature = "Keyward-Signature"
	HeaderEvent     = "Keyward-Event"    // the event type, e.g. key.rotated
	HeaderDelivery  = "Keyward-Delivery" // the delivery ID, stable across retries
	UserAgent       = "keyward-webhook/1"
)

// SecretPrefix starts every signing secret NewSecret returns.
const SecretPrefix = "whsec_"

// DefaultTolerance is how far a signature's timestamp may be from the
// receiver's clock, either way, when Verify is given no tolerance.
const DefaultTolerance = 5 * time.Minute

// Limits of the signature header parser. A sender rolling a secret over
// signs with two or three secrets; anything beyond these is refused.
const (
	maxHeaderLen  = 1024
	maxEntries    = 16
	maxSignatures = 8
	maxTimeDigits = 12 // up to year 33658; today's timestamps have 10
)

// Errors of Verify. Tests and receivers compare with errors.Is.
var (
	// ErrMalformedSignature means the header does not follow the format:
	// missing, duplicated or non-canonical timestamp, a v1 entry that is not
	// 64 lowercase hex digits, an entry without "=", unexpected bytes, or
	// more entries than the parser accepts.
	ErrMalformedSignature = errors.New("webhook: malformed signature header")
	// ErrSignatureMismatch means no v1 entry is the MAC of the timestamp and
	// body under the secret: a forged or altered request, or another secret.
	ErrSignatureMismatch = errors.New("webhook: no signature matches")
	// ErrTimestampOutOfTolerance means the signature is valid but its
	// timestamp is too old, or too far in the future: a possible replay.
	ErrTimestampOutOfTolerance = errors.New("webhook: signature timestamp outside tolerance")
	// ErrNoSecret means Verify was given an empty secret, which verifies
	// nothing.
	ErrNoSecret = errors.New("webhook: empty signing secret")
)

// NewSecret returns a new signing secret: SecretPrefix followed by 32
// random bytes from crypto/rand, base64url without padding.
func NewSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", errors.New("webhook: no randomness for a signing secret")
	}
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Sign returns the Keyward-Signature header value for body sent at t,
// signed with secret: "t=<unix seconds>,v1=<hex MAC>".
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

// mac is HMAC-SHA256(secret, ts + "." + body).
func mac(secret []byte, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a Keyward-Signature header against body and secret. It
// succeeds when one v1 entry is the MAC of the header's timestamp and body
// (several entries are allowed, for secret rollover), compared in constant
// time, and the timestamp is within tolerance of now either way; tolerance
// <= 0 means DefaultTolerance. Entries with other names (future schemes)
// are checked for syntax and otherwise ignored.
//
// The header is untrusted input and is parsed strictly: no spaces, no
// empty entries, exactly one timestamp in canonical decimal form, v1 values
// of exactly 64 lowercase hex digits, at most 1024 bytes. Errors:
// ErrMalformedSignature, ErrSignatureMismatch, ErrTimestampOutOfTolerance,
// ErrNoSecret. The signature is checked before the timestamp, so a request
// without a valid MAC learns nothing of the receiver's clock.
func Verify(header string, secret []byte, body []byte, now time.Time, tolerance time.Duration) error {
	if len(secret) == 0 {
		return ErrNoSecret
	}
	ts, sigs, err := parseHeader(header)
	if err != nil {
		return err
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		// Every entry is compared, so timing does not tell which one matched.
		if hmac.Equal(want, s) {
			ok = true
		}
	}
	if !ok {
		return ErrSignatureMismatch
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil { // parseHeader checked the digits; kept for safety
		return ErrMalformedSignature
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	at := time.Unix(sec, 0)
	if now.Sub(at) > tolerance || at.Sub(now) > tolerance {
		return ErrTimestampOutOfTolerance
	}
	return nil
}

// parseHeader splits a signature header into its timestamp (digits as
// sent) and its decoded v1 MACs, or returns ErrMalformedSignature.
func parseHeader(header string) (ts string, sigs [][]byte, err error) {
	if header == "" || len(header) > maxHeaderLen {
		return "", nil, ErrMalformedSignature
	}
	items := strings.Split(header, ",")
	if len(items) > maxEntries {
		return "", nil, ErrMalformedSignature
	}
	haveTS := false
	for _, item := range items {
		key, value, found := strings.Cut(item, "=")
		if !found || !validKey(key) || value == "" {
			return "", nil, ErrMalformedSignature
		}
		switch key {
		case "t":
			if haveTS || !canonicalDecimal(value) {
				return "", nil, ErrMalformedSignature
			}
			ts, haveTS = value, true
		case "v1":
			if len(sigs) == maxSignatures || !lowerHex(value, sha256.Size) {
				return "", nil, ErrMalformedSignature
			}
			b, err := hex.DecodeString(value)
			if err != nil {
				return "", nil, ErrMalformedSignature
			}
			sigs = append(sigs, b)
		default:
			if !validOtherValue(value) {
				return "", nil, ErrMalformedSignature
			}
		}
	}
	if !haveTS || len(sigs) == 0 {
		return "", nil, ErrMalformedSignature
	}
	return ts, sigs, nil
}

// validKey accepts an entry name: 1 to 8 lowercase letters and digits,
// starting with a letter.
func validKey(k string) bool {
	if k == "" || len(k) > 8 || k[0] < 'a' || k[0] > 'z' {
		return false
	}
	for i := 1; i < len(k); i++ {
		c := k[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// canonicalDecimal accepts 1 to maxTimeDigits ASCII digits without a
// leading zero (except "0" itself), so every timestamp has one spelling.
func canonicalDecimal(s string) bool {
	if s == "" || len(s) > maxTimeDigits || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// lowerHex accepts exactly 2*n lowercase hex digits.
func lowerHex(s string, n int) bool {
	if len(s) != 2*n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// validOtherValue accepts the value of an entry of another scheme: visible
// ASCII other than ',' and '='.
func validOtherValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c > '~' || c == ',' || c == '=' {
			return false
		}
	}
	return true
}

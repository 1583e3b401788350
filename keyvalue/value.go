// Package keyvalue defines what an API key value looks like, how it is
// generated, and how it is turned into the digest the store keeps instead of
// the value itself.
//
// A generated value reads "<prefix>_<body><checksum>": a short lowercase
// prefix that tells humans and secret scanners what the string is, 32 base62
// characters of randomness (about 190 bits), and a 6-character base62 CRC32
// of everything before it. The checksum is not a security feature: it lets
// the gateway reject typos and random garbage before spending an HMAC and a
// map lookup on them, and lets scanners recognise real keyward keys with few
// false positives.
//
// Values are never stored. The store and the gateway index keys by
// HMAC-SHA256(pepper, value), so a leaked database is useless without the
// pepper, which lives in a separate secret file.
package keyvalue

import (
	"crypto/rand"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
)

// DefaultPrefix is the prefix of ordinary API keys. Admin tokens use "kwa".
const DefaultPrefix = "kw"

const (
	// bodyLen is the number of random base62 characters in a value.
	bodyLen = 32
	// checksumLen is the number of base62 characters that encode the CRC32;
	// 62^6 > 2^32, so six always suffice.
	checksumLen = 6
	// maxPrefixLen keeps prefixes short enough to read at a glance.
	maxPrefixLen = 16
)

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// base62Digit maps a byte to its base62 value, or -1 if it is not in the
// alphabet. A table keeps Check branch-light and allocation-free.
var base62Digit = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = int8(i)
	}
	return t
}()

// Shape is what Check can tell about a value without looking it up.
type Shape int

const (
	// Foreign means the value is not keyward-shaped. It may still be a
	// legitimate imported key; see ValidImported. It is the zero value so
	// that an unset Shape is never mistaken for Valid.
	Foreign Shape = iota
	// BadChecksum means the value has keyward's shape but its checksum does
	// not match: a typo, a truncated paste or a guess.
	BadChecksum
	// Valid means prefix, body and checksum are all well formed.
	Valid
)

func (s Shape) String() string {
	switch s {
	case Foreign:
		return "foreign"
	case BadChecksum:
		return "bad-checksum"
	case Valid:
		return "valid"
	}
	return fmt.Sprintf("Shape(%d)", int(s))
}

// ValidPrefix reports whether p can prefix a generated value: a lowercase
// letter followed by up to 15 lowercase letters or digits. Underscores are
// excluded so that the last '_' of a value always ends the prefix.
func ValidPrefix(p string) bool {
	if len(p) == 0 || len(p) > maxPrefixLen || p[0] < 'a' || p[0] > 'z' {
		return false
	}
	for i := 1; i < len(p); i++ {
		c := p[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// Generate returns a new value with the given prefix, drawing randomness
// from crypto/rand.
func Generate(prefix string) (string, error) {
	return GenerateFrom(rand.Reader, prefix)
}

// Errors returned by Generate and GenerateFrom.
var (
	// ErrBadPrefix means the prefix fails ValidPrefix.
	ErrBadPrefix = errors.New("keyvalue: invalid prefix")
	// ErrBadRandomness means the source kept producing rejected bytes.
	ErrBadRandomness = errors.New("keyvalue: randomness source produced no usable bytes")
)

// GenerateFrom is Generate with an explicit randomness source, so tests can
// pin known answers. Each body character takes the low 6 bits of one byte and
// rejects 62 and 63, which keeps every character exactly uniform. Bytes are
// read in 48-byte batches; the order of reads is part of the known answers.
func GenerateFrom(r io.Reader, prefix string) (string, error) {
	if !ValidPrefix(prefix) {
		return "", ErrBadPrefix
	}
	n := len(prefix) + 1
	out := make([]byte, n+bodyLen+checksumLen)
	copy(out, prefix)
	out[len(prefix)] = '_'

	// 48 bytes yield 32 accepted characters with overwhelming probability
	// (62/64 acceptance), so one read is the common case.
	var buf [48]byte
	for filled, batches := 0, 0; filled < bodyLen; batches++ {
		// A healthy source needs more than two batches with probability
		// below 2^-100; sixteen means the source is stuck on rejected bytes.
		if batches == 16 {
			return "", ErrBadRandomness
		}
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return "", fmt.Errorf("keyvalue: read randomness: %w", err)
		}
		for _, b := range buf {
			if d := b & 63; d < 62 && filled < bodyLen {
				out[n+filled] = alphabet[d]
				filled++
			}
		}
	}
	clear(buf[:])

	putChecksum(out[n+bodyLen:], crcIEEE(string(out[:n+bodyLen])))
	return string(out), nil
}

// putChecksum writes c as checksumLen base62 digits, most significant first.
func putChecksum(dst []byte, c uint32) {
	v := uint64(c)
	for i := checksumLen - 1; i >= 0; i-- {
		dst[i] = alphabet[v%62]
		v /= 62
	}
}

// crcIEEE is crc32.ChecksumIEEE over a string. crc32's API takes []byte and
// dispatches through a function pointer, which would make the conversion
// escape and allocate; this table loop keeps Check allocation-free and is
// fast enough for the ~40 bytes it ever sees.
func crcIEEE(s string) uint32 {
	tab := crc32.IEEETable
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = tab[byte(crc)^s[i]] ^ (crc >> 8)
	}
	return ^crc
}

// split returns the prefix of v and reports whether v has keyward's shape
// (valid prefix, 38 base62 characters after the last '_'), regardless of
// whether the checksum matches.
func split(v string) (prefix string, ok bool) {
	i := strings.LastIndexByte(v, '_')
	if i < 0 || len(v)-i-1 != bodyLen+checksumLen || !ValidPrefix(v[:i]) {
		return "", false
	}
	for j := i + 1; j < len(v); j++ {
		if base62Digit[v[j]] < 0 {
			return "", false
		}
	}
	return v[:i], true
}

// Check classifies v by format and checksum alone: no lookup, no hashing and
// no allocation, so the gateway can drop garbage cheaply.
func Check(v string) Shape {
	if _, ok := split(v); !ok {
		return Foreign
	}
	var sum uint64
	for _, c := range []byte(v[len(v)-checksumLen:]) {
		sum = sum*62 + uint64(base62Digit[c])
	}
	// Six digits can encode values above 2^32; those never match a CRC32,
	// and comparing as uint64 rejects them without a special case.
	if sum != uint64(crcIEEE(v[:len(v)-checksumLen])) {
		return BadChecksum
	}
	return Valid
}

// Prefix returns the prefix of v if Check(v) is Valid, and "" otherwise, so a
// caller routing on the prefix (admin tokens use "kwa") never trusts one
// attached to a mistyped or forged value.
func Prefix(v string) string {
	if Check(v) != Valid {
		return ""
	}
	return v[:strings.LastIndexByte(v, '_')]
}

// Hint returns a display hint that identifies a value to its owner without
// revealing it: "kw_…a1B2" for a valid keyward value, whose last four
// characters are checksum characters (they reveal at most 24 bits about the
// value's CRC, not its random body). Any other value (an imported custom
// value) gets "…" alone: its last characters are part of the secret.
func Hint(v string) string {
	p := Prefix(v)
	if p == "" {
		return "…"
	}
	return p + "_…" + v[len(v)-4:]
}

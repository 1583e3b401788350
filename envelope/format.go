package envelope

import (
	"encoding/binary"
	"errors"
)

// The binary envelope, version 1:
//
//	0x01                      format version
//	uvarint n, n bytes        keyring ID (1..maxKeyringIDLen)
//	uvarint n, n bytes        wrapped data key (1..maxWrappedLen)
//	uvarint 12, 12 bytes      AES-GCM nonce
//	uvarint n, n bytes        ciphertext and tag (16..MaxPlaintext+16), ending the envelope
//
// Every length is bounded before it is used, uvarints must be minimal, and
// nothing may follow the ciphertext, so each envelope has exactly one
// encoding: a flipped bit anywhere either breaks parsing or reaches a check
// that fails.
const formatV1 = 0x01

const (
	// MaxPlaintext bounds a sealed value. Secrets and key values are small;
	// the bound keeps a hostile envelope from asking for huge allocations.
	MaxPlaintext    = 1 << 20
	maxKeyringIDLen = 512
	maxWrappedLen   = 8192
	nonceLen        = 12
	tagLen          = 16
)

// ErrMalformed means the bytes are not a well-formed envelope.
var ErrMalformed = errors.New("envelope: malformed")

// sealed is a parsed envelope. Its slices alias the input.
type sealed struct {
	keyringID  string
	wrappedDEK []byte
	nonce      []byte
	ciphertext []byte
}

func (e *sealed) marshal() []byte {
	n := 1 + 4*binary.MaxVarintLen64 + len(e.keyringID) + len(e.wrappedDEK) + len(e.nonce) + len(e.ciphertext)
	b := make([]byte, 0, n)
	b = append(b, formatV1)
	b = appendField(b, []byte(e.keyringID))
	b = appendField(b, e.wrappedDEK)
	b = appendField(b, e.nonce)
	return appendField(b, e.ciphertext)
}

func appendField(b, field []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(field)))
	return append(b, field...)
}

// parse splits an envelope into its fields without decrypting anything.
func parse(b []byte) (*sealed, error) {
	if len(b) == 0 || b[0] != formatV1 {
		return nil, ErrMalformed
	}
	rest := b[1:]
	var e sealed
	var id []byte
	var ok bool
	if id, rest, ok = field(rest, 1, maxKeyringIDLen); !ok {
		return nil, ErrMalformed
	}
	e.keyringID = string(id)
	if e.wrappedDEK, rest, ok = field(rest, 1, maxWrappedLen); !ok {
		return nil, ErrMalformed
	}
	if e.nonce, rest, ok = field(rest, nonceLen, nonceLen); !ok {
		return nil, ErrMalformed
	}
	if e.ciphertext, rest, ok = field(rest, tagLen, MaxPlaintext+tagLen); !ok || len(rest) != 0 {
		return nil, ErrMalformed
	}
	return &e, nil
}

// field reads one length-prefixed field of min..max bytes. It rejects
// non-minimal uvarints so that no two byte strings parse to the same
// envelope.
func field(b []byte, minLen, maxLen int) (f, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || (k > 1 && b[k-1] == 0) {
		return nil, nil, false
	}
	if n < uint64(minLen) || n > uint64(maxLen) || n > uint64(len(b)-k) {
		return nil, nil, false
	}
	end := k + int(n)
	return b[k:end:end], b[end:], true
}

// aadPrefix names the format version inside the AAD so that a future
// format can never accept a v1 ciphertext as its own.
const aadPrefix = "keyward/envelope/v1"

// aad encodes a binding unambiguously: each part carries its length, so
// {"ab","c"} and {"a","bc"} differ.
func (b Binding) aad() []byte {
	parts := [...]string{b.Kind, b.ID, b.Version, b.Field}
	n := len(aadPrefix)
	for _, p := range parts {
		n += binary.MaxVarintLen64 + len(p)
	}
	out := make([]byte, 0, n)
	out = append(out, aadPrefix...)
	for _, p := range parts {
		out = binary.AppendUvarint(out, uint64(len(p)))
		out = append(out, p...)
	}
	return out
}

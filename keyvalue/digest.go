package keyvalue

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"hash"
	"log/slog"
	"sync"
)

// Digest is HMAC-SHA256(pepper, value): what the store and the gateway index
// keep in place of a key value. It is not secret on its own, but it is only
// useful together with the pepper.
type Digest [sha256.Size]byte

// String returns the digest in lowercase hex, for storage keys and debugging.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// MinPepperLen is the shortest pepper NewHasher accepts: as long as the
// SHA-256 output, so the pepper is never the weak link.
const MinPepperLen = 32

// ErrShortPepper is returned by NewHasher for a pepper under MinPepperLen.
var ErrShortPepper = errors.New("keyvalue: pepper shorter than 32 bytes")

// Hasher computes Digests under a secret pepper. It is safe for concurrent
// use. The pepper lives only inside pooled HMAC states, so printing or
// logging a Hasher shows nothing secret.
type Hasher struct {
	pool *sync.Pool // of *hmacState
}

// hmacState is one pooled HMAC plus scratch space, so that Digest can feed
// a string to the hash and read its sum without heap allocation.
type hmacState struct {
	mac     hash.Hash
	scratch [MaxImportedLen]byte
	sum     [sha256.Size]byte
}

// NewHasher returns a Hasher keyed by pepper, which must be at least
// MinPepperLen bytes. The pepper is copied, so the caller may wipe its slice.
func NewHasher(pepper []byte) (*Hasher, error) {
	if len(pepper) < MinPepperLen {
		return nil, ErrShortPepper
	}
	key := append([]byte(nil), pepper...)
	pool := &sync.Pool{New: func() any {
		st := &hmacState{mac: hmac.New(sha256.New, key)}
		// The first Reset makes crypto/hmac save the keyed inner and outer
		// SHA-256 states, so every later Reset restores them instead of
		// hashing the padded key again.
		st.mac.Reset()
		return st
	}}
	return &Hasher{pool: pool}, nil
}

// Digest returns HMAC-SHA256(pepper, v). In steady state it does not
// allocate: HMAC states come from a pool and the value is copied into a
// pooled scratch buffer instead of being converted to a fresh []byte.
// Pooling beat cloning precomputed SHA-256 states, which allocates per clone
// (see BenchmarkDigest).
func (h *Hasher) Digest(v string) (d Digest) {
	st := h.pool.Get().(*hmacState)
	for rest := v; len(rest) > 0; {
		n := copy(st.scratch[:], rest)
		st.mac.Write(st.scratch[:n])
		rest = rest[n:]
	}
	st.mac.Sum(st.sum[:0])
	copy(d[:], st.sum[:])
	// Leave no key value behind in pooled memory.
	clear(st.scratch[:min(len(v), len(st.scratch))])
	st.mac.Reset()
	h.pool.Put(st)
	return d
}

// Equal reports whether a and b are the same digest, in constant time, so a
// comparison against a stored digest does not leak how many bytes matched.
func (h *Hasher) Equal(a, b Digest) bool {
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// String, GoString and LogValue keep the Hasher opaque in fmt and slog
// output even if its fields change later.
func (h *Hasher) String() string { return "keyvalue.Hasher{[redacted]}" }

// GoString implements fmt.GoStringer; see String.
func (h *Hasher) GoString() string { return h.String() }

// LogValue implements slog.LogValuer; see String.
func (h *Hasher) LogValue() slog.Value { return slog.StringValue("[redacted]") }

package keyvalue

import "fmt"

// Result is the outcome of Verifier.Verify.
type Result int

const (
	// Malformed means the value was rejected on its shape alone: a
	// keyward-shaped value with a bad checksum, or a foreign value that
	// ValidImported refuses. It is the zero value so an unset Result is
	// never mistaken for OK.
	Malformed Result = iota
	// Unknown means the value is well formed but no key has its digest.
	Unknown
	// OK means the value's digest is in the index.
	OK
)

func (r Result) String() string {
	switch r {
	case Malformed:
		return "malformed"
	case Unknown:
		return "unknown"
	case OK:
		return "ok"
	}
	return fmt.Sprintf("Result(%d)", int(r))
}

// Verifier checks presented key values against an Index: first the shape
// and checksum (cheap, no secret involved), then the HMAC digest, then the
// lookup. Both fields must be set.
type Verifier[T any] struct {
	Hasher *Hasher
	Index  *Index[T]
}

// Verify returns the entry for value and OK, or the zero T and the reason it
// failed (Screen, then the lookup). Verify does not allocate.
func (v *Verifier[T]) Verify(value string) (T, Result) {
	var zero T
	d, res := v.Hasher.Screen(value)
	if res != OK {
		return zero, res
	}
	e, ok := v.Index.Lookup(d)
	if !ok {
		return zero, Unknown
	}
	return e, OK
}

// Screen checks a presented value's shape and returns its digest and OK,
// or Malformed: keyward-shaped values with a bad checksum are rejected
// before hashing; foreign-shaped values are treated as imported keys and
// hashed if ValidImported would accept them. Every verifier of presented
// values (Verifier, the gateway's key table) starts here. It does not
// allocate.
func (h *Hasher) Screen(value string) (Digest, Result) {
	switch Check(value) {
	case Valid:
	case BadChecksum:
		return Digest{}, Malformed
	default:
		if p, _ := importedProblem(value); p != noProblem {
			return Digest{}, Malformed
		}
	}
	return h.Digest(value), OK
}

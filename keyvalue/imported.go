package keyvalue

import (
	"errors"
	"fmt"
)

// Bounds on imported values. Twenty bytes is the shortest that still has
// plausible entropy for a machine-generated key; 256 keeps the gateway's
// per-request hashing cost bounded.
const (
	MinImportedLen = 20
	MaxImportedLen = 256
)

// ErrInvalidValue is the sentinel wrapped by every ValidImported error.
var ErrInvalidValue = errors.New("keyvalue: invalid value")

// problem says what is wrong with a candidate imported value. It is kept
// separate from the error so Verify can reject without allocating.
type problem int

const (
	noProblem problem = iota
	badLength
	badByte
	badChecksumShape
)

// importedProblem finds the first reason v cannot be an imported value and,
// for badByte, the offset of the offending byte.
func importedProblem(v string) (problem, int) {
	if len(v) < MinImportedLen || len(v) > MaxImportedLen {
		return badLength, len(v)
	}
	for i := 0; i < len(v); i++ {
		// 0x21..0x7e: printable ASCII without space. Whitespace in a key is
		// almost always a copy-paste accident, and control bytes would be
		// trouble in headers and logs.
		if v[i] < 0x21 || v[i] > 0x7e {
			return badByte, i
		}
	}
	// A keyward-shaped value with a wrong checksum is rejected by Verify
	// before it is hashed, so importing one would create a key that can
	// never authenticate.
	if Check(v) == BadChecksum {
		return badChecksumShape, 0
	}
	return noProblem, 0
}

// ValidImported reports whether v is acceptable as a custom, imported key
// value: 20 to 256 bytes of printable ASCII with no whitespace, and not a
// keyward-shaped value with a bad checksum. Errors wrap ErrInvalidValue and
// never contain the value, only its length or an offset, because import
// errors end up in API responses and logs.
func ValidImported(v string) error {
	switch p, n := importedProblem(v); p {
	case badLength:
		return fmt.Errorf("%w: length %d is outside %d..%d", ErrInvalidValue, n, MinImportedLen, MaxImportedLen)
	case badByte:
		return fmt.Errorf("%w: byte %d is not printable ASCII", ErrInvalidValue, n)
	case badChecksumShape:
		return fmt.Errorf("%w: keyward-shaped value with a bad checksum", ErrInvalidValue)
	}
	return nil
}

package gateway

import (
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/keyvalue"
)

// testHasher is the hasher the test gateways use (a zero pepper).
func testHasher(tb testing.TB) *keyvalue.Hasher {
	tb.Helper()
	h, err := keyvalue.NewHasher(make([]byte, 32))
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// currentValue returns a fresh key value and the CURRENT credential credID
// of key keyID that holds h's digest of it.
func currentValue(tb testing.TB, h *keyvalue.Hasher, keyID, credID string) (string, keyward.Credential) {
	tb.Helper()
	value, err := keyvalue.Generate("kw")
	if err != nil {
		tb.Fatal(err)
	}
	d := h.Digest(value)
	return value, keyward.Credential{ID: credID, KeyID: keyID, Label: keyward.LabelCurrent, Digest: d[:]}
}

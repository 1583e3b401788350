package envelope

import (
	"bytes"
	"context"
	"encoding/hex"
	"testing"
)

// FuzzOpen feeds arbitrary bytes to the parser and to Open. Nothing may
// panic; whatever parses must re-encode to the same bytes (one encoding per
// envelope); and Open may succeed only on the one envelope really sealed
// under the test KEK. Seeds live in testdata/fuzz/FuzzOpen.
func FuzzOpen(f *testing.F) {
	pinned, err := hex.DecodeString(katEnvelopeHex)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pinned)
	f.Add(pinned[:40])
	f.Add([]byte{formatV1, 0x80, 0x00})
	s := katSealer(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		if e, err := parse(data); err == nil {
			if !bytes.Equal(e.marshal(), data) {
				t.Fatalf("%x parses but re-encodes as %x", data, e.marshal())
			}
		}
		if id, err := KeyringID(data); err == nil && id == "" {
			t.Fatal("KeyringID returned an empty ID without error")
		}
		pt, err := s.Open(ctx, katBinding, data)
		if err != nil {
			return
		}
		if !bytes.Equal(data, pinned) || !bytes.Equal(pt, katPlaintext) {
			t.Fatalf("Open accepted bytes that were never sealed: %x", data)
		}
	})
}

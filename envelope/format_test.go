package envelope

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func TestParseRejects(t *testing.T) {
	good := sealed{keyringID: "k", wrappedDEK: []byte{1}, nonce: make([]byte, 12), ciphertext: make([]byte, 16)}
	enc := good.marshal()
	if e, err := parse(enc); err != nil || !bytes.Equal(e.marshal(), enc) {
		t.Fatalf("minimal envelope: %v", err)
	}
	with := func(mod func(*sealed)) []byte {
		e := good
		mod(&e)
		return e.marshal()
	}
	tests := map[string][]byte{
		"empty":                 nil,
		"version 0":             append([]byte{0}, enc[1:]...),
		"version 2":             append([]byte{2}, enc[1:]...),
		"non-minimal uvarint":   append([]byte{formatV1, 0x81, 0x00}, enc[2:]...),
		"empty keyring ID":      with(func(e *sealed) { e.keyringID = "" }),
		"keyring ID too long":   with(func(e *sealed) { e.keyringID = string(make([]byte, maxKeyringIDLen+1)) }),
		"empty wrapped key":     with(func(e *sealed) { e.wrappedDEK = nil }),
		"wrapped key too long":  with(func(e *sealed) { e.wrappedDEK = make([]byte, maxWrappedLen+1) }),
		"11-byte nonce":         with(func(e *sealed) { e.nonce = make([]byte, 11) }),
		"13-byte nonce":         with(func(e *sealed) { e.nonce = make([]byte, 13) }),
		"ciphertext below tag":  with(func(e *sealed) { e.ciphertext = make([]byte, 15) }),
		"trailing byte":         append(bytes.Clone(enc), 0),
		"length beyond input":   {formatV1, 0x7f, 'k'},
		"uvarint overflow":      {formatV1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"ciphertext too long":   with(func(e *sealed) { e.ciphertext = make([]byte, MaxPlaintext+tagLen+1) }),
		"unterminated uvarint":  {formatV1, 0x80},
		"length field only":     {formatV1, 0x01},
		"keyring ID only":       {formatV1, 0x01, 'k'},
		"missing ciphertext":    enc[:len(enc)-17],
		"ciphertext length cut": enc[:len(enc)-1],
	}
	for name, b := range tests {
		if _, err := parse(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
}

func TestAADIsUnambiguous(t *testing.T) {
	got := hex.EncodeToString(Binding{"ab", "c", "", "f"}.aad())
	want := hex.EncodeToString([]byte("keyward/envelope/v1\x02ab\x01c\x00\x01f"))
	if got != want {
		t.Fatalf("aad = %s, want %s", got, want)
	}
	if bytes.Equal(Binding{"ab", "c", "", "f"}.aad(), Binding{"a", "bc", "", "f"}.aad()) {
		t.Fatal("different bindings share an AAD")
	}
}

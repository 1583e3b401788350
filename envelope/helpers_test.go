package envelope

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"io"
	"testing"

	"github.com/keyward/keyward/keyring"
)

// detKeyring is a deterministic keyring for known-answer vectors: the local
// keyring's algorithm (nonce, then AES-256-GCM with AAD "keyward/kek/v1")
// with nonces from a given reader.
type detKeyring struct {
	id   string
	aead cipher.AEAD
	rand io.Reader
}

var _ keyring.Keyring = (*detKeyring)(nil)

func newDetKeyring(t testing.TB, id string, kek []byte, r io.Reader) *detKeyring {
	t.Helper()
	block, err := aes.NewCipher(kek)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return &detKeyring{id: id, aead: aead, rand: r}
}

func (k *detKeyring) ID() string { return k.id }

func (k *detKeyring) Wrap(_ context.Context, dek []byte) ([]byte, error) {
	nonce := make([]byte, 12)
	if _, err := io.ReadFull(k.rand, nonce); err != nil {
		return nil, err
	}
	return k.aead.Seal(nonce, nonce, dek, []byte("keyward/kek/v1")), nil
}

func (k *detKeyring) Unwrap(_ context.Context, w []byte) ([]byte, error) {
	if len(w) < 12 {
		return nil, keyring.ErrUnwrap
	}
	dek, err := k.aead.Open(nil, w[:12], w[12:], []byte("keyward/kek/v1"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", keyring.ErrUnwrap, err)
	}
	return dek, nil
}

func (k *detKeyring) Close() error { return nil }

// seq returns n bytes counting up from start.
func seq(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// The known-answer vector. It was computed independently with Python's
// cryptography package (AESGCM) from the format description in format.go.
var (
	katBinding   = Binding{"secret", "prod/openai", "0190c8a4-7d1e-7c3a-9b2e-5f6a7b8c9d0e", "value"}
	katPlaintext = []byte("sk-proj-known-answer-plaintext")
)

const katEnvelopeHex = "01" + "08" + "746573743a6b6174" + // version, keyring ID "test:kat"
	"3c" + "a0a1a2a3a4a5a6a7a8a9aaab" + // wrapped DEK: KEK nonce,
	"a6593e6e018e44f82a2ccd984b378e9120fd0b43c6e2143bc4577cdd23f62b5e2617bf555834a292c9b5aea8a495e57f" + // DEK sealed under KEK
	"0c" + "808182838485868788898a8b" + // nonce
	"2e" + "5e3593b7501b40ae0304ff5f1c8ff44c8b8baca060178a7597e00cb1a9617c1b33c960960e2128f34c81504836b8" // ciphertext and tag

// katSealer returns a Sealer that reproduces the vector: KEK 00..1f; the
// reader yields the DEK (40..5f), the value nonce (80..8b), then the KEK
// nonce (a0..ab) in the order Seal consumes them.
func katSealer(t testing.TB) *Sealer {
	r := bytes.NewReader(bytes.Join([][]byte{seq(0x40, 32), seq(0x80, 12), seq(0xa0, 12)}, nil))
	s := NewSealer(newDetKeyring(t, "test:kat", seq(0, 32), r))
	s.rand = r
	return s
}

package keyring

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"io"
	"sync/atomic"
)

// KeySize is the size of a local master key: AES-256.
const KeySize = 32

// kekAAD binds wrapped data keys to this use and format version, so a
// ciphertext produced under the same key for any other purpose never
// unwraps as a data key.
const kekAAD = "keyward/kek/v1"

// maxDEKSize bounds what the local keyring wraps; data keys are 32 bytes.
const maxDEKSize = 1024

// aesKeyring wraps data keys with AES-256-GCM under a local key. A wrapped
// key is nonce (12 bytes) followed by ciphertext and tag.
type aesKeyring struct {
	id     string
	aead   cipher.AEAD
	rand   io.Reader // crypto/rand; tests substitute a fixed reader
	closed atomic.Bool
}

var _ Keyring = (*aesKeyring)(nil)

// OpenFile returns a keyring whose KEK is the 32-byte master key stored at
// path. With create, a missing file is created as LoadOrCreateSecretFile
// does; without it, a missing file is an error (fs.ErrNotExist), so a typo
// in a path never silently starts a new key. Its ID is "file:" followed by
// a fingerprint of the key, so moving the file does not change it.
func OpenFile(path string, create bool) (Keyring, error) {
	var key []byte
	var err error
	if create {
		key, err = LoadOrCreateSecretFile(path, KeySize)
	} else {
		key, err = loadSecretFile(path, KeySize)
	}
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return newAESKeyring("file:"+fingerprint(key), key)
}

// newAESKeyring expands key into an AES-GCM instance; the caller may wipe
// key afterwards.
func newAESKeyring(id string, key []byte) (*aesKeyring, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: key is %d bytes, want %d", ErrWrongSize, len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return &aesKeyring{id: id, aead: aead, rand: rand.Reader}, nil
}

func (k *aesKeyring) ID() string { return k.id }

// Wrap seals dek under a fresh random nonce.
func (k *aesKeyring) Wrap(_ context.Context, dek []byte) ([]byte, error) {
	if k.closed.Load() {
		return nil, ErrClosed
	}
	if len(dek) == 0 || len(dek) > maxDEKSize {
		return nil, fmt.Errorf("keyring: data key of %d bytes out of range", len(dek))
	}
	ns := k.aead.NonceSize()
	out := make([]byte, ns, ns+len(dek)+k.aead.Overhead())
	if _, err := io.ReadFull(k.rand, out); err != nil {
		return nil, fmt.Errorf("keyring: read nonce: %w", err)
	}
	return k.aead.Seal(out, out, dek, []byte(kekAAD)), nil
}

// Unwrap opens a key sealed by Wrap. All failures look the same to the
// caller, so nothing distinguishes a wrong key from tampering.
func (k *aesKeyring) Unwrap(_ context.Context, wrapped []byte) ([]byte, error) {
	if k.closed.Load() {
		return nil, ErrClosed
	}
	ns := k.aead.NonceSize()
	if len(wrapped) < ns+k.aead.Overhead()+1 || len(wrapped) > ns+maxDEKSize+k.aead.Overhead() {
		return nil, fmt.Errorf("%w: %s: wrong length", ErrUnwrap, k.id)
	}
	dek, err := k.aead.Open(nil, wrapped[:ns], wrapped[ns:], []byte(kekAAD))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: authentication failed", ErrUnwrap, k.id)
	}
	return dek, nil
}

// Close marks the keyring closed. The expanded AES key inside crypto/aes
// cannot be wiped from Go, so this only stops further use.
func (k *aesKeyring) Close() error {
	k.closed.Store(true)
	return nil
}

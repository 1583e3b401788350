// Package envelope seals values (secret values, recoverable API key values)
// for storage. Each value gets its own random AES-256 data key, which is
// wrapped by a keyring's key-encryption key; the value's ciphertext is bound
// to the record it belongs to, so a sealed value copied into another record,
// version or field does not open. Changing the KEK only re-wraps data keys
// (Rewrap); ciphertexts and plaintexts are never touched.
package envelope

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/keyward/keyward/keyring"
)

// Binding names the record a sealed value belongs to, e.g.
// {"secret", "prod/openai", "<version uuid>", "value"}. Kind, ID and Field
// must be set; Version may be empty for unversioned records.
type Binding struct {
	Kind, ID, Version, Field string
}

// Errors returned by Seal, Open and Rewrap, besides those of the keyring
// (which wrap keyring.ErrUnwrap when a data key cannot be unwrapped).
// None of them ever contains plaintext or key bytes.
var (
	// ErrBinding means the Binding lacks a Kind, ID or Field.
	ErrBinding = errors.New("envelope: incomplete binding")
	// ErrTooLarge means the plaintext exceeds MaxPlaintext.
	ErrTooLarge = errors.New("envelope: plaintext too large")
	// ErrWrongKeyring means the envelope's data key was wrapped by another
	// keyring than the one given; see KeyringID.
	ErrWrongKeyring = errors.New("envelope: wrapped by another keyring")
	// ErrAuth means the ciphertext did not authenticate: it was tampered
	// with, or it belongs to another binding.
	ErrAuth = errors.New("envelope: authentication failed")
)

const dekLen = 32

// Sealer seals and opens envelopes with one keyring. It is safe for
// concurrent use if its keyring is.
type Sealer struct {
	kr   keyring.Keyring
	rand io.Reader // crypto/rand; tests substitute a fixed reader
}

// NewSealer returns a Sealer whose data keys are wrapped by kr.
func NewSealer(kr keyring.Keyring) *Sealer {
	return &Sealer{kr: kr, rand: rand.Reader}
}

// Seal encrypts plaintext under a fresh data key bound to b. It returns
// ErrBinding, ErrTooLarge, or the keyring's error if wrapping fails.
func (s *Sealer) Seal(ctx context.Context, b Binding, plaintext []byte) ([]byte, error) {
	if b.Kind == "" || b.ID == "" || b.Field == "" {
		return nil, ErrBinding
	}
	if len(plaintext) > MaxPlaintext {
		return nil, ErrTooLarge
	}
	var buf [dekLen + nonceLen]byte
	defer clear(buf[:])
	if _, err := io.ReadFull(s.rand, buf[:]); err != nil {
		return nil, fmt.Errorf("envelope: read randomness: %w", err)
	}
	dek, nonce := buf[:dekLen], buf[dekLen:]
	aead, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	e := sealed{nonce: nonce, ciphertext: aead.Seal(nil, nonce, plaintext, b.aad())}
	if err := wrapInto(ctx, s.kr, &e, dek); err != nil {
		return nil, err
	}
	return e.marshal(), nil
}

// Open decrypts an envelope sealed for b. It returns ErrMalformed,
// ErrWrongKeyring, the keyring's unwrap error, or ErrAuth.
func (s *Sealer) Open(ctx context.Context, b Binding, envelope []byte) ([]byte, error) {
	e, err := s.parseOwn(envelope)
	if err != nil {
		return nil, err
	}
	dek, err := s.kr.Unwrap(ctx, e.wrappedDEK)
	if err != nil {
		return nil, fmt.Errorf("envelope: unwrap data key: %w", err)
	}
	defer clear(dek)
	aead, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, e.nonce, e.ciphertext, b.aad())
	if err != nil {
		return nil, ErrAuth
	}
	return pt, nil
}

// Rewrap returns the envelope with its data key unwrapped by s's keyring
// and wrapped again by to. The ciphertext is copied as is, so no plaintext
// is ever produced; the binding is not needed here and is checked by the
// next Open. Errors are those of Open, except ErrAuth.
func (s *Sealer) Rewrap(ctx context.Context, envelope []byte, to keyring.Keyring) ([]byte, error) {
	e, err := s.parseOwn(envelope)
	if err != nil {
		return nil, err
	}
	dek, err := s.kr.Unwrap(ctx, e.wrappedDEK)
	if err != nil {
		return nil, fmt.Errorf("envelope: unwrap data key: %w", err)
	}
	defer clear(dek)
	if len(dek) != dekLen {
		return nil, fmt.Errorf("%w: unwrapped data key has %d bytes", ErrAuth, len(dek))
	}
	if err := wrapInto(ctx, to, e, dek); err != nil {
		return nil, err
	}
	return e.marshal(), nil
}

// wrapInto wraps dek with kr and records the result and kr's ID in e,
// checking both fit the format.
func wrapInto(ctx context.Context, kr keyring.Keyring, e *sealed, dek []byte) error {
	id := kr.ID()
	if id == "" || len(id) > maxKeyringIDLen {
		return fmt.Errorf("envelope: keyring ID of %d bytes is unusable", len(id))
	}
	wrapped, err := kr.Wrap(ctx, dek)
	if err != nil {
		return fmt.Errorf("envelope: wrap data key: %w", err)
	}
	if len(wrapped) == 0 || len(wrapped) > maxWrappedLen {
		return fmt.Errorf("envelope: keyring returned a %d-byte wrapped key", len(wrapped))
	}
	e.keyringID, e.wrappedDEK = id, wrapped
	return nil
}

// KeyringID returns the ID of the keyring that wrapped envelope's data key,
// so a caller holding several keyrings during a KEK rotation can pick the
// Sealer that opens it. It returns ErrMalformed for bytes that do not parse.
func KeyringID(envelope []byte) (string, error) {
	e, err := parse(envelope)
	if err != nil {
		return "", err
	}
	return e.keyringID, nil
}

// parseOwn parses envelope and checks that s's keyring wrapped it. The ID
// is not authenticated by itself; a forged ID only selects which keyring
// tries, and that keyring's authenticated unwrap still has to succeed.
func (s *Sealer) parseOwn(envelope []byte) (*sealed, error) {
	e, err := parse(envelope)
	if err != nil {
		return nil, err
	}
	if e.keyringID != s.kr.ID() {
		return nil, ErrWrongKeyring
	}
	return e, nil
}

func newGCM(dek []byte) (cipher.AEAD, error) {
	if len(dek) != dekLen {
		return nil, fmt.Errorf("%w: unwrapped data key has %d bytes", ErrAuth, len(dek))
	}
	block, err := aes.NewCipher(dek)
	if err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	return cipher.NewGCM(block)
}

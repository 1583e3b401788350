package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/keyring"
)

// checkpointDomain starts every signed checkpoint message.
const checkpointDomain = "keyward-audit-checkpoint/v1\n"

// checkpointMessage is what a checkpoint signs:
//
//	"keyward-audit-checkpoint/v1\n" + decimal seq + "\n" + hash + "\n" + time
//
// where time is t in UTC formatted as RFC 3339 with nanoseconds
// (time.RFC3339Nano, trailing zeros dropped).
func checkpointMessage(seq int64, hash string, t time.Time) []byte {
	var b bytes.Buffer
	b.WriteString(checkpointDomain)
	b.WriteString(strconv.FormatInt(seq, 10))
	b.WriteByte('\n')
	b.WriteString(hash)
	b.WriteByte('\n')
	b.WriteString(t.UTC().Format(time.RFC3339Nano))
	return b.Bytes()
}

// KeyID returns the ID of an Ed25519 public key as checkpoints carry it: the
// first 16 hex digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])[:16]
}

// Signer signs checkpoints with the server's Ed25519 key. The private key is
// unexported and never printed: formatting a Signer with any verb, logging it
// with slog or marshalling it to JSON shows only its key ID.
type Signer struct {
	priv  ed25519.PrivateKey
	pub   ed25519.PublicKey
	keyID string
}

// NewSigner returns a Signer using priv, which must be a valid Ed25519
// private key (it panics otherwise, like ed25519.Sign).
func NewSigner(priv ed25519.PrivateKey) *Signer {
	if len(priv) != ed25519.PrivateKeySize {
		panic("audit: NewSigner: bad Ed25519 private key length")
	}
	p := ed25519.PrivateKey(bytes.Clone(priv))
	pub := p.Public().(ed25519.PublicKey)
	return &Signer{priv: p, pub: pub, keyID: KeyID(pub)}
}

// LoadOrCreateSigner reads the signing key from path, or creates it if the
// file does not exist. The file holds the 32-byte Ed25519 seed, raw, and is
// handled like every other key file (keyring.LoadOrCreateSecretFile): it
// appears whole with mode 0600 or not at all, and an existing file must be a
// regular file of exactly 32 bytes that neither group nor others may access.
func LoadOrCreateSigner(path string) (*Signer, error) {
	seed, err := keyring.LoadOrCreateSecretFile(path, ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("audit: signing key: %w", err)
	}
	return NewSigner(ed25519.NewKeyFromSeed(seed)), nil
}

// PublicKey returns a copy of the public key, to publish for verifiers.
func (s *Signer) PublicKey() ed25519.PublicKey { return bytes.Clone(s.pub) }

// KeyID returns the key ID that checkpoints carry.
func (s *Signer) KeyID() string { return s.keyID }

// Checkpoint signs the chain head (seq, hash) at time t. The checkpoint's
// Time is t in UTC truncated to the second, so that it survives any store's
// timestamp precision: the signature covers exactly the stored time.
func (s *Signer) Checkpoint(seq int64, hash string, t time.Time) *keyward.AuditCheckpoint {
	t = t.UTC().Truncate(time.Second)
	return &keyward.AuditCheckpoint{
		Seq:       seq,
		Hash:      hash,
		Time:      t,
		KeyID:     s.keyID,
		PublicKey: bytes.Clone(s.pub),
		Signature: ed25519.Sign(s.priv, checkpointMessage(seq, hash, t)),
	}
}

// The printing methods have value receivers so that a copied Signer value,
// not only a *Signer, is covered too.

// String describes the signer by its key ID.
func (s Signer) String() string { return "audit.Signer(keyId=" + s.keyID + ")" }

// Format prints String for every verb, so that no verb (%d, %x, %#v, ...)
// reaches the private key through reflection.
func (s Signer) Format(f fmt.State, verb rune) { io.WriteString(f, s.String()) }

// LogValue logs only the key ID.
func (s Signer) LogValue() slog.Value { return slog.GroupValue(slog.String("keyId", s.keyID)) }

// MarshalJSON encodes only the key ID and public key.
func (s Signer) MarshalJSON() ([]byte, error) {
	return []byte(`{"keyId":"` + s.keyID + `","publicKey":"` + hex.EncodeToString(s.pub) + `"}`), nil
}

// Checkpoint verification errors.
var (
	// ErrMalformedCheckpoint: a field is missing or has the wrong size, or
	// the key ID does not belong to the public key.
	ErrMalformedCheckpoint = errors.New("audit: malformed checkpoint")
	// ErrUntrustedKey: the checkpoint is signed by another key than the
	// trusted one.
	ErrUntrustedKey = errors.New("audit: checkpoint signed by an untrusted key")
	// ErrBadSignature: the signature does not verify.
	ErrBadSignature = errors.New("audit: checkpoint signature invalid")
)

// VerifyCheckpoint checks c's signature over its Seq, Hash and Time.
//
// With trusted non-nil, c must carry exactly that public key and be signed by
// it: this authenticates the checkpoint. With trusted nil, the signature is
// checked against the key c carries itself. That is self-asserted: it proves
// the checkpoint is intact, not who made it (anyone can sign with a key of
// their own), so a caller that passes nil must say so to its user, and should
// get the server's public key out of band instead.
//
// Errors: ErrMalformedCheckpoint, ErrUntrustedKey, ErrBadSignature.
func VerifyCheckpoint(c *keyward.AuditCheckpoint, trusted ed25519.PublicKey) error {
	if c == nil || c.Seq < 1 || !validHash(c.Hash) ||
		len(c.PublicKey) != ed25519.PublicKeySize || len(c.Signature) != ed25519.SignatureSize ||
		c.KeyID != KeyID(c.PublicKey) {
		return ErrMalformedCheckpoint
	}
	pub := ed25519.PublicKey(c.PublicKey)
	if trusted != nil {
		if !bytes.Equal(pub, trusted) {
			return ErrUntrustedKey
		}
	}
	if !ed25519.Verify(pub, checkpointMessage(c.Seq, c.Hash, c.Time), c.Signature) {
		return ErrBadSignature
	}
	return nil
}

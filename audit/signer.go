package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/keyward/keyward"
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
// file does not exist. The file holds the 32-byte Ed25519 seed, raw. It is
// created with mode 0600 and O_CREATE|O_EXCL; an existing file must be a
// regular file of exactly 32 bytes that neither group nor others may read or
// write (not checked on Windows, where mode bits do not describe access).
func LoadOrCreateSigner(path string) (*Signer, error) {
	s, err := loadSigner(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, fmt.Errorf("audit: generating signing key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadSigner(path) // created concurrently
	}
	if err != nil {
		return nil, fmt.Errorf("audit: creating signing key: %w", err)
	}
	_, err = f.Write(seed)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("audit: writing signing key: %w", err)
	}
	return NewSigner(ed25519.NewKeyFromSeed(seed)), nil
}

func loadSigner(path string) (*Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("audit: opening signing key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("audit: signing key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("audit: signing key %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("audit: signing key %s has mode %04o; it must not be accessible to group or others (chmod 600)", path, perm)
	}
	seed, err := io.ReadAll(io.LimitReader(f, ed25519.SeedSize+1))
	if err != nil {
		return nil, fmt.Errorf("audit: reading signing key: %w", err)
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("audit: signing key %s is not a %d-byte Ed25519 seed", path, ed25519.SeedSize)
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

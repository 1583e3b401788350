package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	tlogformat "github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/keyring"
)

// originPrefix starts the origin line of every checkpoint, and the name of
// the key that signs it; the key ID follows, so that two deployments'
// checkpoints never pass for each other's.
const originPrefix = "keyward/audit/"

// timeExtension starts the checkpoint's one extension line: when it was
// signed, in UTC to the second.
const timeExtension = "keyward-time "

// MaxNoteBytes bounds a checkpoint note read from untrusted input.
const MaxNoteBytes = 4 << 10

// KeyID returns the ID of an Ed25519 public key: the first 16 hex digits of
// its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])[:16]
}

// Origin returns the origin line (and signed-note key name) of checkpoints
// signed with pub.
func Origin(pub ed25519.PublicKey) string { return originPrefix + KeyID(pub) }

// Signer signs checkpoints with the server's Ed25519 key. The private key is
// unexported and never printed: formatting a Signer with any verb, logging it
// with slog or marshalling it to JSON shows only its key ID.
type Signer struct {
	pub    ed25519.PublicKey
	keyID  string
	signer note.Signer
	cv     *CheckpointVerifier
}

// NewSigner returns a Signer using priv, which must be a valid Ed25519
// private key (it panics otherwise, like ed25519.Sign).
func NewSigner(priv ed25519.PrivateKey) *Signer {
	if len(priv) != ed25519.PrivateKeySize {
		panic("audit: NewSigner: bad Ed25519 private key length")
	}
	pub := priv.Public().(ed25519.PublicKey)
	cv := NewCheckpointVerifier(pub)
	// The signed-note package takes keys as text; this one is built here,
	// used once and dropped.
	skey := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", cv.origin, cv.v.KeyHash(),
		base64.StdEncoding.EncodeToString(append([]byte{1}, priv.Seed()...)))
	s, err := note.NewSigner(skey)
	if err != nil {
		panic("audit: NewSigner: " + err.Error())
	}
	return &Signer{pub: bytes.Clone(pub), keyID: KeyID(pub), signer: s, cv: cv}
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

// KeyID returns the public key's ID.
func (s *Signer) KeyID() string { return s.keyID }

// Verifier returns the verifier of this signer's checkpoints.
func (s *Signer) Verifier() *CheckpointVerifier { return s.cv }

// Sign returns the checkpoint of the tree of size records with root hash
// root, signed at t (kept in UTC to the second).
func (s *Signer) Sign(size int64, root tlog.Hash, t time.Time) (*keyward.AuditCheckpoint, error) {
	t = t.UTC().Truncate(time.Second)
	body := tlogformat.Checkpoint{Origin: s.cv.origin, Size: uint64(size), Hash: root[:]}.Marshal()
	body = append(body, timeExtension+t.Format(time.RFC3339)+"\n"...)
	signed, err := note.Sign(&note.Note{Text: string(body)}, s.signer)
	if err != nil {
		return nil, fmt.Errorf("audit: signing checkpoint: %w", err)
	}
	return &keyward.AuditCheckpoint{Size: size, Root: hashHex(root), Time: t, Note: string(signed)}, nil
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

// CheckpointVerifier opens checkpoints signed by one Ed25519 key.
type CheckpointVerifier struct {
	origin string
	v      note.Verifier
	vkey   string
}

// NewCheckpointVerifier returns the verifier for checkpoints signed by pub.
func NewCheckpointVerifier(pub ed25519.PublicKey) *CheckpointVerifier {
	origin := Origin(pub)
	vkey, err := note.NewEd25519VerifierKey(origin, pub)
	if err != nil {
		panic("audit: NewCheckpointVerifier: " + err.Error())
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		panic("audit: NewCheckpointVerifier: " + err.Error())
	}
	return &CheckpointVerifier{origin: origin, v: v, vkey: vkey}
}

// ParseVerifierKey reads a signed-note verifier key
// ("keyward/audit/<id>+<hash>+<base64 key>") as `keyward audit public-key`
// prints it, and checks that its name is the origin of its key.
func ParseVerifierKey(vkey string) (*CheckpointVerifier, error) {
	vkey = strings.TrimSpace(vkey)
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("not a signed-note verifier key: %w", err)
	}
	// name+hash+key: a name holds no '+', but the base64 key may.
	parts := strings.SplitN(vkey, "+", 3)
	raw, err := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != 1 {
		return nil, errors.New("not an Ed25519 verifier key")
	}
	pub := ed25519.PublicKey(raw[1:])
	if v.Name() != Origin(pub) {
		return nil, fmt.Errorf("verifier key named %q, want %q", v.Name(), Origin(pub))
	}
	return NewCheckpointVerifier(pub), nil
}

// VerifierKey returns the signed-note verifier key.
func (c *CheckpointVerifier) VerifierKey() string { return c.vkey }

// Origin returns the origin its checkpoints carry.
func (c *CheckpointVerifier) Origin() string { return c.origin }

// Checkpoint errors.
var (
	// ErrMalformedCheckpoint: not a checkpoint note in the expected form.
	ErrMalformedCheckpoint = errors.New("audit: malformed checkpoint")
	// ErrBadSignature: no valid signature of the trusted key.
	ErrBadSignature = errors.New("audit: checkpoint not signed by the trusted key")
)

// Open verifies a checkpoint note (its signature by this key, its origin,
// its one time line) and returns the checkpoint it holds. The note is
// untrusted input. Errors wrap ErrMalformedCheckpoint or ErrBadSignature.
func (c *CheckpointVerifier) Open(n []byte) (*keyward.AuditCheckpoint, error) {
	if len(n) > MaxNoteBytes {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformedCheckpoint, MaxNoteBytes)
	}
	signed, err := note.Open(n, note.VerifierList(c.v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unverified) || errors.As(err, &invalid) {
			return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformedCheckpoint, err)
	}
	var cp tlogformat.Checkpoint
	rest, err := cp.Unmarshal([]byte(signed.Text))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedCheckpoint, err)
	}
	if cp.Origin != c.origin {
		return nil, fmt.Errorf("%w: origin %q, want %q", ErrMalformedCheckpoint, cp.Origin, c.origin)
	}
	t, ok := parseTimeLine(rest)
	if !ok || cp.Size > 1<<62 || len(cp.Hash) != len(tlog.Hash{}) {
		return nil, fmt.Errorf("%w: want one %q line after the root, a size below 2^62 and a 32-byte root", ErrMalformedCheckpoint, strings.TrimSpace(timeExtension))
	}
	return &keyward.AuditCheckpoint{Size: int64(cp.Size), Root: hex.EncodeToString(cp.Hash), Time: t, Note: string(n)}, nil
}

// parseTimeLine reads exactly "keyward-time <RFC 3339 UTC>\n".
func parseTimeLine(rest []byte) (time.Time, bool) {
	s, ok := strings.CutPrefix(string(rest), timeExtension)
	if !ok {
		return time.Time{}, false
	}
	s, ok = strings.CutSuffix(s, "\n")
	if !ok || strings.ContainsAny(s, "\n") {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || t.Format(time.RFC3339) != s || t.Location() != time.UTC {
		return time.Time{}, false
	}
	return t, true
}

// Root returns the checkpoint's root hash.
func root(c *keyward.AuditCheckpoint) (tlog.Hash, bool) { return parseHashHex(c.Root) }

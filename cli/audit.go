package cli

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/keyward/keyward/audit"
)

// maxKeyFileBytes bounds a --public-key-file.
const maxKeyFileBytes = 64 << 10

// unpinnedNote ends the UNPINNED line: what a check without a pinned key
// cannot tell.
const unpinnedNote = "anyone who can rewrite the log can also sign it with a key of their own; pass --public-key-file with the key from `keyward audit public-key` (or the data dir's audit-signing.pub), obtained out of band"

// pinnedVerifier reads --public-key-file; nil when none was given.
func pinnedVerifier(path string) (*audit.CheckpointVerifier, error) {
	if path == "" {
		return nil, nil
	}
	b, err := readLimited(path, nil, maxKeyFileBytes)
	if err != nil {
		return nil, localf("read --public-key-file: %v", err)
	}
	cv, err := parseVerifier(b)
	if err != nil {
		return nil, usagef("--public-key-file: %v", err)
	}
	return cv, nil
}

// serverVerifier returns the verifier of the key the server reports, for a
// check that has no pinned key: it proves only what the server says of
// itself, and the caller prints an UNPINNED line.
func serverVerifier(e *env, c Client) (*audit.CheckpointVerifier, error) {
	k, err := c.PublicKey(e.ctx)
	if err != nil {
		return nil, err
	}
	cv, err := audit.ParseVerifierKey(k)
	if err != nil {
		return nil, localf("the server's audit key: %v", err)
	}
	return cv, nil
}

// unpinned writes the UNPINNED line: to stdout next to a text result, to
// stderr when stdout holds JSON.
func unpinned(e *env, what string) {
	var w io.Writer = e.stdout
	if e.json {
		w = e.stderr
	}
	fmt.Fprintf(w, "UNPINNED: %s; %s.\n", what, unpinnedNote)
}

// parseVerifier reads the checkpoint key as `keyward audit public-key` prints
// it (a signed-note verifier key, "keyward/audit/<id>+<hash>+<base64>"), or
// an Ed25519 public key as PEM (PKIX), hex (the data dir's
// audit-signing.pub), base64 or the 32 raw bytes.
func parseVerifier(b []byte) (*audit.CheckpointVerifier, error) {
	if s := strings.TrimSpace(string(b)); strings.HasPrefix(s, "keyward/audit/") {
		return audit.ParseVerifierKey(s)
	}
	pub, err := parsePublicKey(b)
	if err != nil {
		return nil, err
	}
	return audit.NewCheckpointVerifier(pub), nil
}

// parsePublicKey reads an Ed25519 public key as PEM (PKIX), hex, base64 or
// the 32 raw bytes.
func parsePublicKey(b []byte) (ed25519.PublicKey, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("bad PEM public key: %v", err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, errors.New("not an Ed25519 public key")
		}
		return pub, nil
	}
	if len(b) == ed25519.PublicKeySize {
		return ed25519.PublicKey(b), nil
	}
	s := string(bytes.TrimSpace(b))
	if k, err := hex.DecodeString(s); err == nil && len(k) == ed25519.PublicKeySize {
		return ed25519.PublicKey(k), nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == ed25519.PublicKeySize {
			return ed25519.PublicKey(k), nil
		}
	}
	return nil, errors.New("not an audit public key (want the verifier key `keyward audit public-key` prints, or an Ed25519 key as PEM, hex, base64 or 32 raw bytes)")
}

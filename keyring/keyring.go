// Package keyring holds the key-encryption keys (KEKs) that wrap the data
// keys of sealed values. A keyring is addressed by URL so an operator can
// move from a local master key file to a cloud KMS without code changes:
// file:///path for a local 32-byte key, or any gocloud.dev/secrets URL
// (awskms://, gcpkms://, azurekeyvault://, hashivault://, base64key://).
//
// URLs may carry credentials (userinfo, query parameters, or the key itself
// for base64key://), so nothing in this package puts a URL's userinfo,
// query string or key material into an ID or an error.
package keyring

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// Keyring wraps and unwraps data keys under a key-encryption key that never
// leaves it. Implementations are safe for concurrent use.
type Keyring interface {
	// ID is a stable, non-secret name for the KEK, written into envelopes
	// so a later re-wrap can tell which keyring wrapped a data key.
	ID() string
	// Wrap encrypts dek under the KEK; the result is authenticated.
	Wrap(ctx context.Context, dek []byte) ([]byte, error)
	// Unwrap reverses Wrap. It fails with an error wrapping ErrUnwrap if
	// wrapped was tampered with or wrapped by another key.
	Unwrap(ctx context.Context, wrapped []byte) ([]byte, error)
	// Close releases the keyring; it must not be used afterwards.
	Close() error
}

// Sentinel errors. Callers branch on these with errors.Is; the messages
// around them name files and schemes but never key bytes or URL secrets.
var (
	// ErrBadURL means the keyring URL is malformed or unsupported.
	ErrBadURL = errors.New("keyring: bad keyring URL")
	// ErrInsecurePermissions means a key file is readable or writable by
	// group or others.
	ErrInsecurePermissions = errors.New("keyring: key file permissions too open")
	// ErrWrongSize means a key file does not hold exactly the expected
	// number of bytes, so it is not the file we wrote.
	ErrWrongSize = errors.New("keyring: key file has the wrong size")
	// ErrUnwrap means a wrapped key could not be unwrapped: tampered bytes,
	// the wrong KEK, or a KMS that refused.
	ErrUnwrap = errors.New("keyring: cannot unwrap data key")
	// ErrClosed means the keyring was used after Close.
	ErrClosed = errors.New("keyring: closed")
)

// Open returns the keyring for rawURL. A file:///abs/path URL opens an
// existing master key file (use OpenFile to create one); every other scheme
// goes to gocloud.dev/secrets. Errors wrap ErrBadURL for URLs it cannot use,
// ErrInsecurePermissions or ErrWrongSize for bad key files.
func Open(ctx context.Context, rawURL string) (Keyring, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse errors quote the whole URL; say only what is wrong.
		return nil, fmt.Errorf("%w: cannot parse it as a URL", ErrBadURL)
	}
	if u.Opaque != "" || u.Scheme == "" {
		return nil, fmt.Errorf("%w: want the form scheme://host/path", ErrBadURL)
	}
	switch scheme := strings.ToLower(u.Scheme); scheme {
	case "file":
		return openFileURL(u)
	case "base64key":
		// localsecrets treats an empty key as "make a random one", which
		// would seal values nobody can open after a restart.
		if u.Host == "" {
			return nil, fmt.Errorf("%w: base64key:// needs a key; an empty one would be random and lost on restart", ErrBadURL)
		}
	}
	return openKeeper(ctx, u, rawURL)
}

// openFileURL accepts only file:///absolute/path (or file://localhost/...):
// a relative path in a URL would silently depend on the working directory.
func openFileURL(u *url.URL) (Keyring, error) {
	if u.Host != "" && u.Host != "localhost" {
		return nil, fmt.Errorf("%w: file URLs take an absolute path, file:///path/to/master.key", ErrBadURL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: file URLs take no user, query or fragment", ErrBadURL)
	}
	if !filepath.IsAbs(u.Path) {
		return nil, fmt.Errorf("%w: file URLs take an absolute path", ErrBadURL)
	}
	return OpenFile(u.Path, false)
}

// fingerprint names a key without revealing it: the first 8 hex digits of
// a domain-separated SHA-256, enough to tell keys apart in an envelope.
func fingerprint(key []byte) string {
	h := sha256.New()
	h.Write([]byte("keyward/kek-id/v1\x00"))
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil)[:4])
}

package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/keyward/keyward/keyring"
)

// tailDomain starts every tagged message, so a tag can stand for nothing else.
const tailDomain = "keyward-audit-tail/v1\n"

// TailKey tags records until a checkpoint covers them: a tag is
// HMAC-SHA256(key, "keyward-audit-tail/v1\n" ‖ seq as 8 bytes big-endian ‖
// leaf hash). The key lives in the data dir, never in the database, so
// whoever can write only the database cannot tag a record of their own. It
// is never printed: formatting or logging a TailKey shows nothing of it.
type TailKey struct {
	key []byte
}

// NewTailKey returns a TailKey using key (32 bytes or more).
func NewTailKey(key []byte) *TailKey {
	if len(key) < 32 {
		panic("audit: NewTailKey: key shorter than 32 bytes")
	}
	return &TailKey{key: append([]byte(nil), key...)}
}

// LoadOrCreateTailKey reads the tail key from path, or creates it; the file
// is handled like every other key file (keyring.LoadOrCreateSecretFile).
func LoadOrCreateTailKey(path string) (*TailKey, error) {
	k, err := keyring.LoadOrCreateSecretFile(path, 32)
	if err != nil {
		return nil, fmt.Errorf("audit: tail key: %w", err)
	}
	return &TailKey{key: k}, nil
}

// Tag returns the tag of record seq with leaf hash leaf.
func (k *TailKey) Tag(seq int64, leaf tlog.Hash) []byte {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(tailDomain))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(seq))
	m.Write(b[:])
	m.Write(leaf[:])
	return m.Sum(nil)
}

// Check reports, in constant time, whether tag is the tag of (seq, leaf).
func (k *TailKey) Check(seq int64, leaf tlog.Hash, tag []byte) bool {
	return hmac.Equal(tag, k.Tag(seq, leaf))
}

// String, Format and LogValue keep the key out of every output.
func (k TailKey) String() string                { return "audit.TailKey" }
func (k TailKey) Format(f fmt.State, verb rune) { io.WriteString(f, k.String()) }
func (k TailKey) LogValue() slog.Value          { return slog.StringValue(k.String()) }
func (k TailKey) MarshalJSON() ([]byte, error)  { return []byte(`"audit.TailKey"`), nil }

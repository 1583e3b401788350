package keyring

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func openFile(t *testing.T, path string, create bool) Keyring {
	t.Helper()
	k, err := OpenFile(path, create)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

func TestOpenFileCreateAndReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "master.key")
	if _, err := OpenFile(path, false); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file without create: got %v, want fs.ErrNotExist", err)
	}
	k1 := openFile(t, path, true)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != KeySize {
		t.Fatalf("master key file mode %04o size %d", fi.Mode().Perm(), fi.Size())
	}

	dek := bytes.Repeat([]byte{0x42}, 32)
	wrapped, err := k1.Wrap(ctx, dek)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(wrapped, dek[:8]) {
		t.Fatal("wrapped key contains the data key in clear")
	}
	k2 := openFile(t, path, false)
	if k1.ID() != k2.ID() || !strings.HasPrefix(k1.ID(), "file:") || len(k1.ID()) != len("file:")+8 {
		t.Fatalf("IDs %q and %q: want equal file:<8 hex>", k1.ID(), k2.ID())
	}
	got, err := k2.Unwrap(ctx, wrapped)
	if err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("reopened keyring: Unwrap = %x, %v", got, err)
	}

	other := openFile(t, filepath.Join(t.TempDir(), "other.key"), true)
	if other.ID() == k1.ID() {
		t.Fatal("two random keys share an ID")
	}
	if _, err := other.Unwrap(ctx, wrapped); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("other key: got %v, want ErrUnwrap", err)
	}
}

func TestFileKeyringWrapIsRandomized(t *testing.T) {
	k := openFile(t, filepath.Join(t.TempDir(), "master.key"), true)
	dek := make([]byte, 32)
	a, _ := k.Wrap(context.Background(), dek)
	b, _ := k.Wrap(context.Background(), dek)
	if bytes.Equal(a, b) || len(a) != 12+32+16 {
		t.Fatalf("wraps: %x / %x; want distinct, 60 bytes", a, b)
	}
}

// TestAESKeyringKnownAnswer pins the wrapped-key format: nonce, then
// AES-256-GCM of the data key with AAD "keyward/kek/v1".
func TestAESKeyringKnownAnswer(t *testing.T) {
	ctx := context.Background()
	key := seq(0x00, 32)
	k, err := newAESKeyring("test", key)
	if err != nil {
		t.Fatal(err)
	}
	k.rand = bytes.NewReader(seq(0xa0, 12))
	// Cross-checked once against Python's cryptography AESGCM.
	const want = "a0a1a2a3a4a5a6a7a8a9aaab" +
		"a6593e6e018e44f82a2ccd984b378e9120fd0b43c6e2143bc4577cdd23f62b5e" +
		"2617bf555834a292c9b5aea8a495e57f"
	got, err := k.Wrap(ctx, seq(0x40, 32))
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(got) != want {
		t.Fatalf("Wrap = %x\nwant   %s", got, want)
	}
	fresh, _ := newAESKeyring("test", key)
	w, _ := hex.DecodeString(want)
	dek, err := fresh.Unwrap(ctx, w)
	if err != nil || !bytes.Equal(dek, seq(0x40, 32)) {
		t.Fatalf("Unwrap(pinned) = %x, %v", dek, err)
	}
}

// seq returns n bytes counting up from start.
func seq(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

func TestFileKeyringUnwrapTampered(t *testing.T) {
	ctx := context.Background()
	k := openFile(t, filepath.Join(t.TempDir(), "master.key"), true)
	wrapped, err := k.Wrap(ctx, seq(1, 32))
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(wrapped) * 8 {
		b := bytes.Clone(wrapped)
		b[i/8] ^= 1 << (i % 8)
		if _, err := k.Unwrap(ctx, b); !errors.Is(err, ErrUnwrap) {
			t.Fatalf("bit %d flipped: got %v, want ErrUnwrap", i, err)
		}
	}
	for _, b := range [][]byte{nil, wrapped[:len(wrapped)-1], wrapped[:28], append(bytes.Clone(wrapped), 0)} {
		if _, err := k.Unwrap(ctx, b); !errors.Is(err, ErrUnwrap) {
			t.Fatalf("%d bytes: got %v, want ErrUnwrap", len(b), err)
		}
	}
}

func TestFileKeyringClosed(t *testing.T) {
	k := openFile(t, filepath.Join(t.TempDir(), "master.key"), true)
	k.Close()
	if _, err := k.Wrap(context.Background(), seq(1, 32)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Wrap after Close: %v", err)
	}
	if _, err := k.Unwrap(context.Background(), seq(1, 60)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Unwrap after Close: %v", err)
	}
}

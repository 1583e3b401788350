package audit_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
)

// TestCheckpointMessage checks the documented signed message with nothing but
// crypto/ed25519, as an independent verifier would.
func TestCheckpointMessage(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	at := time.Date(2026, 1, 2, 3, 4, 5, 999, time.FixedZone("X", 7200))
	c := testSigner.Checkpoint(42, hash, at)

	if !c.Time.Equal(time.Date(2026, 1, 2, 1, 4, 5, 0, time.UTC)) || c.Time.Location() != time.UTC {
		t.Errorf("checkpoint time %v, want the instant in UTC truncated to the second", c.Time)
	}
	msg := "keyward-audit-checkpoint/v1\n42\n" + hash + "\n2026-01-02T01:04:05Z"
	if !ed25519.Verify(testSigner.PublicKey(), []byte(msg), c.Signature) {
		t.Errorf("signature is not over the documented message %q", msg)
	}
	if c.KeyID != testSigner.KeyID() || len(c.KeyID) != 16 || !bytes.Equal(c.PublicKey, testSigner.PublicKey()) {
		t.Errorf("checkpoint key fields: %q %x", c.KeyID, c.PublicKey)
	}
}

func TestVerifyCheckpoint(t *testing.T) {
	hash := strings.Repeat("cd", 32)
	good := func() *keyward.AuditCheckpoint { return testSigner.Checkpoint(7, hash, t0) }
	tests := []struct {
		name    string
		mutate  func(*keyward.AuditCheckpoint)
		trusted ed25519.PublicKey
		want    error
	}{
		{"trusted key", func(*keyward.AuditCheckpoint) {}, testSigner.PublicKey(), nil},
		{"self-asserted", func(*keyward.AuditCheckpoint) {}, nil, nil},
		{"other trusted key", func(*keyward.AuditCheckpoint) {}, otherSigner.PublicKey(), audit.ErrUntrustedKey},
		{"signature bit flipped", func(c *keyward.AuditCheckpoint) { c.Signature[10] ^= 1 }, testSigner.PublicKey(), audit.ErrBadSignature},
		{"seq changed", func(c *keyward.AuditCheckpoint) { c.Seq++ }, testSigner.PublicKey(), audit.ErrBadSignature},
		{"hash changed", func(c *keyward.AuditCheckpoint) { c.Hash = strings.Repeat("ce", 32) }, nil, audit.ErrBadSignature},
		{"time changed", func(c *keyward.AuditCheckpoint) { c.Time = c.Time.Add(time.Second) }, nil, audit.ErrBadSignature},
		{"public key swapped, self-asserted", func(c *keyward.AuditCheckpoint) {
			c.PublicKey, c.KeyID = otherSigner.PublicKey(), otherSigner.KeyID()
		}, nil, audit.ErrBadSignature},
		{"key ID of another key", func(c *keyward.AuditCheckpoint) { c.KeyID = otherSigner.KeyID() }, nil, audit.ErrMalformedCheckpoint},
		{"short signature", func(c *keyward.AuditCheckpoint) { c.Signature = c.Signature[:63] }, nil, audit.ErrMalformedCheckpoint},
		{"short public key", func(c *keyward.AuditCheckpoint) { c.PublicKey = c.PublicKey[:31] }, nil, audit.ErrMalformedCheckpoint},
		{"malformed hash", func(c *keyward.AuditCheckpoint) { c.Hash = "x" }, nil, audit.ErrMalformedCheckpoint},
		{"seq zero", func(c *keyward.AuditCheckpoint) { c.Seq = 0 }, nil, audit.ErrMalformedCheckpoint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			tt.mutate(c)
			if err := audit.VerifyCheckpoint(c, tt.trusted); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("VerifyCheckpoint = %v, want %v", err, tt.want)
			}
		})
	}
	if err := audit.VerifyCheckpoint(nil, nil); !errors.Is(err, audit.ErrMalformedCheckpoint) {
		t.Errorf("nil checkpoint: %v", err)
	}
}

// TestCheckpointSurvivesJSON: the time in the signature is what a store or an
// export keeps.
func TestCheckpointSurvivesJSON(t *testing.T) {
	c := testSigner.Checkpoint(3, strings.Repeat("0f", 32), time.Now())
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back keyward.AuditCheckpoint
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := audit.VerifyCheckpoint(&back, testSigner.PublicKey()); err != nil {
		t.Errorf("after a JSON round trip: %v", err)
	}
}

func TestLoadOrCreateSigner(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.key")
	s1, err := audit.LoadOrCreateSigner(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o, want 0600", fi.Mode().Perm())
	}
	if fi.Size() != ed25519.SeedSize {
		t.Errorf("key file has %d bytes, want the %d-byte seed", fi.Size(), ed25519.SeedSize)
	}
	s2, err := audit.LoadOrCreateSigner(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s1.PublicKey(), s2.PublicKey()) {
		t.Error("loading the key file again gave another key")
	}
}

func TestLoadOrCreateSignerRefuses(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("mode bits do not describe access on Windows")
	}
	dir := t.TempDir()
	write := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // beat the umask
			t.Fatal(err)
		}
		return p
	}
	seed := bytes.Repeat([]byte{9}, ed25519.SeedSize)
	tests := map[string]string{
		"group-readable": write("g.key", seed, 0o640),
		"world-readable": write("w.key", seed, 0o604),
		"group-writable": write("gw.key", seed, 0o620),
		"short":          write("short.key", seed[:31], 0o600),
		"long":           write("long.key", append(seed, '\n'), 0o600),
		"directory":      dir,
	}
	for name, path := range tests {
		t.Run(name, func(t *testing.T) {
			if s, err := audit.LoadOrCreateSigner(path); err == nil {
				t.Errorf("LoadOrCreateSigner(%s) = %v, want an error", name, s)
			}
		})
	}
}

// TestSignerNeverPrintsKey formats, logs and marshals a Signer every way
// and looks for any encoding of the seed or private key.
func TestSignerNeverPrintsKey(t *testing.T) {
	seed := bytes.Repeat([]byte{0x5a}, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	s := audit.NewSigner(priv)

	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		out = append(out, fmt.Sprintf(verb, s), fmt.Sprintf(verb, *s), fmt.Sprintf(verb, []*audit.Signer{s}))
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("signer", "s", s, "v", *s)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("signer", "s", s)
	out = append(out, logs.String())
	b, _ := json.Marshal(s)
	out = append(out, string(b))
	b, _ = json.Marshal(*s)
	out = append(out, string(b))

	secrets := []string{
		hex.EncodeToString(seed), strings.ToUpper(hex.EncodeToString(seed)),
		base64.StdEncoding.EncodeToString(seed), string(seed),
		hex.EncodeToString(priv), base64.StdEncoding.EncodeToString(priv),
		fmt.Sprint([]byte(seed)), // "[90 90 ...]"
		"90 90 90 90",
	}
	for _, o := range out {
		for _, sec := range secrets {
			if strings.Contains(o, sec) {
				t.Fatalf("output %q contains the private key", o)
			}
		}
	}
	if !strings.Contains(fmt.Sprint(s), s.KeyID()) {
		t.Errorf("%v does not name the key ID", s)
	}
}

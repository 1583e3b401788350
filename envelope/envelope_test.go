package envelope

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/keyring"
)

func fileKeyring(t *testing.T) keyring.Keyring {
	t.Helper()
	kr, err := keyring.OpenFile(filepath.Join(t.TempDir(), "master.key"), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kr.Close() })
	return kr
}

func TestKnownAnswer(t *testing.T) {
	ctx := context.Background()
	s := katSealer(t)
	got, err := s.Seal(ctx, katBinding, katPlaintext)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(got) != katEnvelopeHex {
		t.Fatalf("Seal = %x\nwant   %s", got, katEnvelopeHex)
	}
	pinned, _ := hex.DecodeString(katEnvelopeHex)
	pt, err := katSealer(t).Open(ctx, katBinding, pinned)
	if err != nil || !bytes.Equal(pt, katPlaintext) {
		t.Fatalf("Open(pinned) = %q, %v", pt, err)
	}
	if id, err := KeyringID(pinned); err != nil || id != "test:kat" {
		t.Fatalf("KeyringID = %q, %v", id, err)
	}
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := NewSealer(fileKeyring(t))
	b := Binding{"apikey-credential", "key_x", "cred_y", "value"}
	for _, pt := range [][]byte{{}, []byte("x"), []byte("kw_0123456789ABCDEFGHIJKLMNOPQRSTUV2jnASr"), bytes.Repeat([]byte{0xff}, MaxPlaintext)} {
		env, err := s.Seal(ctx, b, pt)
		if err != nil {
			t.Fatal(err)
		}
		if len(pt) > 8 && bytes.Contains(env, pt[:8]) {
			t.Fatal("envelope contains plaintext")
		}
		got, err := s.Open(ctx, b, env)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("%d-byte plaintext: Open = %d bytes, %v", len(pt), len(got), err)
		}
	}
	a, _ := s.Seal(ctx, b, []byte("same"))
	c, _ := s.Seal(ctx, b, []byte("same"))
	if bytes.Equal(a, c) {
		t.Fatal("sealing twice gave identical envelopes: data key or nonce reused")
	}
}

func TestSealRejects(t *testing.T) {
	ctx := context.Background()
	s := NewSealer(fileKeyring(t))
	if _, err := s.Seal(ctx, katBinding, make([]byte, MaxPlaintext+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized: got %v", err)
	}
	for _, b := range []Binding{{}, {"", "id", "v", "f"}, {"k", "", "v", "f"}, {"k", "id", "v", ""}} {
		if _, err := s.Seal(ctx, b, []byte("x")); !errors.Is(err, ErrBinding) {
			t.Errorf("binding %+v: got %v", b, err)
		}
	}
	if _, err := s.Seal(ctx, Binding{"k", "id", "", "f"}, []byte("x")); err != nil {
		t.Errorf("empty version refused: %v", err)
	}
}

// TestEveryBitFlipFails flips each bit of a small envelope in turn: the
// version, lengths, keyring ID, wrapped key, nonce, ciphertext and tag are
// all covered by a check.
func TestEveryBitFlipFails(t *testing.T) {
	ctx := context.Background()
	s := NewSealer(fileKeyring(t))
	env, err := s.Seal(ctx, katBinding, []byte("hi"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(env) * 8 {
		b := bytes.Clone(env)
		b[i/8] ^= 1 << (i % 8)
		if pt, err := s.Open(ctx, katBinding, b); err == nil {
			t.Fatalf("bit %d flipped: Open succeeded with %q", i, pt)
		}
	}
}

func TestOtherBindingFails(t *testing.T) {
	ctx := context.Background()
	s := NewSealer(fileKeyring(t))
	b := Binding{"secret", "prod/openai", "v1", "value"}
	env, err := s.Seal(ctx, b, []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	others := map[string]Binding{
		"other kind":     {"apikey-credential", b.ID, b.Version, b.Field},
		"other id":       {b.Kind, "prod/anthropic", b.Version, b.Field},
		"other version":  {b.Kind, b.ID, "v2", b.Field},
		"other field":    {b.Kind, b.ID, b.Version, "note"},
		"shifted bytes":  {b.Kind + "p", "rod/openai", b.Version, b.Field},
		"version → id":   {b.Kind, b.ID + "v1", "", b.Field},
		"empty binding":  {},
		"case different": {b.Kind, "Prod/openai", b.Version, b.Field},
	}
	for name, o := range others {
		pt, err := s.Open(ctx, o, env)
		if !errors.Is(err, ErrAuth) {
			t.Errorf("%s: Open = %q, %v; want ErrAuth", name, pt, err)
		}
	}
}

func TestTruncatedAndExtendedFail(t *testing.T) {
	ctx := context.Background()
	s := NewSealer(fileKeyring(t))
	env, err := s.Seal(ctx, katBinding, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(env) {
		if _, err := s.Open(ctx, katBinding, env[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: Open succeeded", n)
		}
	}
	if _, err := s.Open(ctx, katBinding, append(bytes.Clone(env), 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing byte: got %v, want ErrMalformed", err)
	}
}

func TestRewrap(t *testing.T) {
	ctx := context.Background()
	oldKR, newKR := fileKeyring(t), fileKeyring(t)
	oldS, newS := NewSealer(oldKR), NewSealer(newKR)
	env, err := oldS.Seal(ctx, katBinding, katPlaintext)
	if err != nil {
		t.Fatal(err)
	}
	re, err := oldS.Rewrap(ctx, env, newKR)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := KeyringID(re); id != newKR.ID() {
		t.Fatalf("rewrapped envelope names keyring %q, want %q", id, newKR.ID())
	}
	oldE, _ := parse(env)
	newE, _ := parse(re)
	if !bytes.Equal(oldE.ciphertext, newE.ciphertext) || !bytes.Equal(oldE.nonce, newE.nonce) {
		t.Fatal("Rewrap changed the ciphertext")
	}
	if pt, err := newS.Open(ctx, katBinding, re); err != nil || !bytes.Equal(pt, katPlaintext) {
		t.Fatalf("new keyring: Open = %q, %v", pt, err)
	}
	if _, err := oldS.Open(ctx, katBinding, re); !errors.Is(err, ErrWrongKeyring) {
		t.Fatalf("old keyring on rewrapped envelope: got %v, want ErrWrongKeyring", err)
	}
	// Even with the ID forged back, the old KEK cannot unwrap the new key.
	forged := sealed{keyringID: oldKR.ID(), wrappedDEK: newE.wrappedDEK, nonce: newE.nonce, ciphertext: newE.ciphertext}
	if _, err := oldS.Open(ctx, katBinding, forged.marshal()); !errors.Is(err, keyring.ErrUnwrap) {
		t.Fatalf("forged keyring ID: got %v, want keyring.ErrUnwrap", err)
	}
	if _, err := newS.Rewrap(ctx, env, oldKR); !errors.Is(err, ErrWrongKeyring) {
		t.Fatalf("Rewrap by a keyring that did not wrap it: got %v", err)
	}
}

func TestRewrapToCloudKeyring(t *testing.T) {
	ctx := context.Background()
	cloud, err := keyring.Open(ctx, "base64key://"+strings.Repeat("AAAA", 10)+"AAA=")
	if err != nil {
		t.Fatal(err)
	}
	defer cloud.Close()
	s := NewSealer(fileKeyring(t))
	env, _ := s.Seal(ctx, katBinding, katPlaintext)
	re, err := s.Rewrap(ctx, env, cloud)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := NewSealer(cloud).Open(ctx, katBinding, re); err != nil || !bytes.Equal(pt, katPlaintext) {
		t.Fatalf("Open after Rewrap to base64key: %q, %v", pt, err)
	}
}

func TestErrorsHidePlaintextAndKeys(t *testing.T) {
	ctx := context.Background()
	s := katSealer(t)
	env, _ := s.Seal(ctx, katBinding, katPlaintext)
	env[len(env)-1] ^= 1
	_, err := s.Open(ctx, Binding{"secret", "x", "", "value"}, env)
	if err == nil {
		t.Fatal("tampered envelope opened")
	}
	msg := err.Error()
	for _, secret := range [][]byte{katPlaintext, seq(0x40, 32), seq(0, 32)} {
		if strings.Contains(msg, string(secret[:6])) || strings.Contains(msg, hex.EncodeToString(secret[:6])) {
			t.Fatalf("error shows secret material: %s", msg)
		}
	}
}

package keyvalue_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward/keyvalue"
)

const katPepper = "keyward-known-answer-pepper-0001"

func newHasher(t testing.TB, pepper string) *keyvalue.Hasher {
	t.Helper()
	h, err := keyvalue.NewHasher([]byte(pepper))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestDigestKnownAnswers(t *testing.T) {
	rfcKey := strings.Repeat("\xaa", 131)
	tests := []struct {
		name, pepper, value, want string
	}{
		// RFC 4231 test cases 6 and 7: keys longer than the SHA-256 block.
		{"rfc4231 case 6", rfcKey, "Test Using Larger Than Block-Size Key - Hash Key First",
			"60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
		{"rfc4231 case 7", rfcKey, "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
			"9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
		// Pinned once for keyward's own value format.
		{"keyward value", katPepper, katValue,
			"4ed52ca9d908ddb3c5aff7e8c111a793d910f979d70bf80833732e7487c91e6f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHasher(t, tt.pepper)
			// Twice: the second call runs on a pooled, Reset HMAC state.
			for range 2 {
				d := h.Digest(tt.value)
				if d.String() != tt.want {
					t.Fatalf("Digest = %s, want %s", d, tt.want)
				}
			}
			m := hmac.New(sha256.New, []byte(tt.pepper))
			m.Write([]byte(tt.value))
			if got := hex.EncodeToString(m.Sum(nil)); got != tt.want {
				t.Fatalf("crypto/hmac disagrees with the pinned vector: %s", got)
			}
		})
	}
}

func TestDigestLongValueMatchesHMAC(t *testing.T) {
	// Longer than the pooled scratch buffer, so it is fed in chunks.
	v := strings.Repeat("0123456789abcdef", 70)
	h := newHasher(t, katPepper)
	m := hmac.New(sha256.New, []byte(katPepper))
	m.Write([]byte(v))
	if d := h.Digest(v); !bytes.Equal(d[:], m.Sum(nil)) {
		t.Fatal("chunked digest differs from crypto/hmac")
	}
	if h.Digest(v) == h.Digest(v[1:]) {
		t.Fatal("different values gave the same digest")
	}
}

func TestDigestDependsOnPepper(t *testing.T) {
	a := newHasher(t, katPepper)
	b := newHasher(t, strings.Replace(katPepper, "0001", "0002", 1))
	if a.Equal(a.Digest(katValue), b.Digest(katValue)) {
		t.Fatal("two peppers gave the same digest")
	}
	if !a.Equal(a.Digest(katValue), a.Digest(katValue)) {
		t.Fatal("Equal is false for identical digests")
	}
}

func TestNewHasherCopiesPepper(t *testing.T) {
	pepper := []byte(katPepper)
	h, err := keyvalue.NewHasher(pepper)
	if err != nil {
		t.Fatal(err)
	}
	clear(pepper)
	if got := h.Digest(katValue).String(); !strings.HasPrefix(got, "4ed52ca9") {
		t.Fatal("wiping the caller's pepper changed the digest")
	}
}

func TestNewHasherShortPepper(t *testing.T) {
	if _, err := keyvalue.NewHasher(make([]byte, 31)); !errors.Is(err, keyvalue.ErrShortPepper) {
		t.Fatalf("got %v, want ErrShortPepper", err)
	}
}

func TestDigestConcurrent(t *testing.T) {
	h := newHasher(t, katPepper)
	want := h.Digest(katValue)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 500 {
				if h.Digest(katValue) != want {
					t.Error("concurrent Digest disagrees")
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestHasherDoesNotPrintPepper(t *testing.T) {
	h := newHasher(t, katPepper)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "hasher", h)
	js, err := json.Marshal(h) //lint:ignore SA9005 the point is that marshalling shows nothing
	if err != nil {
		t.Fatal(err)
	}
	out := fmt.Sprintf("%v %+v %#v %v %+v", h, h, h, *h, *h) + logged.String() + string(js)
	if strings.Contains(out, katPepper) || strings.Contains(out, hex.EncodeToString([]byte(katPepper))) {
		t.Fatalf("pepper visible in output: %s", out)
	}
	if !strings.Contains(logged.String(), "[redacted]") {
		t.Fatalf("slog output is not redacted: %s", logged.String())
	}
}

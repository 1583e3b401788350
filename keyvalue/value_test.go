package keyvalue_test

import (
	"errors"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/keyward/keyward/keyvalue"
)

const (
	alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	// katValue is GenerateFrom(counter from 0, "kw"): bytes 0..31 map to
	// the first 32 alphabet characters; the checksum was computed once with
	// hash/crc32 and pinned.
	katValue = "kw_0123456789ABCDEFGHIJKLMNOPQRSTUV2jnASr"
)

// counter yields 0, 1, 2, ... wrapping at 256.
type counter struct{ n byte }

func (c *counter) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.n
		c.n++
	}
	return len(p), nil
}

// halfRejected interleaves 0xFF (low six bits 63: always rejected) with
// 0x40+i (low six bits i), so 32 characters need two 48-byte batches.
type halfRejected struct{ n int }

func (h *halfRejected) Read(p []byte) (int, error) {
	for i := range p {
		if h.n%2 == 0 {
			p[i] = 0xFF
		} else {
			p[i] = byte(0x40 + h.n/2)
		}
		h.n++
	}
	return len(p), nil
}

// withChecksum appends the checksum to s using hash/crc32 directly: an
// independent reference for the package's own allocation-free CRC loop.
func withChecksum(s string) string {
	c := uint64(crc32.ChecksumIEEE([]byte(s)))
	var out [6]byte
	for i := 5; i >= 0; i-- {
		out[i] = alphabet[c%62]
		c /= 62
	}
	return s + string(out[:])
}

func TestGenerateFromKnownAnswers(t *testing.T) {
	var seed [32]byte
	copy(seed[:], "keyward-keyvalue-known-answer-01")
	tests := []struct {
		name   string
		r      io.Reader
		prefix string
		want   string
	}{
		{"counter", &counter{}, "kw", katValue},
		{"rejected bytes skipped across batches", &halfRejected{}, "kw", katValue},
		{"chacha8", rand.NewChaCha8(seed), "kwa", "kwa_YPQsEYXK00yg4w0ICMnhsM1wcP7FCU6t1qDxls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := keyvalue.GenerateFrom(tt.r, tt.prefix)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
			if got != withChecksum(got[:len(got)-6]) {
				t.Fatal("pinned value disagrees with hash/crc32")
			}
		})
	}
}

func TestGenerateFromErrors(t *testing.T) {
	if _, err := keyvalue.GenerateFrom(&counter{}, "Kw"); !errors.Is(err, keyvalue.ErrBadPrefix) {
		t.Errorf("bad prefix: got %v, want ErrBadPrefix", err)
	}
	boom := errors.New("boom")
	if _, err := keyvalue.GenerateFrom(iotest.ErrReader(boom), "kw"); !errors.Is(err, boom) {
		t.Errorf("failing reader: got %v, want it wrapped", err)
	}
	stuck := strings.NewReader(strings.Repeat("\xff", 1<<12))
	if _, err := keyvalue.GenerateFrom(stuck, "kw"); !errors.Is(err, keyvalue.ErrBadRandomness) {
		t.Errorf("all-rejected reader: got %v, want ErrBadRandomness", err)
	}
}

func TestGenerateUniqueAndUniform(t *testing.T) {
	const n = 4000
	seen := make(map[string]bool, n)
	var counts [256]int
	for range n {
		v, err := keyvalue.Generate(keyvalue.DefaultPrefix)
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != 41 || keyvalue.Check(v) != keyvalue.Valid {
			t.Fatalf("generated %q: len %d, shape %v", v, len(v), keyvalue.Check(v))
		}
		if seen[v] {
			t.Fatalf("duplicate value after %d draws", len(seen))
		}
		seen[v] = true
		for _, c := range []byte(v[3:35]) {
			counts[c]++
		}
	}
	// Pearson chi-square over the 62 symbols, 61 degrees of freedom. The
	// mean is 61 and the standard deviation about 11; 130 is beyond six
	// sigma, so a correct generator essentially never fails, while a modulo
	// bias (e.g. byte%62) pushes the statistic into the hundreds.
	expected := float64(n*32) / 62
	var chi2 float64
	for _, c := range []byte(alphabet) {
		d := float64(counts[c]) - expected
		chi2 += d * d / expected
	}
	if chi2 > 130 || math.IsNaN(chi2) {
		t.Errorf("chi-square %.1f over 61 dof: body characters are not uniform", chi2)
	}
	for c, k := range counts {
		if k > 0 && !strings.ContainsRune(alphabet, rune(c)) {
			t.Errorf("body contains non-alphabet byte %#x", c)
		}
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		v    string
		want keyvalue.Shape
	}{
		{"valid kw", katValue, keyvalue.Valid},
		{"valid long prefix", withChecksum("abcdefghij012345_" + strings.Repeat("z", 32)), keyvalue.Valid},
		{"valid one-letter prefix", withChecksum("k_" + strings.Repeat("0", 32)), keyvalue.Valid},
		{"checksum digits above 2^32", katValue[:35] + "zzzzzz", keyvalue.BadChecksum},
		{"empty", "", keyvalue.Foreign},
		{"only prefix", "kw", keyvalue.Foreign},
		{"only prefix and underscore", "kw_", keyvalue.Foreign},
		{"one char short", katValue[:40], keyvalue.Foreign},
		{"one char long", katValue + "0", keyvalue.Foreign},
		{"no prefix", withChecksum("_" + katValue[3:35]), keyvalue.Foreign},
		{"uppercase prefix", withChecksum("KW_" + katValue[3:35]), keyvalue.Foreign},
		{"prefix starts with digit", withChecksum("1kw_" + katValue[3:35]), keyvalue.Foreign},
		{"prefix too long", withChecksum("abcdefghij0123456_" + katValue[3:35]), keyvalue.Foreign},
		{"underscore inside prefix", withChecksum("k_w_" + katValue[3:35]), keyvalue.Foreign},
		{"dash in body", withChecksum("kw_" + katValue[3:34] + "-"), keyvalue.Foreign},
		{"non-ASCII in body", withChecksum("kw_" + katValue[3:33] + "é"), keyvalue.Foreign},
		{"imported custom value", "sk-live-4f9a0c2e7b1d8e3f6a5c", keyvalue.Foreign},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keyvalue.Check(tt.v); got != tt.want {
				t.Errorf("Check(%q) = %v, want %v", tt.v, got, tt.want)
			}
		})
	}
}

// TestCheckEveryPositionFlipped changes each character of a valid value in
// turn: inside the prefix, body or checksum the shape survives and the
// checksum must catch it; at the separator the value stops being keyward's.
func TestCheckEveryPositionFlipped(t *testing.T) {
	for i := range len(katValue) {
		b := []byte(katValue)
		want := keyvalue.BadChecksum
		switch {
		case b[i] == '_':
			b[i] = 'x'
			want = keyvalue.Foreign
		case b[i] == 'z':
			b[i] = 'y'
		case b[i] == '9' || b[i] == 'Z':
			b[i] = '0'
		default:
			b[i]++
		}
		if got := keyvalue.Check(string(b)); got != want {
			t.Errorf("position %d changed (%s): got %v, want %v", i, b, got, want)
		}
	}
}

func TestValidPrefix(t *testing.T) {
	for _, p := range []string{"kw", "kwa", "k", "a0", "abcdefghijklmnop"} {
		if !keyvalue.ValidPrefix(p) {
			t.Errorf("ValidPrefix(%q) = false", p)
		}
	}
	for _, p := range []string{"", "0kw", "Kw", "k_w", "k-w", "abcdefghijklmnopq", "kw "} {
		if keyvalue.ValidPrefix(p) {
			t.Errorf("ValidPrefix(%q) = true", p)
		}
	}
}

func TestPrefixAndHint(t *testing.T) {
	admin := withChecksum("kwa_" + katValue[3:35])
	tests := []struct {
		name, v, prefix, hint string
	}{
		{"valid kw", katValue, "kw", "kw_…nASr"},
		{"valid admin", admin, "kwa", "kwa_…" + admin[len(admin)-4:]},
		{"bad checksum is not trusted", katValue[:40] + "0", "", "…"},
		{"imported values show nothing", "sk-live-4f9a0c2e7b1d8e3f6a5c", "", "…"},
		{"too short to hint", "short-secret", "", "…"},
		{"unprintable tail", strings.Repeat("a", 20) + "\x00bad", "", "…"},
		{"empty", "", "", "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keyvalue.Prefix(tt.v); got != tt.prefix {
				t.Errorf("Prefix = %q, want %q", got, tt.prefix)
			}
			if got := keyvalue.Hint(tt.v); got != tt.hint {
				t.Errorf("Hint = %q, want %q", got, tt.hint)
			}
		})
	}
}

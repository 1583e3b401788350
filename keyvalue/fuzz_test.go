package keyvalue_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/keyward/keyward/keyvalue"
)

// shapeRE is an independent, slow statement of the value format.
var shapeRE = regexp.MustCompile(`^([a-z][a-z0-9]{0,15})_[0-9A-Za-z]{38}$`)

// FuzzCheck compares Check, Prefix and Hint against the regexp and
// hash/crc32 reference; seeds live in testdata/fuzz/FuzzCheck.
func FuzzCheck(f *testing.F) {
	f.Add(katValue)
	f.Add(katValue[:40] + "0")
	f.Add("kwa_" + katValue[3:])
	f.Add("sk-live-4f9a0c2e7b1d8e3f6a5c")
	f.Fuzz(func(t *testing.T, v string) {
		got := keyvalue.Check(v)
		want := keyvalue.Foreign
		if m := shapeRE.FindStringSubmatch(v); m != nil {
			want = keyvalue.BadChecksum
			if withChecksum(v[:len(v)-6]) == v {
				want = keyvalue.Valid
			}
		}
		if got != want {
			t.Fatalf("Check(%q) = %v, reference says %v", v, got, want)
		}

		p := keyvalue.Prefix(v)
		if (p != "") != (got == keyvalue.Valid) {
			t.Fatalf("Prefix(%q) = %q with shape %v", v, p, got)
		}
		if p != "" && (!keyvalue.ValidPrefix(p) || !strings.HasPrefix(v, p+"_")) {
			t.Fatalf("Prefix(%q) = %q is not the value's prefix", v, p)
		}

		// Hint shows at most the prefix and the last four bytes.
		h := keyvalue.Hint(v)
		rest := strings.TrimPrefix(strings.TrimPrefix(h, p+"_"), "…")
		if len(rest) > 4 || !strings.HasSuffix(v, rest) {
			t.Fatalf("Hint(%q) = %q reveals more than the last four bytes", v, h)
		}
	})
}

// importErrRE lists every message ValidImported may produce: built from
// constants and numbers only, so none can echo the value.
var importErrRE = regexp.MustCompile(`^keyvalue: invalid value: (length \d+ is outside 20\.\.256|byte \d+ is not printable ASCII|keyward-shaped value with a bad checksum)$`)

func FuzzValidImported(f *testing.F) {
	f.Add("sk-live-4f9a0c2e7b1d8e3f6a5c")
	f.Add("sk-live-4f9a0c2e 7b1d8e3f6a5c")
	f.Add(katValue[:40] + "0")
	f.Add("short")
	f.Fuzz(func(t *testing.T, v string) {
		err := keyvalue.ValidImported(v)
		if err != nil {
			if !importErrRE.MatchString(err.Error()) {
				t.Fatalf("unexpected error message %q", err)
			}
			return
		}
		if len(v) < 20 || len(v) > 256 {
			t.Fatalf("accepted length %d", len(v))
		}
		for i := 0; i < len(v); i++ {
			if v[i] <= ' ' || v[i] > '~' {
				t.Fatalf("accepted byte %#x at %d", v[i], i)
			}
		}
		if keyvalue.Check(v) == keyvalue.BadChecksum {
			t.Fatal("accepted a keyward-shaped value with a bad checksum")
		}
	})
}

package keyvalue_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"testing"

	"github.com/keyward/keyward/keyvalue"
)

func BenchmarkCheck(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if keyvalue.Check(katValue) != keyvalue.Valid {
			b.Fatal("not valid")
		}
	}
}

// BenchmarkDigest compares the pooled Hasher with the two alternatives it
// was chosen over, measured in the same run: a fresh hmac.New per call, and
// cloning precomputed inner/outer SHA-256 states through hash.Cloner.
func BenchmarkDigest(b *testing.B) {
	b.Run("pooled", func(b *testing.B) {
		h := newHasher(b, katPepper)
		b.ReportAllocs()
		for b.Loop() {
			h.Digest(katValue)
		}
	})
	b.Run("hmac-new-per-call", func(b *testing.B) {
		b.ReportAllocs()
		var d keyvalue.Digest
		for b.Loop() {
			m := hmac.New(sha256.New, []byte(katPepper))
			m.Write([]byte(katValue))
			m.Sum(d[:0])
		}
	})
	b.Run("clone-precomputed", func(b *testing.B) {
		var ipad, opad [sha256.BlockSize]byte
		copy(ipad[:], katPepper)
		copy(opad[:], katPepper)
		for i := range ipad {
			ipad[i] ^= 0x36
			opad[i] ^= 0x5c
		}
		inner, outer := sha256.New(), sha256.New()
		inner.Write(ipad[:])
		outer.Write(opad[:])
		b.ReportAllocs()
		var sum [sha256.Size]byte
		for b.Loop() {
			ic, _ := inner.(hash.Cloner).Clone()
			ic.Write([]byte(katValue))
			s := ic.Sum(sum[:0])
			oc, _ := outer.(hash.Cloner).Clone()
			oc.Write(s)
			oc.Sum(sum[:0])
		}
	})
}

// verifyFixture is a Verifier over an index of n generated keys, plus the
// keys, as the gateway would hold after loading the store.
func verifyFixture(b *testing.B, n int) (*keyvalue.Verifier[int], []string) {
	b.Helper()
	h := newHasher(b, katPepper)
	var ix keyvalue.Index[int]
	keys := make([]string, n)
	for i := range keys {
		v, err := keyvalue.Generate(keyvalue.DefaultPrefix)
		if err != nil {
			b.Fatal(err)
		}
		keys[i] = v
		ix.Put(h.Digest(v), i)
	}
	return &keyvalue.Verifier[int]{Hasher: h, Index: &ix}, keys
}

// BenchmarkVerify is the gateway's per-request key check: format, checksum,
// HMAC and index lookup against 100k keys, cycling through them so lookups
// are not all served from one cache line.
func BenchmarkVerify(b *testing.B) {
	v, keys := verifyFixture(b, 100_000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, res := v.Verify(keys[i]); res != keyvalue.OK {
			b.Fatalf("Verify = %v", res)
		}
		i++
		if i == len(keys) {
			i = 0
		}
	}
}

// BenchmarkVerifyParallel is BenchmarkVerify from all cores at once, to
// show what the RWMutex read path costs under contention.
func BenchmarkVerifyParallel(b *testing.B) {
	v, keys := verifyFixture(b, 100_000)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, res := v.Verify(keys[i]); res != keyvalue.OK {
				b.Errorf("Verify = %v", res)
				return
			}
			i = (i + 7919) % len(keys)
		}
	})
}

// BenchmarkVerifyMalformed is the cost of rejecting a mistyped key, which
// never reaches the HMAC.
func BenchmarkVerifyMalformed(b *testing.B) {
	v, _ := verifyFixture(b, 1)
	bad := katValue[:40] + "0"
	b.ReportAllocs()
	for b.Loop() {
		if _, res := v.Verify(bad); res != keyvalue.Malformed {
			b.Fatalf("Verify = %v", res)
		}
	}
}

package audit_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/keyward/keyward/audit"
)

// FuzzVerifyJSONL: an untrusted file never panics the verifier, and a file
// it accepts with the pinned key has every record under a signed checkpoint.
func FuzzVerifyJSONL(f *testing.F) {
	var buf bytes.Buffer
	w := audit.NewJSONLWriter(&buf)
	recs := chain(f, 3)
	w.WriteKey(testSigner.Verifier())
	for _, r := range recs {
		w.WriteRecord(r)
	}
	w.WriteCheckpoint(checkpoint(f, recs))
	f.Add(buf.Bytes())
	f.Add([]byte(`{"type":"record","seq":1,"Seq":2,"hash":"","event":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := audit.VerifyJSONL(bytes.NewReader(b), audit.FileOptions{Pinned: testSigner.Verifier()})
		if err != nil {
			t.Fatal(err)
		}
		if res.OK && res.TailRecords != 0 {
			t.Fatalf("accepted %d records no checkpoint covers", res.TailRecords)
		}
	})
}

// FuzzOpenCheckpoint: a note never panics Open, and one it accepts says what
// the signer signed.
func FuzzOpenCheckpoint(f *testing.F) {
	f.Add([]byte(checkpoint(f, chain(f, 2)).Note))
	f.Add([]byte("keyward/audit/x\n1\nAAAA\n\n— keyward/audit/x AAAA\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := testSigner.Verifier().Open(b)
		if err != nil {
			return
		}
		if c.Size < 0 || len(c.Root) != 64 {
			t.Fatalf("accepted %+v", c)
		}
	})
}

// FuzzCanonicalize: the canonical form is valid JSON of the same value, and
// canonicalizing it again changes nothing.
func FuzzCanonicalize(f *testing.F) {
	b, _ := audit.Canonical(event(1))
	f.Add(b)
	f.Add([]byte(`{"a":"\u00e9<>&","b":[1,2.50,{"c":null}],"d":true}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := audit.Canonicalize(in)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid output %q", out)
		}
		again, err := audit.Canonicalize(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q → %q (%v)", out, again, err)
		}
	})
}

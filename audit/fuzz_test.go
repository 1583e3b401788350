package audit_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
)

// FuzzVerifyJSONL feeds arbitrary bytes to VerifyJSONL: it must not panic,
// must not fail to read an in-memory input, and a failure must name a record
// and a reason. Seeds (small intact and tampered exports) live in
// testdata/fuzz/FuzzVerifyJSONL; they are kept small because the fuzzer
// minimizes every new input, and each execution verifies Ed25519 signatures.
func FuzzVerifyJSONL(f *testing.F) {
	for _, seed := range jsonlSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		trusted := testSigner.PublicKey()
		if len(data)%2 == 1 {
			trusted = nil // self-asserted checkpoints, for half the inputs
		}
		res, err := audit.VerifyJSONL(bytes.NewReader(data), trusted)
		if err != nil {
			t.Fatalf("VerifyJSONL on in-memory input: %v", err)
		}
		if res.OK != (res.FirstBadSeq == 0) || res.OK != (res.Reason == "") || res.Records < 0 {
			t.Fatalf("inconsistent result %+v", *res)
		}
	})
}

// jsonlSeeds returns small exports: two records with minimal events and a
// checkpoint on the second, intact and tampered.
func jsonlSeeds(t testing.TB) [][]byte {
	var lines []string
	prev := ""
	for i := 1; i <= 2; i++ {
		r, err := audit.NewRecord(int64(i), prev, &keyward.AuditEvent{EventName: "apikeys:Get", EventTime: t0})
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, recordLine(t, r))
		prev = r.Hash
	}
	lines = append(lines, checkpointLine(t, testSigner.Checkpoint(2, prev, t0)))
	return [][]byte{
		[]byte(strings.Join(lines, "")),
		[]byte(lines[0] + lines[2]),
		[]byte(lines[1] + lines[0]),
		[]byte(`{"type":"checkpoint","seq":1}` + "\n"),
		[]byte(`{"type":"record","seq":1,"prevHash":"","hash":"","event":{}}`),
	}
}

// FuzzCanonical decodes arbitrary JSON as an event and canonicalizes it:
// decoding the canonical bytes and canonicalizing again must give the same
// bytes. Seeds live in testdata/fuzz/FuzzCanonical.
func FuzzCanonical(f *testing.F) {
	for i := 1; i <= 3; i++ {
		b, _ := audit.Canonical(event(i))
		f.Add(b)
	}
	f.Add([]byte(`{"eventTime":"2026-01-02T03:04:05.123456789+05:30","requestParameters":{"n":12345678901234567890,"f":-0,"e":1E400}}`))
	f.Add([]byte(`{"requestParameters":{"b":1,"a":{"\u2028<&>":"\ud800"}},"resources":["kw:secret/é"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev keyward.AuditEvent
		if json.Unmarshal(data, &ev) != nil {
			return
		}
		c1, err := audit.Canonical(&ev)
		if err != nil {
			return // e.g. a time whose year leaves 0-9999 in UTC
		}
		var again keyward.AuditEvent
		if err := json.Unmarshal(c1, &again); err != nil {
			t.Fatalf("canonical bytes %s do not decode: %v", c1, err)
		}
		c2, err := audit.Canonical(&again)
		if err != nil {
			t.Fatalf("canonicalizing %s again: %v", c1, err)
		}
		if !bytes.Equal(c1, c2) {
			t.Fatalf("canonical form is not stable:\n%s\n%s", c1, c2)
		}
	})
}

// FuzzRecord builds a record from an arbitrary decoded event and checks that
// it verifies, directly and through a JSONL export. Seeds live in
// testdata/fuzz/FuzzRecord.
func FuzzRecord(f *testing.F) {
	f.Add([]byte(`{"eventName":"secrets:GetSecretValue","requestParameters":{"SecretId":"<prod>/db"}}`), int64(1))
	f.Add([]byte(`{"userAgent":"a\u2029b","responseElements":{"x":[1,2.5,null,true]}}`), int64(42))
	f.Fuzz(func(t *testing.T, data []byte, seq int64) {
		var ev keyward.AuditEvent
		if json.Unmarshal(data, &ev) != nil || seq < 1 || seq == 1<<63-1 {
			return
		}
		prev := ""
		if seq > 1 {
			prev = strings.Repeat("5a", 32)
		}
		r, err := audit.NewRecord(seq, prev, &ev)
		if err != nil {
			return
		}
		v := audit.NewVerifierAt(seq, prev, nil)
		if !v.Record(r) {
			t.Fatalf("fresh record does not verify: %+v", *v.Result())
		}
		var buf bytes.Buffer
		if err := audit.NewJSONLWriter(&buf).WriteRecord(r); err != nil {
			t.Fatal(err)
		}
		if seq == 1 {
			res, err := audit.VerifyJSONL(&buf, nil)
			if err != nil || !res.OK {
				t.Fatalf("exported record does not verify: %+v, %v\n%s", res, err, buf.Bytes())
			}
		}
	})
}

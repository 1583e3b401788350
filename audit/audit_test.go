package audit_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
)

// TestLinkKnownAnswer pins Link on the genesis and shows how to recompute it
// with nothing but crypto/sha256 (or `(head -c32 /dev/zero; printf '{}') |
// sha256sum`).
func TestLinkKnownAnswer(t *testing.T) {
	const want = "fb1634c4e6cd4b1f1afe3ce2d6ef080f7ac5d1f357d723ad4dfca782733b62db"
	if got := audit.Link("", []byte("{}")); got != want {
		t.Errorf(`Link("", "{}") = %s, want %s`, got, want)
	}
	sum := sha256.Sum256(append(make([]byte, 32), "{}"...))
	if hex.EncodeToString(sum[:]) != want {
		t.Error("the pinned vector is not SHA-256(32 zero bytes ‖ {})")
	}
	// The previous hash enters decoded: 32 bytes, not 64 hex characters.
	prev := strings.Repeat("ab", 32)
	sum = sha256.Sum256(append(bytes.Repeat([]byte{0xab}, 32), "{}"...))
	if got := audit.Link(prev, []byte("{}")); got != hex.EncodeToString(sum[:]) {
		t.Errorf("Link(%s, {}) = %s, want %x", prev, got, sum)
	}
}

func TestLinkRejectsMalformedPrevHash(t *testing.T) {
	for _, prev := range []string{
		"ab",                     // short
		strings.Repeat("AB", 32), // upper case: one textual form only
		strings.Repeat("zz", 32), // not hex
		strings.Repeat("ab", 33), // long
	} {
		if got := audit.Link(prev, []byte("{}")); got != "" {
			t.Errorf("Link(%q) = %q, want \"\"", prev, got)
		}
	}
}

// TestChainKnownAnswer pins a three-record chain: canonical bytes and hashes.
func TestChainKnownAnswer(t *testing.T) {
	want := []struct{ event, hash string }{
		{`{"eventVersion":"1.0","eventID":"00000000-0000-4000-8000-000000000001","eventTime":"2026-01-02T03:04:01Z","eventSource":"keyward","eventName":"apikeys:Create","eventType":"AdminCall","userIdentity":{"type":"Principal","principalId":"prn_1"},"readOnly":false}`,
			"23b43ba09578238211e3ed85596c5d35bf033b54ac9dd81cd9a76a40ccfc72f6"},
		{`{"eventVersion":"1.0","eventID":"00000000-0000-4000-8000-000000000002","eventTime":"2026-01-02T03:04:02Z","eventSource":"keyward","eventName":"apikeys:Create","eventType":"AdminCall","userIdentity":{"type":"Principal","principalId":"prn_1"},"readOnly":false}`,
			"100c70c0e49ffd8752e101b910d804af0d70ca506a7f930cc7b0f5147d480605"},
		{`{"eventVersion":"1.0","eventID":"00000000-0000-4000-8000-000000000003","eventTime":"2026-01-02T03:04:03Z","eventSource":"keyward","eventName":"apikeys:Create","eventType":"AdminCall","userIdentity":{"type":"Principal","principalId":"prn_1"},"readOnly":false}`,
			"de22bde791ee69bbaaca75d9850c4992040948c6d7b334d53db045243f95afe1"},
	}
	prev := ""
	for i, w := range want {
		ev := event(i + 1)
		ev.RequestParameters = nil
		// A time in another zone gives the same canonical bytes.
		ev.EventTime = ev.EventTime.In(time.FixedZone("CET", 3600))
		r, err := audit.NewRecord(int64(i+1), prev, ev)
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Event) != w.event {
			t.Errorf("record %d event:\n got %s\nwant %s", i+1, r.Event, w.event)
		}
		if r.Hash != w.hash || r.PrevHash != prev {
			t.Errorf("record %d: prevHash %q hash %s, want %q %s", i+1, r.PrevHash, r.Hash, prev, w.hash)
		}
		// Recompute by hand: SHA-256(decoded prev ‖ event bytes).
		p := make([]byte, 32)
		if prev != "" {
			p, _ = hex.DecodeString(prev)
		}
		sum := sha256.Sum256(append(p, w.event...))
		if hex.EncodeToString(sum[:]) != w.hash {
			t.Errorf("pinned hash %d is not SHA-256(prev ‖ event)", i+1)
		}
		prev = r.Hash
	}
}

func TestCanonicalSortsMapsAndIsDeterministic(t *testing.T) {
	ev := event(1)
	ev.RequestParameters = map[string]any{"z": 1, "a": map[string]any{"y": true, "b": nil}, "m": []any{"<&>"}}
	a, err := audit.Canonical(ev)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(a), `"requestParameters":{"a":{"b":null,"y":true},"m":["\u003c\u0026\u003e"],"z":1}`) {
		t.Errorf("canonical bytes %s: maps not sorted or HTML not escaped", a)
	}
	for range 20 {
		b, _ := audit.Canonical(ev)
		if !bytes.Equal(a, b) {
			t.Fatal("Canonical is not deterministic")
		}
	}
	if _, err := audit.Canonical(nil); err == nil {
		t.Error("Canonical(nil) succeeded")
	}
}

func TestNewRecordRejects(t *testing.T) {
	good := strings.Repeat("0", 64)
	tests := []struct {
		name string
		seq  int64
		prev string
		ev   *keyward.AuditEvent
	}{
		{"seq zero", 0, "", event(1)},
		{"negative seq", -1, "", event(1)},
		{"short prevHash", 2, "abc", event(1)},
		{"upper-case prevHash", 2, strings.ToUpper(strings.Repeat("ab", 32)), event(1)},
		{"nil event", 2, good, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := audit.NewRecord(tt.seq, tt.prev, tt.ev)
			if code := keyward.ErrorCode(err); code != keyward.EINVALID {
				t.Errorf("code = %q (%v), want %q", code, err, keyward.EINVALID)
			}
		})
	}
	bad := event(1)
	bad.RequestParameters = map[string]any{"f": func() {}}
	if _, err := audit.NewRecord(1, "", bad); keyward.ErrorCode(err) != keyward.EINTERNAL {
		t.Errorf("unencodable event: %v, want an internal error", err)
	}
}

func TestAppend(t *testing.T) {
	s := newFakeStore()
	ctx := t.Context()
	for i := 1; i <= 3; i++ {
		r, err := audit.Append(ctx, s.tx, event(i))
		if err != nil {
			t.Fatal(err)
		}
		if r.Seq != int64(i) {
			t.Errorf("Append #%d got Seq %d", i, r.Seq)
		}
	}
	want := chain(t, 3)
	for i, r := range s.tx.records {
		if r.Hash != want[i].Hash || r.PrevHash != want[i].PrevHash {
			t.Errorf("record %d differs from NewRecord's chain", i+1)
		}
	}
	res, err := audit.VerifyStore(ctx, s, nil)
	if err != nil || !res.OK || res.Records != 3 {
		t.Errorf("VerifyStore = %+v, %v", res, err)
	}
}

func TestMarkerAndRedact(t *testing.T) {
	if got := audit.Marker([]byte{0xde, 0xad}); got != "hmac-sha256:dead" {
		t.Errorf("Marker = %q", got)
	}
	mac := func(v []byte) []byte { s := sha256.Sum256(v); return s[:] } // stands in for the pepper HMAC
	params := map[string]any{
		"name":         "ci",
		"SecretString": "hunter2",
		"SecretBinary": []byte{1, 2},
		"value":        map[string]any{"k": "v"},
	}
	audit.Redact(params, mac, "SecretString", "SecretBinary", "value", "absent")
	if params["name"] != "ci" {
		t.Error("Redact touched a key it was not given")
	}
	if _, ok := params["absent"]; ok {
		t.Error("Redact added an absent key")
	}
	if want := audit.Marker(mac([]byte("hunter2"))); params["SecretString"] != want {
		t.Errorf("SecretString = %v, want %v", params["SecretString"], want)
	}
	if want := audit.Marker(mac([]byte{1, 2})); params["SecretBinary"] != want {
		t.Errorf("SecretBinary = %v, want %v", params["SecretBinary"], want)
	}
	if want := audit.Marker(mac([]byte(`{"k":"v"}`))); params["value"] != want {
		t.Errorf("value = %v, want %v", params["value"], want)
	}
}

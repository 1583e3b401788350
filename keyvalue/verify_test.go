package keyvalue_test

import (
	"testing"

	"github.com/keyward/keyward/keyvalue"
)

func TestVerify(t *testing.T) {
	const imported = "sk-live-4f9a0c2e7b1d8e3f6a5c"
	h := newHasher(t, katPepper)
	var ix keyvalue.Index[string]
	ix.Put(h.Digest(katValue), "key_generated")
	ix.Put(h.Digest(imported), "key_imported")
	// A bad-checksum value whose digest is (wrongly) indexed proves that
	// such values are rejected before hashing, not merely not found.
	badChecksum := katValue[:40] + "0"
	ix.Put(h.Digest(badChecksum), "must_not_match")
	ix.Put(h.Digest("short"), "must_not_match")
	other, err := keyvalue.Generate("kw")
	if err != nil {
		t.Fatal(err)
	}
	v := keyvalue.Verifier[string]{Hasher: h, Index: &ix}

	tests := []struct {
		name   string
		value  string
		want   string
		result keyvalue.Result
	}{
		{"generated key", katValue, "key_generated", keyvalue.OK},
		{"imported key", imported, "key_imported", keyvalue.OK},
		{"valid but unknown", other, "", keyvalue.Unknown},
		{"imported-shaped but unknown", imported + "x", "", keyvalue.Unknown},
		{"bad checksum", badChecksum, "", keyvalue.Malformed},
		{"too short for an import", "short", "", keyvalue.Malformed},
		{"whitespace", "sk-live 4f9a0c2e7b1d8e3f6a5c", "", keyvalue.Malformed},
		{"empty", "", "", keyvalue.Malformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, res := v.Verify(tt.value)
			if res != tt.result || got != tt.want {
				t.Fatalf("Verify = %q, %v; want %q, %v", got, res, tt.want, tt.result)
			}
		})
	}
}

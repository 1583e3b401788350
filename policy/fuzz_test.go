package policy_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/policy"
)

// FuzzParse feeds arbitrary bytes to Parse: it must not panic, every error
// must be EINVALID, and a document it accepts must come back equal after
// encoding/json marshalling and a second Parse (parse∘marshal is identity).
// Seeds live in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":["apikeys:*"],"Resource":"*"}]}`))
	f.Add([]byte(`{"Statement":{"Effect":"Deny"}}`))
	f.Add([]byte(`{"Statement":[{"Effect":"Deny","Action":"secrets:Get*","Resource":"kw:secret/<prod>/*","Condition":{"NotIpAddress":{"kw:SourceIp":["10.0.0.0/8","::ffff:10.0.0.0/104"]}}}]}`))
	f.Add([]byte(`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"kw:CurrentTime":"2030-01-01T00:00:00.5+01:00"}}}]}`))
	for _, p := range policy.BuiltIns() {
		b, _ := json.Marshal(p.Document)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		d, err := policy.Parse(doc)
		if err != nil {
			if code := keyward.ErrorCode(err); code != keyward.EINVALID {
				t.Fatalf("Parse error code = %q (%v), want %q", code, err, keyward.EINVALID)
			}
			return
		}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("marshal parsed document: %v", err)
		}
		if len(b) > policy.MaxDocumentSize {
			// Marshalling may grow a document ("<" becomes "\u003c",
			// an invalid byte becomes U+FFFD) past the input limit.
			return
		}
		again, err := policy.Parse(b)
		if err != nil {
			t.Fatalf("re-Parse of %s: %v", b, err)
		}
		if !reflect.DeepEqual(d, again) {
			t.Fatalf("parse∘marshal is not identity:\n%#v\n%#v", d, again)
		}
	})
}

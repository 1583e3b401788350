package strictjson_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/strictjson"
)

// FuzzCheck holds Check to encoding/json and to its own promises: what it
// accepts is one valid JSON value in valid UTF-8; what it refuses as
// malformed, encoding/json refuses too; a duplicate it reports is a key the
// input holds. Seeds live in testdata/fuzz/FuzzCheck.
func FuzzCheck(f *testing.F) {
	f.Add([]byte(`{"name":"k","tags":{"a":"b","A":"c"}}`))
	f.Add([]byte(`{"document":{"Statement":[{"Effect":"Deny","Effect":"Allow"}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		err := strictjson.Check(b)
		if err == nil {
			if !utf8.Valid(b) || !json.Valid(b) {
				t.Fatalf("accepted %q, which is not valid JSON in UTF-8", b)
			}
			return
		}
		var e *strictjson.Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v is not a *strictjson.Error", err)
		}
		if e.Offset < 0 || e.Offset > int64(len(b)) {
			t.Fatalf("offset %d outside the input of %d bytes", e.Offset, len(b))
		}
		switch e.Problem {
		case strictjson.InvalidUTF8:
			if utf8.Valid(b) {
				t.Fatalf("InvalidUTF8 for valid UTF-8 %q", b)
			}
		case strictjson.Syntax, strictjson.Empty, strictjson.TrailingData:
			if json.Valid(b) {
				t.Fatalf("problem %d for %q, which encoding/json accepts", e.Problem, b)
			}
		case strictjson.DuplicateKey:
			// Reported as soon as it is read: the input may still be
			// malformed further on. The key is in it, unless escaped.
			if !strings.Contains(string(b), e.Key) && !strings.Contains(string(b), `\`) {
				t.Fatalf("duplicate %q reported in %q", e.Key, b)
			}
		}
	})
}

package strictjson_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/strictjson"
)

func TestCheck(t *testing.T) {
	deep := strings.Repeat("[", strictjson.MaxDepth) + strings.Repeat("]", strictjson.MaxDepth)
	tooDeep := "[" + deep + "]"
	tests := []struct {
		name, in string
		want     strictjson.Problem // 0: accepted
		key      string
	}{
		{"object", `{"a":1,"b":[{"a":2},{"a":3}],"c":{"a":{"b":null}}}`, 0, ""},
		{"scalar", ` "x" `, 0, ""},
		{"keys differ by case", `{"env":"a","Env":"b"}`, strictjson.DuplicateKey, "Env"},
		{"surrogate pair", `{"k":"\ud83d\ude00"}`, 0, ""},
		{"escaped quote before u", `{"k":"\\u00"}`, 0, ""},
		{"non-ASCII", `{"ключ":"é"}`, 0, ""},
		{"deepest allowed", deep, 0, ""},

		{"invalid UTF-8 in a value", "{\"k\":\"\xff\"}", strictjson.InvalidUTF8, ""},
		{"invalid UTF-8 in a key", "{\"\xc3\":1}", strictjson.InvalidUTF8, ""},
		{"invalid UTF-8 outside strings", "{\"k\":1}\xfe", strictjson.InvalidUTF8, ""},
		{"overlong encoding", "\"\xc0\xaf\"", strictjson.InvalidUTF8, ""},
		{"encoded surrogate", "\"\xed\xa0\x80\"", strictjson.InvalidUTF8, ""},
		{"lone high surrogate", `{"k":"\ud800"}`, strictjson.LoneSurrogate, ""},
		{"lone low surrogate", `{"k":"\udc00x"}`, strictjson.LoneSurrogate, ""},
		{"high then not low", `{"k":"\ud800\u0041"}`, strictjson.LoneSurrogate, ""},
		{"surrogate in a key", `{"\uDBFF":1}`, strictjson.LoneSurrogate, ""},
		{"BOM", "\ufeff{}", strictjson.Syntax, ""},
		{"truncated", `{"a":`, strictjson.Syntax, ""},
		{"trailing comma", `{"a":1,}`, strictjson.Syntax, ""},
		{"empty", " \n", strictjson.Empty, ""},
		{"two values", `{}{}`, strictjson.TrailingData, ""},
		{"garbage after", `{"a":1} x`, strictjson.TrailingData, ""},
		{"too deep", tooDeep, strictjson.TooDeep, ""},
		{"duplicate top-level key", `{"a":1,"a":2}`, strictjson.DuplicateKey, "a"},
		{"duplicate after unescaping", `{"name":1,"na\u006de":2}`, strictjson.DuplicateKey, "name"},
		{"duplicate deep in an array", `{"x":[{"k":1},{"t":{"env":"a","env":"b"}}]}`, strictjson.DuplicateKey, "env"},
		{"duplicate empty key", `{"":1,"":2}`, strictjson.DuplicateKey, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := strictjson.Check([]byte(tt.in))
			if tt.want == 0 {
				if err != nil {
					t.Fatalf("Check(%q) = %v, want nil", tt.in, err)
				}
				return
			}
			var e *strictjson.Error
			if !errors.As(err, &e) {
				t.Fatalf("Check(%q) = %v, want a *strictjson.Error", tt.in, err)
			}
			if e.Problem != tt.want || e.Key != tt.key {
				t.Errorf("Check(%q) = problem %d key %q, want %d %q", tt.in, e.Problem, e.Key, tt.want, tt.key)
			}
			if e.Offset < 0 || e.Offset > int64(len(tt.in)) {
				t.Errorf("offset %d outside the input", e.Offset)
			}
		})
	}
}

// TestKeysFoldAsTheDecoderFoldsThem: keys encoding/json would take for the
// same struct field are the same key (it keeps the last).
func TestKeysFoldAsTheDecoderFoldsThem(t *testing.T) {
	for _, in := range []string{
		`{"name":"a","NAME":"b"}`,
		`{"name":"a","Name":"b"}`,
		`{"secretString":"a","\u017fecretString":"b"}`,
		`{"kid":"a","\u212aid":"b"}`,
		`{"tags":{"Env":"a","env":"b"}}`,
	} {
		var e *strictjson.Error
		if err := strictjson.Check([]byte(in)); !errors.As(err, &e) || e.Problem != strictjson.DuplicateKey {
			t.Errorf("Check(%s) = %v, want a duplicate key", in, err)
		}
	}
	for _, in := range []string{`{"name":"a","names":"b"}`, `{"a":1,"b":{"a":2}}`, `{"\u00e9":1,"\u00c9x":2}`} {
		if err := strictjson.Check([]byte(in)); err != nil {
			t.Errorf("Check(%s) = %v, want nil", in, err)
		}
	}
}

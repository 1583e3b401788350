package llmwire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseRequestAccepted(t *testing.T) {
	deep := `{"x":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `,"model":"m"}`
	manyKeys := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"model":"m"`)
		for i := range n {
			fmt.Fprintf(&b, `,"k%d":%d`, i, i)
		}
		b.WriteString(`}`)
		return b.String()
	}
	none := Request{MaxTokens: -1}
	model := func(m string) Request { return Request{Model: []byte(m), HasModel: true, MaxTokens: -1} }
	tests := []struct {
		name, body string
		want       Request
	}{
		{"empty", ``, none},
		{"whitespace only", " \t\r\n ", none},
		{"empty object", `{}`, none},
		{"empty object with spaces", " { \n } ", none},
		{"model", `{"model":"gpt-4o"}`, model("gpt-4o")},
		{"surrounding whitespace", "\r\n\t {\"model\" :\n\"gpt-4o\" }\n", model("gpt-4o")},
		{"escaped model value", `{"model":"\u0067pt-4"}`, model("gpt-4")},
		{"escaped solidus", `{"model":"org\/m"}`, model("org/m")},
		{"escaped quote and backslash", `{"model":"a\"b\\c"}`, model(`a"b\c`)},
		{"surrogate pair", `{"model":"m\ud83d\ude00"}`, model("m\U0001F600")},
		{"raw UTF-8 model", `{"model":"модель-7b"}`, model("модель-7b")},
		{"escaped key model", `{"mod\u0065l":"gpt-4"}`, model("gpt-4")},
		{"fully escaped key", `{"\u006d\u006f\u0064\u0065\u006c":"gpt-4"}`, model("gpt-4")},
		{"escaped key stream", `{"\u0073tream":true}`, Request{MaxTokens: -1, Stream: true}},
		{"max_tokens", `{"model":"m","max_tokens":100}`, Request{Model: []byte("m"), HasModel: true, MaxTokens: 100}},
		{"max_tokens zero", `{"max_tokens":0}`, Request{MaxTokens: 0}},
		{"max_tokens null", `{"max_tokens":null}`, none},
		{"max_tokens at the limit", `{"max_tokens":2147483647}`, Request{MaxTokens: MaxTokensLimit}},
		{"max_completion_tokens at the limit", `{"max_completion_tokens":2147483647}`, Request{MaxTokens: MaxTokensLimit}},
		{"max_completion_tokens larger", `{"max_tokens":100,"max_completion_tokens":200}`, Request{MaxTokens: 200}},
		{"max_tokens larger", `{"max_completion_tokens":200,"max_tokens":300}`, Request{MaxTokens: 300}},
		{"max_completion_tokens only", `{"max_completion_tokens":7}`, Request{MaxTokens: 7}},
		{"both null", `{"max_completion_tokens":null,"max_tokens":null}`, none},
		{"stream true", `{"stream":true}`, Request{MaxTokens: -1, Stream: true}},
		{"stream false", `{"stream":false}`, none},
		{"stream null", `{"stream":null}`, none},
		{"include_usage", `{"stream":true,"stream_options":{"include_usage":true}}`, Request{MaxTokens: -1, Stream: true, IncludeUsage: true}},
		{"include_usage false", `{"stream_options":{"include_usage":false}}`, none},
		{"include_usage null", `{"stream_options":{"include_usage":null}}`, none},
		{"stream_options null", `{"stream_options":null}`, none},
		{"stream_options empty", `{"stream_options":{ }}`, none},
		{"stream_options other keys", `{"stream_options":{"continuous_usage_stats":true,"x":[1,{"a":null}],"include_usage":true}}`, Request{MaxTokens: -1, IncludeUsage: true}},
		{"stream_options escaped include_usage", `{"stream_options":{"include_u\u0073age":true}}`, Request{MaxTokens: -1, IncludeUsage: true}},
		{"similar but different keys", `{"models":1,"modelx":1,"model_name":"x","streaming":true,"max_output_tokens":5,"stream_option":1,"mode":1}`, none},
		{"nested case variants and duplicates are not read", `{"messages":[{"role":"user","content":"hi","Model":"x","model":"y","model":"z"}],"metadata":{"model":"a","MODEL":"b"},"model":"m"}`, model("m")},
		{"lone surrogate in other value", `{"x":"\ud800","model":"m"}`, model("m")},
		{"non-ASCII keys", `{"ключ":1,"κλειδί":{"ſ":"K"},"model":"m"}`, model("m")},
		{"empty key", `{"":1,"model":"m"}`, model("m")},
		{"numbers", `{"t":1.5e-3,"n":-1,"z":0,"e":1E+2,"f":-0.0,"model":"m"}`, model("m")},
		{"literals", `{"a":true,"b":false,"c":null,"d":[],"e":{},"f":[true,false,null,"",0,{}]}`, none},
		{"depth at limit", deep, model("m")},
		{"32 keys", manyKeys(31), model("m")},
		{"many keys", manyKeys(200), model("m")},
		{"long escaped keys", `{"` + strings.Repeat(`\u0061`, 300) + `":1,"` + strings.Repeat(`\u0062`, 300) + `":2,"` + strings.Repeat("a", 299) + `":3,"model":"m"}`, model("m")},
		{"full request", chatRequest, Request{Model: []byte("gpt-4o-mini"), HasModel: true, MaxTokens: 512, Stream: true, IncludeUsage: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRequest([]byte(tt.body))
			if err != nil {
				t.Fatalf("ParseRequest(%q) = %v", tt.body, err)
			}
			if !equalRequest(got, tt.want) {
				t.Errorf("ParseRequest(%q) = %s, want %s", tt.body, fmtRequest(got), fmtRequest(tt.want))
			}
			checkAgainstEncodingJSON(t, []byte(tt.body), got)
		})
	}
}

func equalRequest(a, b Request) bool {
	return bytes.Equal(a.Model, b.Model) && (a.Model == nil) == (b.Model == nil) && a.HasModel == b.HasModel &&
		a.MaxTokens == b.MaxTokens && a.Stream == b.Stream && a.IncludeUsage == b.IncludeUsage
}

func fmtRequest(r Request) string {
	return fmt.Sprintf("{Model:%q HasModel:%v MaxTokens:%d Stream:%v IncludeUsage:%v}", r.Model, r.HasModel, r.MaxTokens, r.Stream, r.IncludeUsage)
}

func TestParseRequestModelAliasesBody(t *testing.T) {
	body := []byte(`{"model":"gpt-4"}`)
	r, err := ParseRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	if &r.Model[0] != &body[len(`{"model":"`)] {
		t.Error("unescaped model does not alias the body")
	}
	body = []byte(`{"model":"gpt\u002d4"}`)
	if r, err = ParseRequest(body); err != nil {
		t.Fatal(err)
	}
	if string(r.Model) != "gpt-4" {
		t.Errorf("model = %q", r.Model)
	}
	for i := range body {
		if &r.Model[0] == &body[i] {
			t.Error("escaped model aliases the body")
		}
	}
}

func TestParseRequestRefused(t *testing.T) {
	deep := `{"x":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + `}`
	deepObj := `{"x":` + strings.Repeat(`{"a":`, MaxDepth) + `1` + strings.Repeat("}", MaxDepth) + `}`
	deepSO := `{"stream_options":{"x":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}}`
	var many strings.Builder
	many.WriteString(`{"model":"m"`)
	for i := range 100 {
		fmt.Fprintf(&many, `,"k%d":%d`, i, i)
	}
	many.WriteString(`,"k7":1}`)
	var manyEsc strings.Builder
	manyEsc.WriteString(`{"k\u0030":0`)
	for i := 1; i < 50; i++ {
		fmt.Fprintf(&manyEsc, `,"k\u0030%d":%d`, i, i)
	}
	manyEsc.WriteString(`,"k05":1}`)

	// Escaped keys longer than the scratch buffer, so that it moves.
	var longEsc strings.Builder
	longEsc.WriteString(`{"model":"m"`)
	for i := range 10 {
		fmt.Fprintf(&longEsc, `,"%s%d":1`, strings.Repeat(`\u0061`, 100), i)
	}
	fmt.Fprintf(&longEsc, `,"%s%d":1}`, strings.Repeat("a", 100), 3)

	tests := []struct {
		name, body string
		want       error
		field      string
	}{
		// Framing: exactly one object.
		{"two objects", `{"model":"a"}{"model":"b"}`, ErrTrailingData, ""},
		{"two objects with space", `{"model":"a"} {"model":"b"}`, ErrTrailingData, ""},
		{"trailing garbage", `{"model":"a"}x`, ErrTrailingData, ""},
		{"trailing NUL", "{\"model\":\"a\"}\x00", ErrTrailingData, ""},
		{"BOM", "\xef\xbb\xbf{\"model\":\"a\"}", ErrNotObject, ""},
		{"UTF-16LE", "{\x00\"\x00m\x00o\x00d\x00e\x00l\x00\"\x00:\x00\"\x00a\x00\"\x00}\x00", ErrSyntax, ""},
		{"UTF-16LE BOM", "\xff\xfe{\x00}\x00", ErrNotObject, ""},
		{"array", `[{"model":"a"}]`, ErrNotObject, ""},
		{"string", `"model"`, ErrNotObject, ""},
		{"number", `1`, ErrNotObject, ""},
		{"null", `null`, ErrNotObject, ""},
		{"form encoded", `model=gpt-4`, ErrNotObject, ""},
		{"vertical tab is not whitespace", "\v{}", ErrNotObject, ""},
		{"form feed after", "{}\f", ErrTrailingData, ""},

		// Syntax.
		{"unterminated object", `{"model":"a"`, ErrSyntax, ""},
		{"unterminated string", `{"model":"a`, ErrSyntax, "model"},
		{"unterminated key", `{"mod`, ErrSyntax, ""},
		{"missing value", `{"model":}`, ErrSyntax, "model"},
		{"missing colon", `{"model" "a"}`, ErrSyntax, ""},
		{"missing comma", `{"model":"a" "x":1}`, ErrSyntax, ""},
		{"trailing comma", `{"model":"a",}`, ErrSyntax, ""},
		{"leading comma", `{,"model":"a"}`, ErrSyntax, ""},
		{"single quotes", `{"model":'a'}`, ErrSyntax, "model"},
		{"single-quoted key", `{'model':"a"}`, ErrSyntax, ""},
		{"bare key", `{model:"a"}`, ErrSyntax, ""},
		{"comment", `{"model":"a"/*x*/}`, ErrSyntax, ""},
		{"NaN", `{"x":NaN}`, ErrSyntax, ""},
		{"Infinity", `{"x":Infinity}`, ErrSyntax, ""},
		{"-Infinity", `{"x":-Infinity}`, ErrSyntax, ""},
		{"leading zero", `{"x":01}`, ErrSyntax, ""},
		{"leading plus", `{"x":+1}`, ErrSyntax, ""},
		{"bare fraction", `{"x":.5}`, ErrSyntax, ""},
		{"empty fraction", `{"x":1.}`, ErrSyntax, ""},
		{"empty exponent", `{"x":1e}`, ErrSyntax, ""},
		{"exponent sign only", `{"x":1e+}`, ErrSyntax, ""},
		{"lone minus", `{"x":-}`, ErrSyntax, ""},
		{"hex number", `{"x":0x1}`, ErrSyntax, ""},
		{"bad literal", `{"x":tru}`, ErrSyntax, ""},
		{"capital literal", `{"x":True}`, ErrSyntax, ""},
		{"raw control char", "{\"x\":\"a\x01b\"}", ErrSyntax, ""},
		{"raw newline in string", "{\"x\":\"a\nb\"}", ErrSyntax, ""},
		{"raw tab in key", "{\"mo\tdel\":\"a\"}", ErrSyntax, ""},
		{"bad escape", `{"x":"\q"}`, ErrSyntax, ""},
		{"short unicode escape", `{"x":"\u12"}`, ErrSyntax, ""},
		{"bad hex", `{"x":"\u12g4"}`, ErrSyntax, ""},
		{"escape at end", `{"x":"\`, ErrSyntax, ""},
		{"mismatched brackets", `{"x":[1,2}`, ErrSyntax, ""},
		{"mismatched braces", `{"x":{"a":1]}`, ErrSyntax, ""},
		{"array with colon", `{"x":["a":1]}`, ErrSyntax, ""},
		{"object without key", `{"x":{1:2}}`, ErrSyntax, ""},
		{"unclosed array", `{"x":[1,2`, ErrSyntax, ""},

		// UTF-8.
		{"invalid byte", "{\"x\":\"\xff\"}", ErrInvalidUTF8, ""},
		{"invalid byte in model", "{\"model\":\"gpt\xff\"}", ErrInvalidUTF8, "model"},
		{"invalid byte in key", "{\"mod\xffel\":\"a\"}", ErrInvalidUTF8, ""},
		{"overlong encoding", "{\"x\":\"\xc0\xaf\"}", ErrInvalidUTF8, ""},
		{"encoded surrogate", "{\"x\":\"\xed\xa0\x80\"}", ErrInvalidUTF8, ""},
		{"truncated sequence", "{\"x\":\"\xe2\x82\"}", ErrInvalidUTF8, ""},
		{"above U+10FFFF", "{\"x\":\"\xf4\x90\x80\x80\"}", ErrInvalidUTF8, ""},
		{"invalid byte in long string", "{\"x\":\"" + strings.Repeat("a", 100) + "\x80" + strings.Repeat("a", 100) + "\"}", ErrInvalidUTF8, ""},

		// Depth.
		{"arrays too deep", deep, ErrTooDeep, ""},
		{"objects too deep", deepObj, ErrTooDeep, ""},
		{"stream_options too deep", deepSO, ErrTooDeep, ""},

		// Duplicate keys, of any key.
		{"duplicate model", `{"model":"a","model":"b"}`, ErrDuplicateKey, "model"},
		{"duplicate model same value", `{"model":"a","model":"a"}`, ErrDuplicateKey, "model"},
		{"duplicate model escaped second", `{"model":"a","mod\u0065l":"b"}`, ErrDuplicateKey, "model"},
		{"duplicate model escaped first", `{"mod\u0065l":"a","model":"b"}`, ErrDuplicateKey, "model"},
		{"duplicate model both escaped", `{"\u006dodel":"a","mode\u006c":"b"}`, ErrDuplicateKey, "model"},
		{"duplicate model escaped solidus", `{"m\/":"a","m/":"b"}`, ErrDuplicateKey, ""},
		{"duplicate model non-string", `{"model":"a","model":null}`, ErrDuplicateKey, "model"},
		{"duplicate max_tokens", `{"max_tokens":1,"max_tokens":1000000}`, ErrDuplicateKey, "max_tokens"},
		{"duplicate stream", `{"stream":false,"stream":true}`, ErrDuplicateKey, "stream"},
		{"duplicate stream_options", `{"stream_options":{"include_usage":true},"stream_options":null}`, ErrDuplicateKey, "stream_options"},
		{"duplicate other key", `{"messages":[],"model":"a","messages":[]}`, ErrDuplicateKey, ""},
		{"duplicate other key escaped", `{"x":1,"\u0078":2}`, ErrDuplicateKey, ""},
		{"duplicate empty key", `{"":1,"":2}`, ErrDuplicateKey, ""},
		{"duplicate non-ASCII key", `{"ключ":1,"\u043aлюч":2}`, ErrDuplicateKey, ""},
		{"duplicate after 32 keys", many.String(), ErrDuplicateKey, ""},
		{"duplicate escaped after 32 keys", manyEsc.String(), ErrDuplicateKey, ""},
		{"duplicate of a long escaped key", longEsc.String(), ErrDuplicateKey, ""},
		{"duplicate include_usage", `{"stream_options":{"include_usage":true,"include_usage":false}}`, ErrDuplicateKey, "stream_options.include_usage"},
		{"duplicate include_usage escaped", `{"stream_options":{"include_usag\u0065":false,"include_usage":true}}`, ErrDuplicateKey, "stream_options.include_usage"},

		// Keys some decoder maps onto a field we read.
		{"Model", `{"Model":"b"}`, ErrAmbiguousKey, "model"},
		{"model and Model", `{"model":"a","Model":"b"}`, ErrAmbiguousKey, "model"},
		{"Model and model", `{"Model":"b","model":"a"}`, ErrAmbiguousKey, "model"},
		{"MODEL", `{"MODEL":"b"}`, ErrAmbiguousKey, "model"},
		{"modeL", `{"modeL":"b"}`, ErrAmbiguousKey, "model"},
		{"escaped Model", `{"\u004dodel":"b"}`, ErrAmbiguousKey, "model"},
		{"Stream", `{"Stream":true}`, ErrAmbiguousKey, "stream"},
		{"long s stream", `{"ſtream":true}`, ErrAmbiguousKey, "stream"},
		{"long s stream escaped", `{"\u017ftream":true}`, ErrAmbiguousKey, "stream"},
		{"long s stream_options", `{"stream_optionſ":null}`, ErrAmbiguousKey, "stream_options"},
		{"Kelvin max_tokens", "{\"max_to\u212aens\":1}", ErrAmbiguousKey, "max_tokens"},
		{"Kelvin max_tokens escaped", `{"max_to\u212aens":1}`, ErrAmbiguousKey, "max_tokens"},
		{"MAX_TOKENS", `{"MAX_TOKENS":1}`, ErrAmbiguousKey, "max_tokens"},
		{"Max_Completion_Tokens", `{"max_tokens":1,"Max_Completion_Tokens":100000}`, ErrAmbiguousKey, "max_completion_tokens"},
		{"v2 fold: no underscore", `{"maxtokens":1}`, ErrAmbiguousKey, "max_tokens"},
		{"v2 fold: dash", `{"max-tokens":1}`, ErrAmbiguousKey, "max_tokens"},
		{"v2 fold: camel case", `{"MaxCompletionTokens":1}`, ErrAmbiguousKey, "max_completion_tokens"},
		{"v2 fold: streamOptions", `{"streamOptions":{}}`, ErrAmbiguousKey, "stream_options"},
		{"v2 fold: underscore in model", `{"mo_del":"x"}`, ErrAmbiguousKey, "model"},
		{"v2 fold: leading underscore", `{"_model":"x"}`, ErrAmbiguousKey, "model"},
		{"include_usage case", `{"stream_options":{"Include_Usage":true}}`, ErrAmbiguousKey, "stream_options.include_usage"},
		{"include_usage camel", `{"stream_options":{"includeUsage":true}}`, ErrAmbiguousKey, "stream_options.include_usage"},
		{"include_usage long s", `{"stream_options":{"include_uſage":true}}`, ErrAmbiguousKey, "stream_options.include_usage"},
		{"include_usage after exact", `{"stream_options":{"include_usage":false,"INCLUDE_USAGE":true}}`, ErrAmbiguousKey, "stream_options.include_usage"},

		// Keys that decode differently in different parsers.
		{"lone high surrogate key", `{"a\ud800":1}`, ErrInvalidKey, ""},
		{"lone low surrogate key", `{"\udc00":1}`, ErrInvalidKey, ""},
		{"reversed pair key", `{"\udc00\ud800":1}`, ErrInvalidKey, ""},
		{"high surrogate then letter", `{"\ud800a":1}`, ErrInvalidKey, ""},
		{"NUL in key", `{"model\u0000":"a"}`, ErrInvalidKey, ""},
		{"newline in key", `{"model\n":"a"}`, ErrInvalidKey, ""},
		{"lone surrogate in stream_options key", `{"stream_options":{"\ud800":1}}`, ErrInvalidKey, ""},

		// model.
		{"model number", `{"model":1}`, ErrInvalidModel, "model"},
		{"model null", `{"model":null}`, ErrInvalidModel, "model"},
		{"model true", `{"model":true}`, ErrInvalidModel, "model"},
		{"model array", `{"model":["gpt-4"]}`, ErrInvalidModel, "model"},
		{"model object", `{"model":{"name":"gpt-4"}}`, ErrInvalidModel, "model"},
		{"model empty", `{"model":""}`, ErrInvalidModel, "model"},
		{"model escaped newline", `{"model":"gpt-4\n"}`, ErrInvalidModel, "model"},
		{"model escaped NUL", `{"model":"gpt-4\u0000x"}`, ErrInvalidModel, "model"},
		{"model escaped tab", `{"model":"\tgpt-4"}`, ErrInvalidModel, "model"},
		{"model escaped unit separator", `{"model":"a\u001fb"}`, ErrInvalidModel, "model"},
		{"model lone high surrogate", `{"model":"gpt\ud800"}`, ErrInvalidModel, "model"},
		{"model lone low surrogate", `{"model":"\udc00"}`, ErrInvalidModel, "model"},
		{"model high surrogate then letter", `{"model":"\ud800\u0041"}`, ErrInvalidModel, "model"},
		{"model invalid after valid", `{"model":"m","x":1,"model":7}`, ErrDuplicateKey, "model"},

		// Token limits.
		{"max_tokens negative", `{"max_tokens":-1}`, ErrInvalidMaxTokens, "max_tokens"},
		{"max_tokens minus zero", `{"max_tokens":-0}`, ErrInvalidMaxTokens, "max_tokens"},
		{"max_tokens fraction", `{"max_tokens":1.5}`, ErrInvalidMaxTokens, "max_tokens"},
		{"max_tokens integral float", `{"max_tokens":100.0}`, ErrInvalidMaxTokens, "max_tokens"},
		{"max_tokens exponent", `{"max_tokens":1e3}`, ErrInvalidMaxTokens, "max_tokens"},
		{"max_tokens string", `{"max_tokens":"100"}`, ErrInvalidMaxTokens, "max_tokens"},
		{"max_tokens bool", `{"max_tokens":true}`, ErrInvalidMaxTokens, "max_tokens"},
		{"max_tokens array", `{"max_tokens":[1]}`, ErrInvalidMaxTokens, "max_tokens"},
		{"max_tokens overflow", `{"max_tokens":9223372036854775808}`, ErrInvalidMaxTokens, "max_tokens"},
		{"max_tokens past the limit", `{"max_tokens":2147483648}`, ErrInvalidMaxTokens, "max_tokens"},
		{"max_tokens 2^53", `{"max_tokens":9007199254740992}`, ErrInvalidMaxTokens, "max_tokens"},
		{"max_tokens 2^62", `{"max_tokens":4611686018427387904}`, ErrInvalidMaxTokens, "max_tokens"},
		{"max_tokens int64 max", `{"max_tokens":9223372036854775807}`, ErrInvalidMaxTokens, "max_tokens"},
		{"max_tokens int64 min", `{"max_tokens":-9223372036854775808}`, ErrInvalidMaxTokens, "max_tokens"},
		{"max_tokens 1e308", `{"max_tokens":1e308}`, ErrInvalidMaxTokens, "max_tokens"},
		{"max_tokens past float64", `{"max_tokens":1e309}`, ErrInvalidMaxTokens, "max_tokens"},
		{"max_tokens negative exponent", `{"max_tokens":1E-3}`, ErrInvalidMaxTokens, "max_tokens"},
		{"max_tokens positive exponent", `{"max_tokens":2e+1}`, ErrInvalidMaxTokens, "max_tokens"},
		{"max_tokens NaN", `{"max_tokens":NaN}`, ErrSyntax, "max_tokens"},
		{"max_tokens Infinity", `{"max_tokens":Infinity}`, ErrSyntax, "max_tokens"},
		{"max_tokens minus Infinity", `{"max_tokens":-Infinity}`, ErrSyntax, "max_tokens"},
		{"max_tokens plus sign", `{"max_tokens":+5}`, ErrSyntax, "max_tokens"},
		{"max_tokens hex", `{"max_tokens":0x10}`, ErrSyntax, ""},
		{"max_tokens leading zero", `{"max_tokens":0100}`, ErrSyntax, ""},
		{"max_completion_tokens past the limit", `{"max_tokens":1,"max_completion_tokens":2147483648}`, ErrInvalidMaxTokens, "max_completion_tokens"},
		{"max_tokens huge", `{"max_tokens":123456789012345678901234567890}`, ErrInvalidMaxTokens, "max_tokens"},
		{"max_completion_tokens negative", `{"max_completion_tokens":-5}`, ErrInvalidMaxTokens, "max_completion_tokens"},
		{"max_completion_tokens string", `{"max_completion_tokens":"5"}`, ErrInvalidMaxTokens, "max_completion_tokens"},

		// stream and stream_options.
		{"stream string", `{"stream":"true"}`, ErrInvalidStream, "stream"},
		{"stream number", `{"stream":1}`, ErrInvalidStream, "stream"},
		{"stream zero", `{"stream":0}`, ErrInvalidStream, "stream"},
		{"stream object", `{"stream":{}}`, ErrInvalidStream, "stream"},
		{"stream array", `{"stream":[true]}`, ErrInvalidStream, "stream"},
		{"stream_options true", `{"stream_options":true}`, ErrInvalidStreamOptions, "stream_options"},
		{"stream_options string", `{"stream_options":"include_usage"}`, ErrInvalidStreamOptions, "stream_options"},
		{"stream_options array", `{"stream_options":[{"include_usage":true}]}`, ErrInvalidStreamOptions, "stream_options"},
		{"include_usage string", `{"stream_options":{"include_usage":"true"}}`, ErrInvalidStreamOptions, "stream_options.include_usage"},
		{"include_usage number", `{"stream_options":{"include_usage":1}}`, ErrInvalidStreamOptions, "stream_options.include_usage"},
		{"include_usage object", `{"stream_options":{"include_usage":{}}}`, ErrInvalidStreamOptions, "stream_options.include_usage"},
		{"stream_options unterminated", `{"stream_options":{"include_usage":true`, ErrSyntax, ""},
		{"stream_options trailing comma", `{"stream_options":{"include_usage":true,}}`, ErrSyntax, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			got, err := ParseRequest(body)
			if err == nil {
				t.Fatalf("ParseRequest(%q) = %s, want %v", tt.body, fmtRequest(got), tt.want)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("ParseRequest(%q) = %v, want %v", tt.body, err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error", err)
			}
			if e.Field != tt.field {
				t.Errorf("Field = %q, want %q", e.Field, tt.field)
			}
			if e.Offset < 0 || e.Offset > len(body) {
				t.Errorf("Offset = %d, body has %d bytes", e.Offset, len(body))
			}
			if !equalRequest(got, Request{MaxTokens: -1}) {
				t.Errorf("refused request has fields set: %s", fmtRequest(got))
			}
		})
	}
}

// Errors are sent to clients and logged: they must not carry body bytes.
func TestParseRequestErrorsHoldNoBodyBytes(t *testing.T) {
	for _, body := range []string{
		`{"SECRETKEY":1,"SECRETKEY":2}`,
		`{"model":"SECRETVALUE","Model":"SECRETVALUE"}`,
		`{"model":"SECRETVALUE\u0000"}`,
		`{"max_tokens":"SECRETVALUE"}`,
		`{"SECRETKEY":SECRETVALUE}`,
		`{"SECRETKEY\ud800":1}`,
		`{"model":"SECRETVALUE"}SECRETVALUE`,
		"{\"SECRETKEY\":\"SECRET\xffVALUE\"}",
	} {
		_, err := ParseRequest([]byte(body))
		if err == nil {
			t.Fatalf("ParseRequest(%q) accepted", body)
		}
		if s := err.Error(); strings.Contains(s, "SECRET") {
			t.Errorf("error %q holds body bytes", s)
		}
	}
}

// goRequest is how a Go upstream reads a request: encoding/json matches
// these fields case-insensitively.
type goRequest struct {
	Model               *string `json:"model"`
	MaxTokens           *int64  `json:"max_tokens"`
	MaxCompletionTokens *int64  `json:"max_completion_tokens"`
	Stream              *bool   `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage *bool `json:"include_usage"`
	} `json:"stream_options"`
}

// checkAgainstEncodingJSON checks that an accepted body reads the same with
// encoding/json into a map (exact keys, last duplicate wins: how Python's
// json.loads reads it) and into a struct (case-insensitive keys: how a Go
// upstream reads it).
func checkAgainstEncodingJSON(t *testing.T, body []byte, got Request) {
	t.Helper()
	if len(bytes.Trim(body, " \t\r\n")) == 0 {
		return
	}
	if !json.Valid(body) {
		t.Fatalf("accepted %q, which encoding/json finds invalid", body)
	}
	// Exact, Python-like.
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("accepted %q; decoding into a map: %v", body, err)
	}
	mv, has := m["model"]
	if has != got.HasModel {
		t.Fatalf("%q: map has model %v, ParseRequest %v", body, has, got.HasModel)
	}
	if has && mv != string(got.Model) {
		t.Fatalf("%q: map model %q, ParseRequest %q", body, mv, got.Model)
	}
	maxTok := int64(-1)
	for _, k := range []string{"max_tokens", "max_completion_tokens"} {
		if v, ok := m[k].(json.Number); ok {
			n, err := v.Int64()
			if err != nil {
				t.Fatalf("%q: %s %v", body, k, err)
			}
			maxTok = max(maxTok, n)
		}
	}
	if maxTok != got.MaxTokens {
		t.Fatalf("%q: map max tokens %d, ParseRequest %d", body, maxTok, got.MaxTokens)
	}
	if s, _ := m["stream"].(bool); s != got.Stream {
		t.Fatalf("%q: map stream %v, ParseRequest %v", body, s, got.Stream)
	}
	so, _ := m["stream_options"].(map[string]any)
	if iu, _ := so["include_usage"].(bool); iu != got.IncludeUsage {
		t.Fatalf("%q: map include_usage %v, ParseRequest %v", body, iu, got.IncludeUsage)
	}

	// Case-insensitive, Go-like.
	var g goRequest
	if err := json.Unmarshal(body, &g); err != nil {
		t.Fatalf("accepted %q; decoding into a struct: %v", body, err)
	}
	if (g.Model != nil) != got.HasModel || g.Model != nil && *g.Model != string(got.Model) {
		t.Fatalf("%q: Go struct model %v, ParseRequest %q", body, g.Model, got.Model)
	}
	maxTok = -1
	for _, p := range []*int64{g.MaxTokens, g.MaxCompletionTokens} {
		if p != nil {
			maxTok = max(maxTok, *p)
		}
	}
	if maxTok != got.MaxTokens {
		t.Fatalf("%q: Go struct max tokens %d, ParseRequest %d", body, maxTok, got.MaxTokens)
	}
	if (g.Stream != nil && *g.Stream) != got.Stream {
		t.Fatalf("%q: Go struct stream %v, ParseRequest %v", body, g.Stream, got.Stream)
	}
	iu := g.StreamOptions != nil && g.StreamOptions.IncludeUsage != nil && *g.StreamOptions.IncludeUsage
	if iu != got.IncludeUsage {
		t.Fatalf("%q: Go struct include_usage %v, ParseRequest %v", body, iu, got.IncludeUsage)
	}
}

// TestParseRequestDifferential generates adversarial bodies (case, fold,
// escape and delimiter variants of the keys, duplicates, odd values) and
// checks that every body ParseRequest accepts reads the same to
// encoding/json with exact and with case-insensitive matching, and that
// every body encoding/json finds invalid is refused.
func TestParseRequestDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 50000
	if testing.Short() {
		n = 5000
	}
	accepted, withModel := 0, 0
	for range n {
		body := genBody(r)
		got, err := ParseRequest(body)
		if err != nil {
			if !errors.As(err, new(*Error)) {
				t.Fatalf("%q: error %T", body, err)
			}
			continue
		}
		accepted++
		if got.HasModel {
			withModel++
		}
		checkAgainstEncodingJSON(t, body, got)
	}
	t.Logf("%d of %d accepted, %d with a model", accepted, n, withModel)
	if accepted < n/20 || withModel < n/50 {
		t.Errorf("generator too hostile: %d of %d accepted, %d with a model", accepted, n, withModel)
	}
}

var (
	genKeys = []string{
		"model", "model", "model", "max_tokens", "max_completion_tokens", "stream", "stream_options",
		"messages", "temperature", "user", "metadata", "models", "mode", "",
		"Model", "MODEL", "mo_del", "ſtream", "max_to\u212aens", "Max-Tokens", "streamOptions", "moDel",
	}
	genValues = []string{
		`"gpt-4"`, `"gpt-4o-mini"`, `"a\u0062c"`, `""`, `"x\ny"`, `"\ud800"`, `"\ud83d\ude00"`, `"\u0000"`,
		`0`, `1`, `100`, `-1`, `1.5`, `1e3`, `9223372036854775807`, `9223372036854775808`,
		`true`, `false`, `null`, `[]`, `{}`, `[1,"a",{"b":null}]`,
		`{"include_usage":true}`, `{"include_usage":false,"x":1}`, `{"include_usage":true,"include_usage":false}`,
		`{"Include_Usage":true}`, `{"include_usage":"yes"}`,
		`{"model":"nested","Model":"x"}`,
	}
)

// goodValues are values of the right type, by key.
var goodValues = map[string][]string{
	"model":                 {`"gpt-4"`, `"gpt-4o-mini"`, `"a\u0062c"`, `"\ud83d\ude00"`, `"x\/y"`},
	"max_tokens":            {`0`, `100`, `null`},
	"max_completion_tokens": {`7`, `1000`, `null`},
	"stream":                {`true`, `false`, `null`},
	"stream_options":        {`{"include_usage":true}`, `{"include_usage":false,"x":[1]}`, `null`, `{}`},
}

// genBody builds a mostly well-formed request from random keys and values,
// with random escapes, whitespace, and the occasional corruption.
func genBody(r *rand.Rand) []byte {
	var b []byte
	ws := func() {
		if r.IntN(4) == 0 {
			b = append(b, " \t\n\r"[r.IntN(4)])
		}
	}
	ws()
	b = append(b, '{')
	for i, n := 0, r.IntN(5); i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		ws()
		b = append(b, '"')
		key := genKeys[r.IntN(len(genKeys))]
		for _, c := range key {
			switch {
			case r.IntN(8) == 0:
				b = fmt.Appendf(b, `\u%04x`, c) // BMP only in genKeys
			case r.IntN(16) == 0 && c < utf8.RuneSelf:
				b = fmt.Appendf(b, `\u%04X`, c)
			default:
				b = utf8.AppendRune(b, c)
			}
		}
		b = append(b, '"')
		ws()
		b = append(b, ':')
		ws()
		if v, ok := goodValues[strings.ToLower(key)]; ok && r.IntN(2) == 0 {
			b = append(b, v[r.IntN(len(v))]...)
		} else {
			b = append(b, genValues[r.IntN(len(genValues))]...)
		}
		ws()
	}
	b = append(b, '}')
	ws()
	if r.IntN(20) == 0 && len(b) > 0 { // corrupt
		switch r.IntN(3) {
		case 0:
			b = b[:r.IntN(len(b))]
		case 1:
			b[r.IntN(len(b))] = byte(r.IntN(256))
		case 2:
			b = append(b, `{"model":"x"}`...)
		}
	}
	return b
}

// A sample chat request of about 600 bytes.
const chatRequest = `{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant. Answer briefly and cite your sources when you can."},{"role":"user","content":"What is the capital of France, and what is it famous for? Please list three landmarks."},{"role":"assistant","content":"Paris. It is famous for the Eiffel Tower, the Louvre and Notre-Dame."},{"role":"user","content":"And how tall is the Eiffel Tower?"}],"temperature":0.7,"top_p":1,"n":1,"max_tokens":512,"presence_penalty":0,"frequency_penalty":0,"user":"user-1234","stream":true,"stream_options":{"include_usage":true},"seed":42}`

// TestStringUTF8 checks the inline UTF-8 checks against utf8.Valid on
// every short sequence of interesting bytes.
func TestStringUTF8(t *testing.T) {
	interesting := []byte{0x20, 0x41, 0x7e, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff}
	check := func(s []byte) {
		body := append(append([]byte(`{"x":"`), s...), `"}`...)
		_, err := ParseRequest(body)
		if valid := utf8.Valid(s); valid != (err == nil) || !valid && !errors.Is(err, ErrInvalidUTF8) {
			t.Fatalf("%x: utf8.Valid %v, ParseRequest %v", s, valid, err)
		}
		if _, ok := ParseUsage(append(body[:len(body)-1], `,"usage":{"prompt_tokens":1}}`...)); !ok {
			t.Fatalf("%x: ParseUsage is not lenient", s)
		}
	}
	for a := 0x20; a < 0x100; a++ {
		if a == '"' || a == '\\' {
			continue
		}
		for b := 0x20; b < 0x100; b++ {
			if b == '"' || b == '\\' {
				continue
			}
			check([]byte{byte(a), byte(b)})
			check([]byte{'a', 'b', 'c', 'd', 'e', 'f', 'g', byte(a), byte(b)}) // after the 8-byte loop
		}
	}
	for _, a := range interesting {
		for _, b := range interesting {
			for _, c := range interesting {
				check([]byte{a, b, c})
				for _, d := range interesting {
					check([]byte{a, b, c, d})
				}
			}
		}
	}
}

// The offsets of stream_options and include_usage frame their values.
func TestParseRequestStreamOptionsOffsets(t *testing.T) {
	for _, c := range []struct{ body, so, iu string }{
		{`{"stream":true}`, "", ""},
		{`{"stream":true,"stream_options":null}`, "null", ""},
		{`{"stream":true,"stream_options": {} }`, "{}", ""},
		{`{"stream_options":{"x":1, "include_usage" : false},"stream":true}`, `{"x":1, "include_usage" : false}`, "false"},
		{`{"stream_options":{"include_u\u0073age":null}}`, `{"include_u\u0073age":null}`, "null"},
	} {
		r, err := ParseRequest([]byte(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		so, iu := c.body[r.StreamOptionsAt:r.StreamOptionsEnd], c.body[r.IncludeUsageAt:r.IncludeUsageEnd]
		if so != c.so || iu != c.iu {
			t.Errorf("%s: stream_options %q include_usage %q, want %q %q", c.body, so, iu, c.so, c.iu)
		}
	}
}

package httpapi

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/keyward/keyward"
)

// decodeMessages are the only messages decodeJSON may give for bad input:
// none quotes the input but a repeated key.
var decodeMessages = []string{
	"request body is not valid UTF-8 (byte ",
	"request body has an unpaired UTF-16 surrogate escape at byte ",
	"request body is nested deeper than ",
	"request body repeats the key ",
	"cannot read request body",
	"request body is empty",
	"request body is truncated",
	"malformed JSON at byte ",
	"wrong JSON type at byte ",
	"request body has an unknown field",
	"request body must hold exactly one JSON value",
	"invalid request body",
	"request body too large",
	// keyward.Duration's own messages, which hold no input.
	"a duration must be a string such as ",
	"a duration must not be negative",
	"a duration must be such as ",
}

func checkDecodeError(t *testing.T, input []byte, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var kerr *keyward.Error
	if !errors.As(err, &kerr) || kerr.Code != keyward.EINVALID {
		t.Fatalf("decode error %v is not EINVALID", err)
	}
	for _, m := range decodeMessages {
		if strings.HasPrefix(kerr.Message, m) {
			return
		}
	}
	t.Fatalf("unexpected message %q for input %q", kerr.Message, input)
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" for success, else a message prefix
	}{
		{`{"name":"k"}`, ""},
		{` {"name":"k"} ` + "\n", ""},
		{``, "request body is empty"},
		{`{"name":`, "request body is truncated"},
		{`{"name":"k",}`, "malformed JSON"},
		{`{"name":1}`, "wrong JSON type"},
		{`{"nmae":"k"}`, "request body has an unknown field"},
		{`{"name":"k"}{}`, "request body must hold exactly one JSON value"},
		{`{"name":"k"} x`, "request body must hold exactly one JSON value"},
		{`{"expiresAt":"tomorrow"}`, "invalid request body"},
		{`{"rotation":{"every":"1d12h","grace":"-1s"}}`, "a duration must be such as"},
		{`{"rotation":{"every":"1d12h","grace":-3600000000000}}`, "a duration must not be negative"},
		{`{"rotation":{"every":"1d12h","grace":true}}`, "a duration must be a string"},
		{`{"rotation":{"every":"106751991167d"}}`, "a duration must be such as"},
		{`{"rotation":{"every":"1d12h","grace":"1h"}}`, ""},
		{`null`, ""}, // JSON null leaves the zero value: the core validates
	}
	for _, tt := range tests {
		var v keyward.KeyCreate
		err := decodeJSON(strings.NewReader(tt.in), &v)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%q: %v", tt.in, err)
		case tt.want != "" && (err == nil || !strings.HasPrefix(keyward.ErrorMessage(err), tt.want)):
			t.Errorf("%q: got %v, want %q", tt.in, err, tt.want)
		}
		checkDecodeError(t, []byte(tt.in), err)
	}
}

func TestDecodeJSONTooLarge(t *testing.T) {
	rec := httptest.NewRecorder()
	body := http.MaxBytesReader(rec, nopCloser{strings.NewReader(`{"name":"` + strings.Repeat("a", 100) + `"}`)}, 50)
	var v keyward.KeyCreate
	if err := decodeJSON(body, &v); err != errBodyTooLarge {
		t.Errorf("got %v, want errBodyTooLarge", err)
	}
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }

// FuzzDecode feeds arbitrary bytes to the request decoder, into the request
// types that carry secrets: it must never panic, and a failure must be
// EINVALID with a message from the fixed set (no echo of the input).
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"name":"k","value":"kw_abc","scopes":{"models":["gpt-*"]}}`,
		`{"name":"s","secretBinary":"AAEC","tags":{"a":"b"}}`,
		`{"secretString":"x","versionStages":["CURRENT"]}`,
		`{"name":"p","document":{"Version":"1","Statement":[]}}`,
		`{"expiresAt":"2025-01-01T00:00:00Z","stageKeys":[{"apiId":"a","stage":"b"}]}`,
		`{}{}`, `[`, `"`, "\xff\xfe", `{"a":1e999}`, `{"name":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		targets := []any{
			&keyward.KeyCreate{}, &keyward.KeyUpdate{}, &secretCreateBody{}, &secretPutBody{},
			&keyward.PolicyCreate{}, &keyward.PlanCreate{}, &keyward.StageMove{}, &struct{}{},
		}
		for _, v := range targets {
			err := decodeJSON(bytes.NewReader(b), v)
			checkDecodeError(t, b, err)
			if err != nil && len(b) >= 8 && strings.Contains(keyward.ErrorMessage(err), string(b)) {
				t.Fatalf("message echoes input")
			}
		}
	})
}

func TestQueryHelpers(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/?limit=10&since=2025-01-02T03:04:05Z&includeDeleted=true&afterSeq=9223372036854775807", nil)
	q := newQuery(r)
	p, since, inc, after := q.page(), q.time("since"), q.bool("includeDeleted"), q.int64("afterSeq")
	if err := q.check(); err != nil {
		t.Fatal(err)
	}
	if p.Limit != 10 || since == nil || since.Year() != 2025 || !inc || after != 1<<63-1 {
		t.Errorf("page %+v since %v inc %v after %d", p, since, inc, after)
	}
}

// TestClientIP covers what the admin API adds to clientip.Resolve (whose
// table is in package clientip): the answer as text, and a remote address
// that is not a socket address kept as given, made safe for a log.
func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"trusted peer, one hop", "10.1.2.3:80", []string{"198.51.100.9"}, "198.51.100.9"},
		{"not a socket address", "pipe\n", nil, "pipe"},
		{"not a socket address, header ignored", "pipe", []string{"198.51.100.9"}, "pipe"},
	}
	for _, tt := range tests {
		if got := clientIP(tt.remote, tt.xff, trusted); got != tt.want {
			t.Errorf("%s: clientIP = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestSanitize(t *testing.T) {
	tests := map[string]string{
		"curl/8.0":                     "curl/8.0",
		"a\r\nb":                       "ab",
		"tab\there":                    "tabhere",
		"bell\a\x1b[0m\x7f\u0085":      "bell[0m",
		"line\u2028sep\u2029":          "linesep",
		"bidi\u202eevil":               "bidievil",
		"bad\xffutf8":                  "badutf8",
		"ünïcödé ok":                   "ünïcödé ok",
		strings.Repeat("é", 200):       strings.Repeat("é", 128),
		strings.Repeat("x", 300):       strings.Repeat("x", 256),
		strings.Repeat("x", 255) + "é": strings.Repeat("x", 255),
	}
	for in, want := range tests {
		got := sanitize(in)
		if got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
		if !utf8.ValidString(got) || len(got) > maxFieldLen {
			t.Errorf("sanitize(%q) = %q: invalid or too long", in, got)
		}
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		vals   []string
		token  string
		reason string
	}{
		{nil, "", authMissing},
		{[]string{"Bearer kwa_x"}, "kwa_x", ""},
		{[]string{"bearer kwa_x"}, "kwa_x", ""},
		{[]string{"Bearer   kwa_x  "}, "kwa_x", ""},
		{[]string{""}, "", authMalformed},
		{[]string{"Bearer"}, "", authMalformed},
		{[]string{"Token kwa_x"}, "", authMalformed},
		{[]string{"Bearer kwa x"}, "", authMalformed},
		{[]string{"Bearer kwa_\x00"}, "", authMalformed},
		{[]string{"Bearer kwa_é"}, "", authMalformed},
		{[]string{"Bearer a", "Bearer b"}, "", authMalformed},
	}
	for _, tt := range tests {
		h := http.Header{}
		for _, v := range tt.vals {
			h.Add("Authorization", v)
		}
		token, reason := bearerToken(h)
		if token != tt.token || reason != tt.reason {
			t.Errorf("%q: got (%q, %q), want (%q, %q)", tt.vals, token, reason, tt.token, tt.reason)
		}
	}
}

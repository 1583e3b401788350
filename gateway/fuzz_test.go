package gateway

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/keyward/keyward/llmwire"
	"github.com/valyala/fasthttp"
)

// The seed corpus of FuzzRequestParsing is in testdata/fuzz/FuzzRequestParsing
// (two x-api-key headers, Bearer with tabs, lower-case bearer, absolute-form
// URIs, encoded slashes, folded headers, chunked bodies, ...); these are a
// few more, kept here so that they read as requests.
var requestSeeds = []string{
	"GET /chat/prod/v1/models HTTP/1.1\r\nHost: gw\r\nX-Api-Key: kw_seed0000000000000000000000\r\n\r\n",
	"POST /chat/prod/v1/chat/completions?stream=1 HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer kw_seed0000000000000000000000\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: 36\r\n\r\n{\"model\":\"gpt-4o-mini\",\"max_tokens\":5}",
	"POST /a/b/c HTTP/1.1\r\nHost: gw\r\nX-Api-Key: k1\r\nAuthorization: Basic Zm9vOmJhcg==\r\nContent-Type: application/vnd.api+json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n",
	"GET /a/b?Model=x&%6dodel=y HTTP/1.1\r\nHost: gw\r\nx-api-key: \t k \t\r\n\r\n",
	"GET //a//b/../c HTTP/1.1\r\nHost: gw\r\n\r\n",
}

// FuzzRequestParsing feeds raw HTTP/1.1 requests through fasthttp's parser
// and then through everything the gateway reads from a request before it
// decides: the path split, the key extraction, the query check, the
// content type and the strict JSON parse of the body.
func FuzzRequestParsing(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var req fasthttp.Request
		// The gateway's server reads with a body limit too (MaxBodyBytes).
		if err := req.ReadLimitBody(bufio.NewReader(bytes.NewReader(raw)), 1<<20); err != nil {
			return // fasthttp refuses it: so does the gateway's server
		}
		path := req.URI().Path()
		api, stage, rest, ok := splitPath(path)
		if ok {
			if len(api) == 0 || len(stage) == 0 || bytes.IndexByte(api, '/') >= 0 || bytes.IndexByte(stage, '/') >= 0 {
				t.Fatalf("splitPath(%q) = %q, %q, %q", path, api, stage, rest)
			}
			if len(rest) == 0 || rest[0] != '/' {
				t.Fatalf("splitPath(%q): rest %q", path, rest)
			}
			// The parts are the path: nothing dropped, nothing added.
			joined := "/" + string(api) + "/" + string(stage) + string(rest)
			if joined != string(path) && !(string(rest) == "/" && joined == string(path)+"/") {
				t.Fatalf("splitPath(%q) = %q, %q, %q", path, api, stage, rest)
			}
		} else if api != nil || stage != nil || rest != nil {
			t.Fatalf("splitPath(%q) refused but returned parts", path)
		}

		key, reason := extractKey(&req.Header)
		switch reason {
		case "":
			if len(key) == 0 {
				t.Fatal("extractKey accepted an empty key")
			}
			for _, c := range key {
				if c <= ' ' || c == 0x7f {
					t.Fatalf("extractKey accepted %q: it has whitespace or a control byte", key)
				}
			}
			if !bytes.Contains(raw, key) {
				t.Fatalf("extractKey returned %q, which the request does not hold", key)
			}
		case reasonMissing, reasonAmbiguous, reasonMalformed:
			if key != nil {
				t.Fatalf("extractKey refused (%s) but returned %q", reason, key)
			}
		default:
			t.Fatalf("extractKey: reason %q", reason)
		}

		hasModelQuery(req.URI().QueryArgs())
		if ct := req.Header.ContentType(); isJSON(ct) && !bytes.Contains(bytes.ToLower(ct), []byte("json")) {
			t.Fatalf("isJSON(%q)", ct)
		}
		if r, err := llmwire.ParseRequest(req.Body()); err == nil {
			if r.MaxTokens < -1 || (r.HasModel && r.Model == nil) || (!r.HasModel && r.Model != nil) {
				t.Fatalf("ParseRequest(%q) = %+v", req.Body(), r)
			}
		}
	})
}

// FuzzParseBearer: a token is returned only from "Bearer <token>" (scheme
// in any case), is non-empty, has no whitespace, is part of the value, and
// parses back to itself.
func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer\tabc", "BEARER  abc  ", "Bearer a b", "Bearer", "Bearer ", "Basic abc", "Bearerabc", " \tbearer x\t"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		tok, ok := parseBearer(v)
		if !ok {
			if tok != nil {
				t.Fatalf("parseBearer(%q) refused but returned %q", v, tok)
			}
			return
		}
		if len(tok) == 0 || bytes.ContainsAny(tok, " \t") || !bytes.Contains(v, tok) {
			t.Fatalf("parseBearer(%q) = %q", v, tok)
		}
		if trimmed := bytes.TrimSpace(v); len(trimmed) < 7 || !bytes.EqualFold(trimmed[:6], []byte("bearer")) {
			t.Fatalf("parseBearer(%q) accepted another scheme", v)
		}
		if again, ok := parseBearer(append([]byte("Bearer "), tok...)); !ok || !bytes.Equal(again, tok) {
			t.Fatalf("parseBearer(Bearer %q) = %q, %v", tok, again, ok)
		}
	})
}

// FuzzPickKey: two headers of one kind are always ambiguous; an accepted
// key is the x-api-key value or the bearer token, and when both are sent
// they agree.
func FuzzPickKey(f *testing.F) {
	f.Add([]byte("k"), uint8(1), []byte("Bearer k"), uint8(1))
	f.Add([]byte("k"), uint8(1), []byte("Bearer j"), uint8(1))
	f.Add([]byte(" k "), uint8(1), []byte("Basic x"), uint8(1))
	f.Add([]byte(""), uint8(0), []byte("bearer\tk"), uint8(1))
	f.Add([]byte("k"), uint8(2), []byte(""), uint8(0))
	f.Fuzz(func(t *testing.T, header []byte, nHeader uint8, auth []byte, nAuth uint8) {
		nh, na := int(nHeader%3), int(nAuth%3)
		key, reason := pickKey(header, nh, auth, na)
		if nh > 1 || na > 1 {
			if reason != reasonAmbiguous {
				t.Fatalf("%d x-api-key and %d Authorization: %q %q", nh, na, key, reason)
			}
			return
		}
		if reason != "" {
			if key != nil {
				t.Fatalf("refused (%s) but returned %q", reason, key)
			}
			return
		}
		bearer, isBearer := parseBearer(auth)
		fromHeader := bytes.TrimSpace(header)
		switch {
		case nh == 1 && na == 1 && isBearer:
			if !bytes.Equal(key, fromHeader) || !bytes.Equal(key, bearer) {
				t.Fatalf("x-api-key %q and Authorization %q gave %q", header, auth, key)
			}
		case nh == 1:
			if !bytes.Equal(key, fromHeader) {
				t.Fatalf("x-api-key %q gave %q", header, key)
			}
		case na == 1:
			if !isBearer || !bytes.Equal(key, bearer) {
				t.Fatalf("Authorization %q gave %q", auth, key)
			}
		default:
			t.Fatalf("no header gave %q", key)
		}
		if len(key) == 0 {
			t.Fatal("an empty key was accepted")
		}
	})
}

package llmwire

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		``, `{}`, chatRequest,
		`{"model":"a","Model":"b"}`, `{"ſtream":true}`, `{"model":"a","mod\u0065l":"b"}`,
		`{"model":"\u0067pt-4\ud83d\ude00","max_tokens":10,"max_completion_tokens":20}`,
		`{"stream_options":{"include_usage":true,"x":[{}]}}`, `{"model":"a"}{"model":"b"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := ParseRequest(body)
		blank := len(bytes.Trim(body, " \t\r\n")) == 0
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Offset < 0 || e.Offset > len(body) {
				t.Fatalf("ParseRequest(%q): bad error %#v", body, err)
			}
			if !equalRequest(got, Request{MaxTokens: -1}) {
				t.Fatalf("refused, yet returned %s", fmtRequest(got))
			}
			return
		}
		if blank {
			if !equalRequest(got, Request{MaxTokens: -1}) {
				t.Fatalf("blank body read as %s", fmtRequest(got))
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted %q, which encoding/json finds invalid", body)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("accepted %q: %v", body, err)
		}
		raw, has := m["model"]
		if has != got.HasModel {
			t.Fatalf("%q: encoding/json has model %v, ParseRequest %v", body, has, got.HasModel)
		}
		if has {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil || s != string(got.Model) {
				t.Fatalf("%q: encoding/json model %q (%v), ParseRequest %q", body, s, err, got.Model)
			}
		}
		checkAgainstEncodingJSON(t, body, got)
	})
}

func FuzzParseUsage(f *testing.F) {
	for _, s := range []string{
		chatResponse, `{"usage":null}`, `{"usage":{"input_tokens":1,"output_tokens":2}}`,
		`{"usage":{"prompt_tokens":8,"total_tokens":20}}`, `{"u\u0073age":{"prompt_tokens":1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := ParseUsage(body)
		if !ok {
			if got != (Usage{}) {
				t.Fatalf("no usage, yet %+v", got)
			}
			return
		}
		if got.PromptTokens < 0 || got.CompletionTokens < 0 {
			t.Fatalf("negative usage %+v", got)
		}
		if !json.Valid(body) {
			t.Fatalf("usage %+v in invalid JSON %q", got, body)
		}
		// encoding/json reading the same keys exactly (last wins) agrees on
		// the counts that are plain integers.
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		var um map[string]json.RawMessage
		if err := json.Unmarshal(m["usage"], &um); err != nil || um == nil {
			t.Fatalf("%q: usage %q: %v", body, m["usage"], err)
		}
		for k, want := range map[string]int64{"prompt_tokens": got.PromptTokens, "completion_tokens": got.CompletionTokens} {
			var n int64
			if raw, has := um[k]; has && isPlainInt(raw) && json.Unmarshal(raw, &n) == nil && n != want {
				t.Fatalf("%q: %s is %d, ParseUsage %d", body, k, n, want)
			}
		}
	})
}

func isPlainInt(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	for _, c := range raw {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func FuzzSSEUsage(f *testing.F) {
	f.Add([]byte(sampleStream), uint16(10), uint16(200))
	f.Add([]byte(withEOL(sampleStream, "\r\n")), uint16(137), uint16(138))
	f.Add([]byte(withEOL(sampleStream, "\r")), uint16(0), uint16(5))
	f.Fuzz(func(t *testing.T, stream []byte, a, b uint16) {
		i, j := int(a)%(len(stream)+1), int(b)%(len(stream)+1)
		if i > j {
			i, j = j, i
		}
		var whole, split, bytewise SSEUsage
		whole.Write(stream)
		split.Write(stream[:i])
		split.Write(stream[i:j])
		split.Write(stream[j:])
		for k := range stream {
			bytewise.Write(stream[k : k+1])
		}
		u1, ok1 := whole.Usage()
		u2, ok2 := split.Usage()
		u3, ok3 := bytewise.Usage()
		if u1 != u2 || ok1 != ok2 || u1 != u3 || ok1 != ok3 {
			t.Fatalf("%q split at %d, %d: whole %+v %v, split %+v %v, byte by byte %+v %v", stream, i, j, u1, ok1, u2, ok2, u3, ok3)
		}
		if cap(whole.data) > MaxSSEEvent {
			t.Fatalf("buffer grew to %d", cap(whole.data))
		}
	})
}

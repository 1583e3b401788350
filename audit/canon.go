package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"golang.org/x/mod/sumdb/tlog"
)

// Canonicalize returns the canonical form of a JSON text: what
// encoding/json's Marshal writes, which is how the server wrote every event.
// Members keep their order; insignificant whitespace goes; strings are
// re-escaped as Go escapes them (so "é" written by another tool as "\u00e9"
// comes back as "é", and "<" as "\u003c"); numbers stay exactly as written.
// A duplicate member name is an error: two readers could see two events.
//
// It is how a file verifier survives a tool that re-encoded an export.
func Canonicalize(b []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out bytes.Buffer
	if err := canonValue(dec, &out, 0); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return out.Bytes(), nil
}

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 1000

func canonValue(dec *json.Decoder, out *bytes.Buffer, depth int) error {
	if depth > maxDepth {
		return errors.New("nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			out.WriteByte('{')
			seen := map[string]bool{}
			for i := 0; dec.More(); i++ {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key := k.(string)
				if seen[key] {
					return errors.New("duplicate member " + clipType(key))
				}
				seen[key] = true
				if i > 0 {
					out.WriteByte(',')
				}
				writeString(out, key)
				out.WriteByte(':')
				if err := canonValue(dec, out, depth+1); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil {
				return err
			}
			out.WriteByte('}')
		case '[':
			out.WriteByte('[')
			for i := 0; dec.More(); i++ {
				if i > 0 {
					out.WriteByte(',')
				}
				if err := canonValue(dec, out, depth+1); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil {
				return err
			}
			out.WriteByte(']')
		default:
			return errors.New("unexpected " + t.String())
		}
	case string:
		writeString(out, t)
	case json.Number:
		out.WriteString(t.String())
	case bool:
		if t {
			out.WriteString("true")
		} else {
			out.WriteString("false")
		}
	case nil:
		out.WriteString("null")
	}
	return nil
}

func writeString(out *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // a string always encodes
	out.Write(b)
}

// leafOf returns the leaf hash of an event read from a file: of its bytes
// compacted when that gives the hash the record claims (the usual case, and
// cheap), else of its canonical form. Either is sound: bytes other than the
// signed ones with the signed leaf hash would be a SHA-256 collision.
func leafOf(event []byte, claimed string) (tlog.Hash, error) {
	var c bytes.Buffer
	if err := json.Compact(&c, event); err != nil {
		return tlog.Hash{}, err
	}
	if leaf := LeafHash(c.Bytes()); hashHex(leaf) == claimed {
		return leaf, nil
	}
	canon, err := Canonicalize(event)
	if err != nil {
		return tlog.Hash{}, err
	}
	return LeafHash(canon), nil
}

// Package strictjson checks that a JSON text means one thing to every
// reasonable parser before encoding/json reads it. It is the admin side's one
// rule for untrusted JSON: request bodies of the admin API and policy
// documents (which also arrive inside those bodies) both pass through Check.
//
// encoding/json alone is lenient exactly where parsers disagree: it keeps
// the last of two equal keys (others keep the first, or fail), replaces
// invalid UTF-8 and unpaired UTF-16 surrogate escapes with U+FFFD (Python
// keeps or refuses them), and a Decoder stops after the first value. What is
// stored, audited and evaluated must be what the client sent, so Check
// refuses all of these rather than let encoding/json repair them.
//
// The gateway (package llmwire) applies the same rule to request bodies on
// its hot path with a zero-allocation scanner of its own, which checks
// duplicates only among the top-level keys it reads; Check allocates a key
// set per open object and checks every depth.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of objects and arrays Check accepts,
// counting the outermost value; the gateway's limit.
const MaxDepth = 64

// Problem says what is wrong with a JSON text.
type Problem int

// Problems, in the order Check looks for them.
const (
	InvalidUTF8   Problem = iota + 1 // bytes that are not UTF-8, anywhere
	LoneSurrogate                    // a \uD800-\uDFFF escape without its pair
	Syntax                           // not RFC 8259 JSON
	Empty                            // no value at all (only whitespace)
	TrailingData                     // a second value, or bytes after the first
	TooDeep                          // nested deeper than MaxDepth
	DuplicateKey                     // an object names a key twice (after unescaping)
)

// Error is Check's answer. Offset is the byte offset where the problem was
// found; Key is the repeated key (decoded) for DuplicateKey. Callers phrase
// their own message: the input may hold a secret, so Error quotes nothing
// but the repeated key.
type Error struct {
	Problem Problem
	Offset  int64
	Key     string
}

func (e *Error) Error() string {
	switch e.Problem {
	case InvalidUTF8:
		return "strictjson: invalid UTF-8"
	case LoneSurrogate:
		return "strictjson: unpaired surrogate escape"
	case Syntax:
		return "strictjson: malformed JSON"
	case Empty:
		return "strictjson: no JSON value"
	case TrailingData:
		return "strictjson: data after the JSON value"
	case TooDeep:
		return "strictjson: nested too deep"
	case DuplicateKey:
		return "strictjson: duplicate key"
	}
	return "strictjson: invalid JSON"
}

// Check reports whether b is exactly one JSON value (surrounding whitespace
// allowed) in valid UTF-8, with no unpaired surrogate escape, nested at most
// MaxDepth deep, in which no object repeats a key. Keys are compared after
// unescaping ("a" and "\u0061" are the same key) and folded as
// encoding/json folds them to match struct fields ("name", "NAME" and
// "ſecret"/"secret" are the same key): encoding/json would keep the last of
// two such keys, so a body could say one thing to a reader and another to
// the decoder. Maps such as tags are held to it too: "Env" and "env" are
// one key.
//
// It walks tokens with an explicit stack, without recursion.
func Check(b []byte) error {
	if i := invalidUTF8At(b); i >= 0 {
		return &Error{Problem: InvalidUTF8, Offset: int64(i)}
	}
	if i := loneSurrogateAt(b); i >= 0 {
		return &Error{Problem: LoneSurrogate, Offset: int64(i)}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var stack []frame
	values := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			if len(stack) == 0 && values == 1 {
				return &Error{Problem: TrailingData, Offset: dec.InputOffset()}
			}
			return &Error{Problem: Syntax, Offset: syntaxOffset(err, dec)}
		}
		if len(stack) == 0 {
			if values++; values > 1 {
				return &Error{Problem: TrailingData, Offset: dec.InputOffset()}
			}
		}
		if n := len(stack); n > 0 && stack[n-1].keys != nil && stack[n-1].wantKey {
			top := &stack[n-1]
			if tok == json.Delim('}') {
				stack = closeFrame(stack)
				continue
			}
			key, _ := tok.(string) // the decoder only yields a string here
			folded := foldKey(key)
			if _, dup := top.keys[folded]; dup {
				return &Error{Problem: DuplicateKey, Offset: dec.InputOffset(), Key: key}
			}
			top.keys[folded] = struct{}{}
			top.wantKey = false
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= MaxDepth {
				return &Error{Problem: TooDeep, Offset: dec.InputOffset()}
			}
			f := frame{}
			if tok == json.Delim('{') {
				f = frame{keys: map[string]struct{}{}, wantKey: true}
			}
			stack = append(stack, f)
		case json.Delim(']'), json.Delim('}'):
			stack = closeFrame(stack)
		default:
			valueDone(stack)
		}
	}
	switch {
	case len(stack) > 0: // the decoder ends with io.EOF inside a value too
		return &Error{Problem: Syntax, Offset: int64(len(b))}
	case values == 0:
		return &Error{Problem: Empty}
	}
	return nil
}

// frame is one open container; keys is nil for an array.
type frame struct {
	keys    map[string]struct{}
	wantKey bool // the next token is a key or '}'
}

func closeFrame(stack []frame) []frame {
	stack = stack[:len(stack)-1]
	valueDone(stack)
	return stack
}

// valueDone notes that a value ended inside the innermost container: in an
// object, a key comes next.
func valueDone(stack []frame) {
	if n := len(stack); n > 0 && stack[n-1].keys != nil {
		stack[n-1].wantKey = true
	}
}

func syntaxOffset(err error, dec *json.Decoder) int64 {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return se.Offset
	}
	return dec.InputOffset()
}

// invalidUTF8At returns the offset of the first byte that is not part of a
// valid UTF-8 sequence, or -1.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// loneSurrogateAt returns the offset of the first \u escape, inside a
// string, of a UTF-16 surrogate not paired with the escape that must follow
// (high then low), or -1. It tracks only string boundaries and escapes;
// the syntax is the decoder's to check.
func loneSurrogateAt(b []byte) int {
	inString := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case !inString:
			inString = c == '"'
		case c == '"':
			inString = false
		case c == '\\' && i+1 < len(b):
			if b[i+1] != 'u' {
				i++ // skip the escaped character (it may be '"')
				continue
			}
			r := hex4(b, i+2)
			switch {
			case r < 0 || !utf16.IsSurrogate(r):
			case r < 0xDC00 && i+12 <= len(b) && b[i+6] == '\\' && b[i+7] == 'u' &&
				utf16.DecodeRune(r, hex4(b, i+8)) != utf8.RuneError:
				i += 6 // the pair's second half is checked here, not again
			default:
				return i
			}
			i += 5
		}
	}
	return -1
}

// hex4 decodes the four hex digits at b[i:], or returns -1.
func hex4(b []byte, i int) rune {
	if i+4 > len(b) {
		return -1
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// foldKey folds a key as encoding/json does when it matches object keys to
// struct fields: ASCII letters to upper case, other runes to the smallest
// rune of their Unicode fold set (so 'ſ' is 'S' and the Kelvin sign 'K').
func foldKey(k string) string {
	var b strings.Builder
	b.Grow(len(k))
	for _, r := range k {
		switch {
		case 'a' <= r && r <= 'z':
			r -= 'a' - 'A'
		case r >= utf8.RuneSelf:
			r = foldRune(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

package llmwire

// This file reads and compares object keys: decoding them, the cheap
// summaries the duplicate check runs on, and the loose matching that finds a
// key some JSON decoder would take for a field ParseRequest reads.

import (
	"unicode"
	"unicode/utf8"
)

// keyRef locates a decoded key: in the body, or in the scratch buffer when
// it had escapes. Offsets rather than slices keep the scratch on the stack.
type keyRef struct {
	off, end  int
	inScratch bool
}

// smallKeys is how many top-level keys are checked for duplicates by linear
// search before switching to a map.
const smallKeys = 32

// fingerprint summarizes a key: its length and first and last bytes.
func fingerprint(k []byte) uint32 {
	if len(k) == 0 {
		return 0
	}
	return uint32(len(k))<<16 | uint32(k[0])<<8 | uint32(k[len(k)-1])
}

// mayMatchMS reports whether the first letter of key, ignoring '_' and '-',
// could fold to 'm' or 's', which all the top-level field names start with.
// It saves looseMatch calls on most keys.
func mayMatchMS(key []byte) bool {
	for _, c := range key {
		switch c {
		case '_', '-':
			continue
		case 'm', 'M', 's', 'S':
			return true
		}
		return c >= utf8.RuneSelf // ſ (U+017F) folds to s
	}
	return false
}

func nameOf(f int) string {
	if f < len(fieldNames) {
		return fieldNames[f]
	}
	return ""
}

// readKey scans the object key at s.i (a '"') and returns it decoded: a
// slice of the body, or of scratch (appended to) when it had escapes. Keys
// with a lone surrogate or a control character are refused.
func (s *scanner) readKey(scratch []byte) (key []byte, ref keyRef, out []byte, c code) {
	start, end, esc, c := s.scanString()
	if c != ok {
		return nil, ref, scratch, c
	}
	if !esc {
		return s.b[start:end], keyRef{off: start, end: end}, scratch, ok
	}
	n := len(scratch)
	scratch, c = unescape(scratch, s.b[start:end])
	if c != ok {
		s.i = start
		return nil, ref, scratch, cInvalidKey
	}
	key = scratch[n:]
	for _, ch := range key {
		if ch < 0x20 {
			s.i = start
			return nil, ref, scratch, cInvalidKey
		}
	}
	return key, keyRef{off: n, end: len(scratch), inScratch: true}, scratch, ok
}

// looseMatch reports whether key names the field name (ASCII lowercase
// letters and '_') for some JSON decoder: it compares under Unicode simple
// case folding, as Go's encoding/json does, and ignoring '_' and '-', as
// encoding/json/v2 does with case:ignore.
func looseMatch(key []byte, name string) bool {
	j := 0
	for i := 0; i < len(key); {
		var r rune
		if c := key[i]; c < utf8.RuneSelf {
			i++
			if c == '_' || c == '-' {
				continue
			}
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			r = rune(c)
		} else {
			var n int
			r, n = utf8.DecodeRune(key[i:])
			i += n
			if r = foldASCII(r); r < 0 {
				return false
			}
		}
		for j < len(name) && name[j] == '_' {
			j++
		}
		if j == len(name) || rune(name[j]) != r {
			return false
		}
		j++
	}
	for j < len(name) && name[j] == '_' {
		j++
	}
	return j == len(name)
}

// foldASCII returns the lowercase ASCII letter that r folds to under Unicode
// simple folding (U+212A KELVIN SIGN to 'k', U+017F LATIN SMALL LETTER LONG S
// to 's'), or -1.
func foldASCII(r rune) rune {
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < utf8.RuneSelf {
			return unicode.ToLower(f)
		}
	}
	return -1
}

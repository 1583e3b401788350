package llmwire

// This file reads JSON strings: scanString checks one in a single pass
// (eight bytes at a time where it can), unescape decodes it, unescapedIs
// compares it with a name without decoding.

import (
	"encoding/binary"
	"unicode/utf8"
)

// safe marks the bytes that may appear in a JSON string as themselves and
// need no further look: printable ASCII except '"' and '\\'.
var safe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// scanString scans the string starting at s.b[s.i] == '"'. It returns the
// raw content (between the quotes) as offsets and whether it holds escapes,
// and leaves s.i past the closing quote. Escapes are checked for syntax only;
// decoding is left to unescape.
func (s *scanner) scanString() (start, end int, esc bool, c code) {
	b := s.b
	i := s.i + 1
	start = i
	for {
		// Eight bytes at a time while none is '"', '\\', a control character
		// or non-ASCII.
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			q := x ^ (lsb * '"')
			bs := x ^ (lsb * '\\')
			t := (x - lsb*0x20) & ^x // high bit set where x < 0x20 (or x >= 0x80: also stops)
			t |= (q - lsb) & ^q
			t |= (bs - lsb) & ^bs
			t |= x
			if t&msb != 0 {
				break
			}
			i += 8
		}
		for i < len(b) && safe[b[i]] {
			i++
		}
		if i >= len(b) {
			s.i = i
			return 0, 0, false, cSyntax
		}
		switch ch := b[i]; {
		case ch == '"':
			s.i = i + 1
			return start, i, esc, ok
		case ch == '\\':
			esc = true
			if i+1 >= len(b) {
				s.i = i
				return 0, 0, false, cSyntax
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || hex4(b[i+2:i+6]) < 0 {
					s.i = i
					return 0, 0, false, cSyntax
				}
				i += 6
			default:
				s.i = i
				return 0, 0, false, cSyntax
			}
		case ch < 0x20:
			s.i = i
			return 0, 0, false, cSyntax
		default: // non-ASCII
			if s.lax {
				i++
				continue
			}
			// Consume a run of non-ASCII characters; the common two- and
			// three-byte forms are checked inline.
			for i < len(b) && b[i] >= utf8.RuneSelf {
				c0 := b[i]
				switch {
				case 0xC2 <= c0 && c0 <= 0xDF && i+1 < len(b) && b[i+1]&0xC0 == 0x80:
					i += 2
				case (0xE1 <= c0 && c0 <= 0xEC || c0 == 0xEE || c0 == 0xEF) && i+2 < len(b) && b[i+1]&0xC0 == 0x80 && b[i+2]&0xC0 == 0x80:
					i += 3
				default:
					r, n := utf8.DecodeRune(b[i:])
					if r == utf8.RuneError && n == 1 {
						s.i = i
						return 0, 0, false, cUTF8
					}
					i += n
				}
			}
		}
	}
}

// hex4 decodes four hex digits, or returns -1.
func hex4(h []byte) rune {
	var r rune
	for _, c := range h[:4] {
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

// unescape appends the decoded content of a string that scanString
// accepted. A surrogate escape that is not part of a valid pair is refused:
// parsers disagree on what it means.
func unescape(dst, raw []byte) ([]byte, code) {
	for i := 0; i < len(raw); {
		if raw[i] != '\\' {
			j := i + 1
			for j < len(raw) && raw[j] != '\\' {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
			continue
		}
		c := raw[i+1]
		i += 2
		switch c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(raw[i:])
			i += 4
			if 0xD800 <= r && r < 0xE000 {
				if r >= 0xDC00 || i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
					return dst, cInvalidKey
				}
				r2 := hex4(raw[i+2:])
				if r2 < 0xDC00 || r2 >= 0xE000 {
					return dst, cInvalidKey
				}
				r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
	}
	return dst, ok
}

// unescapedIs reports whether raw, the content of a string that scanString
// accepted, decodes to the ASCII string name, without allocating.
func unescapedIs(raw []byte, name string) bool {
	j := 0
	for i := 0; i < len(raw); j++ {
		c := raw[i]
		i++
		if c == '\\' {
			c = raw[i]
			i++
			switch c {
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'u':
				r := hex4(raw[i:])
				i += 4
				if r >= utf8.RuneSelf {
					return false
				}
				c = byte(r)
			}
		}
		if j >= len(name) || name[j] != c {
			return false
		}
	}
	return j == len(name)
}

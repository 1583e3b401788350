package policy

import "unicode/utf8"

// match reports whether name matches pattern, where '*' matches any run of
// characters (including none) and '?' exactly one. A character is one UTF-8
// sequence as utf8.DecodeRuneInString splits it (an invalid byte is a
// character of its own). With fold, ASCII letters compare case-insensitively;
// other characters always compare by their bytes.
//
// It is the iterative two-pointer algorithm: on a mismatch it returns to the
// last '*' and lets it swallow one more character of name. Earlier stars
// never need revisiting, because the last star can already absorb anything
// they could, so the time is O(len(pattern)·len(name)) with no recursion and
// no allocation.
func match(pattern, name string, fold bool) bool {
	p, n := 0, 0
	star, mark := -1, 0 // position after the last '*' in pattern, and in name where it resumed
	for n < len(name) {
		if p < len(pattern) {
			switch pattern[p] {
			case '*':
				p++
				star, mark = p, n
				continue
			case '?':
				_, w := utf8.DecodeRuneInString(name[n:])
				p++
				n += w
				continue
			default:
				_, pw := utf8.DecodeRuneInString(pattern[p:])
				_, nw := utf8.DecodeRuneInString(name[n:])
				if sameChar(pattern[p:p+pw], name[n:n+nw], fold) {
					p += pw
					n += nw
					continue
				}
			}
		}
		if star < 0 {
			return false
		}
		_, w := utf8.DecodeRuneInString(name[mark:])
		mark += w
		p, n = star, mark
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// sameChar compares two characters given as their UTF-8 bytes.
func sameChar(a, b string, fold bool) bool {
	if len(a) == 1 && len(b) == 1 && fold {
		return lower(a[0]) == lower(b[0])
	}
	return a == b
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// Package glob is keyward's one pattern language, used by key scopes (routes
// and models), route throttles and policies: '*' matches any run of
// characters and '?' exactly one. A Syntax says whether a separator bounds
// the wildcards and whether ASCII case matters; everything else is common.
//
// '[', ']' and '\' are reserved (character classes and escapes, which
// keyward does not have): Valid rejects a pattern holding one, and Match
// lets such a pattern match nothing rather than guess what it meant.
package glob

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// MaxLen is the longest pattern Valid accepts, in bytes.
const MaxLen = 256

// Syntax is one way of reading patterns.
type Syntax struct {
	// Sep, when not 0, is an ASCII byte that '*' and '?' never match, so a
	// star stays within one segment. A pattern whose last segment is "*"
	// alone still matches everything below it: "/v1/*" admits
	// "/v1/chat/completions", and "*" admits any name.
	Sep byte
	// FoldASCII compares ASCII letters case-insensitively; other characters
	// always compare by their bytes.
	FoldASCII bool
}

// The syntaxes keyward reads patterns in.
var (
	// Scopes is how key scopes (route paths and model names) and route
	// throttles read: '*' within one '/'-separated segment, a trailing "/*"
	// for the whole subtree, case-sensitive.
	Scopes = Syntax{Sep: '/'}
	// Resources is how policy resources read: a star crosses '/', as in
	// IAM ("kw:secret/team/*" covers every secret under team/).
	Resources = Syntax{}
	// Actions is how policy actions read: as Resources, with ASCII case
	// folded ("apikeys:get*" covers apikeys:GetUsage).
	Actions = Syntax{FoldASCII: true}
)

// reserved are the characters other glob dialects give a meaning keyward's
// does not.
const reserved = `[]\`

// Valid reports why pattern cannot be stored as a pattern, or nil.
func Valid(pattern string) error {
	if pattern == "" || len(pattern) > MaxLen || strings.ContainsAny(pattern, " \t\r\n\x00") {
		return errors.New("must be a non-empty pattern without spaces, at most 256 bytes")
	}
	if strings.ContainsAny(pattern, reserved) {
		return errors.New(`must not contain "[", "]" or "\": patterns have only * and ?`)
	}
	return nil
}

// Match reports whether name matches pattern. A character is one UTF-8
// sequence as utf8.DecodeRuneInString splits it (an invalid byte is a
// character of its own).
//
// It is the iterative two-pointer algorithm: on a mismatch it returns to the
// last '*' and lets it swallow one more character of name. Earlier stars
// never need revisiting, because the last star can already absorb anything
// they could; with a separator, segments pair up one to one, so when the
// last star reaches a separator no star can help. The time is
// O(len(pattern)·len(name)) with no recursion and no allocation.
func (s Syntax) Match(pattern, name string) bool {
	p, n := 0, 0
	star, mark := -1, 0 // position after the last '*' in pattern, and in name where it resumed
	for n < len(name) {
		if p < len(pattern) {
			switch c := pattern[p]; {
			case c == '*':
				if s.subtree(pattern, p) {
					return true
				}
				p++
				star, mark = p, n
				continue
			case c == '?':
				if !s.isSep(name[n]) {
					_, w := utf8.DecodeRuneInString(name[n:])
					p++
					n += w
					continue
				}
			case strings.IndexByte(reserved, c) >= 0:
				return false
			default:
				_, pw := utf8.DecodeRuneInString(pattern[p:])
				_, nw := utf8.DecodeRuneInString(name[n:])
				if sameChar(pattern[p:p+pw], name[n:n+nw], s.FoldASCII) {
					p += pw
					n += nw
					continue
				}
			}
		}
		if star < 0 || s.isSep(name[mark]) {
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

func (s Syntax) isSep(c byte) bool { return s.Sep != 0 && c == s.Sep }

// subtree reports whether the '*' at pattern[p] is a whole last segment,
// which matches the rest of any name.
func (s Syntax) subtree(pattern string, p int) bool {
	return s.Sep != 0 && p == len(pattern)-1 && (p == 0 || pattern[p-1] == s.Sep)
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

package policy

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		name          string
		pattern, s    string
		fold, matches bool
	}{
		{"exact", "apikeys:Get", "apikeys:Get", false, true},
		{"empty pattern matches only empty", "", "", false, true},
		{"empty pattern vs text", "", "a", false, false},
		{"star matches empty", "*", "", false, true},
		{"star matches all", "*", "kw:secret/a/b/c", false, true},
		{"star crosses slash", "kw:secret/*", "kw:secret/team/prod/db", false, true},
		{"star crosses colon", "kw:*", "kw:apikey/key_1", false, true},
		{"prefix star", "*/prod", "kw:secret/team/prod", false, true},
		{"middle star", "kw:secret/*/db", "kw:secret/a/b/db", false, true},
		{"middle star no match", "kw:secret/*/db", "kw:secret/a/b/dbx", false, false},
		{"question one char", "kw:api/?", "kw:api/x", false, true},
		{"question not zero", "kw:api/?", "kw:api/", false, false},
		{"question not two", "kw:api/?", "kw:api/xy", false, false},
		{"question one rune", "kw:secret/?", "kw:secret/é", false, true},
		{"question one rune, not two bytes", "kw:secret/??", "kw:secret/é", false, false},
		{"backtracking", "*a*b*c", "xaxbxcxaxbxc", false, true},
		{"backtracking fail", "*a*b*c", "xaxbxcxaxbx", false, false},
		{"resources are case-sensitive", "kw:secret/Prod", "kw:secret/prod", false, false},
		{"actions fold ASCII", "APIKEYS:get", "apikeys:Get", true, true},
		{"fold with glob", "apikeys:GET*", "apikeys:GetValue", true, true},
		{"fold is ASCII only", "kw:É", "kw:é", true, false},
		{"trailing stars", "abc***", "abc", false, true},
		{"only stars", "***", "x", false, true},
		{"star then question", "*?", "", false, false},
		{"star then question 2", "*?", "a", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := match(tt.pattern, tt.s, tt.fold); got != tt.matches {
				t.Errorf("match(%q, %q, fold=%v) = %v, want %v", tt.pattern, tt.s, tt.fold, got, tt.matches)
			}
			if got := refMatch(tt.pattern, tt.s, tt.fold); got != tt.matches {
				t.Errorf("refMatch(%q, %q, fold=%v) = %v, want %v (the reference is wrong)", tt.pattern, tt.s, tt.fold, got, tt.matches)
			}
		})
	}
}

// TestMatchNoExponentialBacktracking runs a pattern that takes exponential
// time in a naive recursive matcher; the two-pointer matcher is quadratic.
func TestMatchNoExponentialBacktracking(t *testing.T) {
	pattern := strings.Repeat("*a", 40) + "*b"
	name := strings.Repeat("a", 20000)
	if match(pattern, name, false) {
		t.Fatal("matched a name without b")
	}
}

// refMatch is the obviously correct recursive definition, memoized so that
// the fuzzer can feed it many stars. Characters are split the same way as in
// match: utf8.DecodeRuneInString's sequences, an invalid byte being one.
func refMatch(pattern, s string, fold bool) bool {
	p, n := chars(pattern), chars(s)
	memo := make(map[[2]int]bool)
	var rec func(i, j int) bool
	rec = func(i, j int) bool {
		key := [2]int{i, j}
		if v, ok := memo[key]; ok {
			return v
		}
		var r bool
		switch {
		case i == len(p):
			r = j == len(n)
		case p[i] == "*":
			r = rec(i+1, j) || (j < len(n) && rec(i, j+1))
		case j == len(n):
			r = false
		case p[i] == "?":
			r = rec(i+1, j+1)
		default:
			r = refEqual(p[i], n[j], fold) && rec(i+1, j+1)
		}
		memo[key] = r
		return r
	}
	return rec(0, 0)
}

func chars(s string) []string {
	var out []string
	for len(s) > 0 {
		_, w := utf8.DecodeRuneInString(s)
		out = append(out, s[:w])
		s = s[w:]
	}
	return out
}

func refEqual(a, b string, fold bool) bool {
	if fold && len(a) == 1 && len(b) == 1 && a[0] < utf8.RuneSelf && b[0] < utf8.RuneSelf {
		return strings.EqualFold(a, b) // ASCII only: invalid bytes must not fold to U+FFFD
	}
	return a == b
}

// FuzzGlob checks match against refMatch, in both case modes. Seeds live in
// testdata/fuzz/FuzzGlob.
func FuzzGlob(f *testing.F) {
	f.Add("kw:secret/*", "kw:secret/a/b")
	f.Add("*a*b*c", "xaxbxcxaxbx")
	f.Add("apikeys:?et", "APIKEYS:GET")
	f.Add("?", "é")
	f.Add("\xff*", "\xfe")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(pattern) > 256 || len(s) > 256 {
			return // keep the exponential reference matcher fast
		}
		for _, fold := range []bool{false, true} {
			got, want := match(pattern, s, fold), refMatch(pattern, s, fold)
			if got != want {
				t.Fatalf("match(%q, %q, fold=%v) = %v, reference says %v", pattern, s, fold, got, want)
			}
		}
	})
}

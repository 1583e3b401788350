package glob

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestMatch is the one table for every use of patterns: policy resources
// and actions (a star crosses '/') and key scopes and route throttles (a
// star stays in its segment, a trailing "/*" takes the subtree).
func TestMatch(t *testing.T) {
	tests := []struct {
		name       string
		syntax     Syntax
		pattern, s string
		matches    bool
	}{
		// Policies.
		{"exact", Resources, "apikeys:Get", "apikeys:Get", true},
		{"empty pattern matches only empty", Resources, "", "", true},
		{"empty pattern vs text", Resources, "", "a", false},
		{"star matches empty", Resources, "*", "", true},
		{"star matches all", Resources, "*", "kw:secret/a/b/c", true},
		{"star crosses slash", Resources, "kw:secret/*", "kw:secret/team/prod/db", true},
		{"star crosses colon", Resources, "kw:*", "kw:apikey/key_1", true},
		{"prefix star", Resources, "*/prod", "kw:secret/team/prod", true},
		{"middle star", Resources, "kw:secret/*/db", "kw:secret/a/b/db", true},
		{"middle star no match", Resources, "kw:secret/*/db", "kw:secret/a/b/dbx", false},
		{"question one char", Resources, "kw:api/?", "kw:api/x", true},
		{"question not zero", Resources, "kw:api/?", "kw:api/", false},
		{"question not two", Resources, "kw:api/?", "kw:api/xy", false},
		{"question one rune", Resources, "kw:secret/?", "kw:secret/é", true},
		{"question one rune, not two bytes", Resources, "kw:secret/??", "kw:secret/é", false},
		{"backtracking", Resources, "*a*b*c", "xaxbxcxaxbxc", true},
		{"backtracking fail", Resources, "*a*b*c", "xaxbxcxaxbx", false},
		{"resources are case-sensitive", Resources, "kw:secret/Prod", "kw:secret/prod", false},
		{"actions fold ASCII", Actions, "APIKEYS:get", "apikeys:Get", true},
		{"fold with glob", Actions, "apikeys:GET*", "apikeys:GetValue", true},
		{"fold is ASCII only", Actions, "kw:É", "kw:é", false},
		{"trailing stars", Resources, "abc***", "abc", true},
		{"only stars", Resources, "***", "x", true},
		{"star then question", Resources, "*?", "", false},
		{"star then question 2", Resources, "*?", "a", true},
		{"NUL is no separator without one", Resources, "a*b", "a\x00b", true},

		// Key scopes and route throttles.
		{"scope exact path", Scopes, "/v1/models", "/v1/models", true},
		{"scope star alone admits everything", Scopes, "*", "/v1/chat/completions", true},
		{"scope star alone admits empty", Scopes, "*", "", true},
		{"scope star within a segment", Scopes, "/v1/*/completions", "/v1/chat/completions", true},
		{"scope star does not cross a segment", Scopes, "/v1/*/completions", "/v1/a/b/completions", false},
		{"scope trailing star takes the subtree", Scopes, "/v1/*", "/v1/chat/completions", true},
		{"scope trailing star takes an empty segment", Scopes, "/v1/*", "/v1/", true},
		{"scope trailing star needs its separator", Scopes, "/v1/*", "/v1", false},
		{"scope trailing star is a prefix, not a substring", Scopes, "/v1/*", "/v10/x", false},
		{"scope subtree after a wildcard segment", Scopes, "/*/chat/*", "/v1/chat/a/b", true},
		{"scope star glued to text stays in its segment", Scopes, "/v1/chat*", "/v1/chat/completions", false},
		{"scope star glued to text", Scopes, "/v1/chat*", "/v1/chatty", true},
		{"scope double star stays in its segment", Scopes, "/v1/**", "/v1/a/b", false},
		{"scope question not a separator", Scopes, "/v1?x", "/v1/x", false},
		{"scope question one rune", Scopes, "/v?/x", "/vé/x", true},
		{"scope model prefix", Scopes, "gpt-4o-*", "gpt-4o-mini", true},
		{"scope model other family", Scopes, "gpt-4o-*", "gpt-4.1", false},
		{"scope model star stays before a slash", Scopes, "gpt-*", "gpt-4o/ft", false},
		{"scope model organisation subtree", Scopes, "meta-llama/*", "meta-llama/Llama-3/8b", true},
		{"scope is case-sensitive", Scopes, "GPT-4o", "gpt-4o", false},
		{"scope segments pair up", Scopes, "a*/b", "ax/c/b", false},
		{"scope dot-dot is a segment like any other (the gateway cleans paths first)", Scopes, "/v1/*/x", "/v1/../x", true},

		// Reserved characters: the pattern is malformed and matches nothing.
		{"class is reserved", Scopes, "/v1/[ab]", "/v1/a", false},
		{"class is not literal either", Scopes, "/v1/[ab]", "/v1/[ab]", false},
		{"escape is reserved", Scopes, `/v1/\*`, "/v1/*", false},
		{"escape cannot widen", Scopes, `/v1/\*`, `/v1/\x`, false},
		{"reserved after a subtree star is never reached", Scopes, "/v1/x[", "/v1/x", false},
		{"reserved in a policy", Resources, "kw:secret/[a]*", "kw:secret/[a]b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.syntax.Match(tt.pattern, tt.s); got != tt.matches {
				t.Errorf("%+v.Match(%q, %q) = %v, want %v", tt.syntax, tt.pattern, tt.s, got, tt.matches)
			}
			if got := refMatch(tt.syntax, tt.pattern, tt.s); got != tt.matches {
				t.Errorf("refMatch(%+v, %q, %q) = %v, want %v (the reference is wrong)", tt.syntax, tt.pattern, tt.s, got, tt.matches)
			}
		})
	}
}

func TestValid(t *testing.T) {
	tests := map[string]bool{
		"gpt-4o-*":               true,
		"/v1/*":                  true,
		"*":                      true,
		"kw:secret/é?":           true,
		"":                       false,
		strings.Repeat("a", 256): true,
		strings.Repeat("a", 257): false,
		"/v1/a b":                false,
		"/v1/\t":                 false,
		"/v1/\n":                 false,
		"/v1/\x00":               false,
		"/v1/[ab]":               false,
		"/v1/]":                  false,
		`/v1/\*`:                 false,
	}
	for pattern, ok := range tests {
		if err := Valid(pattern); (err == nil) != ok {
			t.Errorf("Valid(%q) = %v, want ok=%v", pattern, err, ok)
		}
	}
}

// TestMatchNoExponentialBacktracking runs a pattern that takes exponential
// time in a naive recursive matcher; the two-pointer matcher is quadratic.
func TestMatchNoExponentialBacktracking(t *testing.T) {
	pattern := strings.Repeat("*a", 40) + "*b"
	name := strings.Repeat("a", 20000)
	for _, s := range []Syntax{Resources, Scopes} {
		if s.Match(pattern, name) {
			t.Fatalf("%+v matched a name without b", s)
		}
	}
}

// refMatch is the obviously correct recursive definition, memoized so that
// the fuzzer can feed it many stars. Characters are split the same way as in
// Match: utf8.DecodeRuneInString's sequences, an invalid byte being one.
func refMatch(s Syntax, pattern, name string) bool {
	if strings.ContainsAny(pattern, reserved) {
		return false
	}
	p, n := chars(pattern), chars(name)
	sep := func(c string) bool { return s.Sep != 0 && c == string(s.Sep) }
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
		case p[i] == "*" && s.Sep != 0 && i == len(p)-1 && (i == 0 || sep(p[i-1])):
			r = true // a last segment of "*" alone: the subtree
		case p[i] == "*":
			r = rec(i+1, j) || (j < len(n) && !sep(n[j]) && rec(i, j+1))
		case j == len(n):
			r = false
		case p[i] == "?":
			r = !sep(n[j]) && rec(i+1, j+1)
		default:
			r = refEqual(p[i], n[j], s.FoldASCII) && rec(i+1, j+1)
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

// FuzzGlob checks Match against refMatch in every syntax keyward uses.
// Seeds live in testdata/fuzz/FuzzGlob.
func FuzzGlob(f *testing.F) {
	f.Add("kw:secret/*", "kw:secret/a/b")
	f.Add("*a*b*c", "xaxbxcxaxbx")
	f.Add("apikeys:?et", "APIKEYS:GET")
	f.Add("?", "é")
	f.Add("\xff*", "\xfe")
	f.Add("/v1/*", "/v1/chat/completions")
	f.Add("/*/x/*", "/a/x/b/c")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(pattern) > 256 || len(s) > 256 {
			return // keep the reference matcher fast
		}
		for _, syn := range []Syntax{Resources, Actions, Scopes, {Sep: '/', FoldASCII: true}} {
			got, want := syn.Match(pattern, s), refMatch(syn, pattern, s)
			if got != want {
				t.Fatalf("%+v.Match(%q, %q) = %v, reference says %v", syn, pattern, s, got, want)
			}
		}
	})
}

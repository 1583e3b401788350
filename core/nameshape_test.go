package core

import (
	"regexp"
	"strings"
	"testing"
)

// The expressions the shapes replaced, as the oracle.
var nameShapeOracles = []struct {
	name  string
	shape shape
	re    *regexp.Regexp
}{
	{"api", apiName, regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)},
	{"stage", stageName, regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)},
	{"secret", secretName, regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)},
	{"principal", principal, regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$`)},
	{"client token", clientToken, regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)},
	{"plan", planName, regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ._-]{0,127}$`)},
}

func TestNameShapesMatchTheirExpressions(t *testing.T) {
	var inputs []string
	for _, n := range []int{0, 1, 2, 62, 63, 64, 65, 127, 128, 129, 511, 512, 513} {
		inputs = append(inputs, strings.Repeat("a", n), "A"+strings.Repeat("b", max(n-1, 0)), "0"+strings.Repeat("_", max(n-1, 0)))
	}
	// Every byte as the first and as a later one, and the ends of lines
	// (a "$" that matched before a final newline would let one through).
	for c := range 256 {
		inputs = append(inputs, string(rune(c)), "a"+string([]byte{byte(c)}), string([]byte{byte(c)})+"a", "ab"+string([]byte{byte(c)}))
	}
	inputs = append(inputs, "chat\n", "chat\r\n", "\nchat", "héllo", "a\xffb", "a b", " a", "prod/x", "x.y@z", "a=b+c")
	for _, o := range nameShapeOracles {
		for _, in := range inputs {
			if got, want := o.shape.MatchString(in), o.re.MatchString(in); got != want {
				t.Errorf("%s name %q: shape %v, expression %v", o.name, in, got, want)
			}
		}
	}
}

func FuzzNameShapes(f *testing.F) {
	for _, s := range []string{"", "chat", "prod-1", "vendor/openai", "ci@example.com", "Gold plan", "a\n", "é", strings.Repeat("x", 513)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, o := range nameShapeOracles {
			if got, want := o.shape.MatchString(in), o.re.MatchString(in); got != want {
				t.Fatalf("%s name %q: shape %v, expression %v", o.name, in, got, want)
			}
		}
	})
}

package policy

import (
	"strings"

	"github.com/keyward/keyward/glob"

	"github.com/keyward/keyward"
)

// checkResources holds a statement's Resource patterns to the action table:
// each must be able to name a resource of a known type ("kw:apikeys/x", a
// typo, names none), and of a type one of the statement's own actions is
// authorized on ("apikeys:Create" on "kw:secret/*" can never apply). Either
// way the pattern would grant or deny nothing while looking as if it did,
// so it is an error, like an action pattern that matches no action.
func checkResources(n int, actions, resources keyward.StringList) error {
	acted := map[keyward.ResourceType]bool{}
	for _, s := range keyward.ActionSpecs() {
		if matchesAny(glob.Actions, actions, string(s.Action)) {
			acted[s.Resource] = true
			for _, t := range s.AlsoOn {
				acted[t] = true
			}
		}
	}
	for _, r := range resources {
		if r == "*" {
			continue
		}
		named, actedOn := false, false
		for _, t := range keyward.ResourceTypes() {
			if canName(r, t) {
				named = true
				actedOn = actedOn || acted[t]
			}
		}
		switch {
		case !named:
			return invalid("statement %d: Resource %q names no resource (want %s)", n, clip(r), resourceForms())
		case !actedOn:
			return invalid("statement %d: Resource %q names no resource the statement's actions act on (they act on %s)", n, clip(r), actedForms(acted))
		}
	}
	return nil
}

// canName reports whether pattern matches some resource name of type t.
func canName(pattern string, t keyward.ResourceType) bool {
	if t == keyward.ResourceAudit {
		return glob.Resources.Match(pattern, keyward.AuditARN)
	}
	return matchesLonger(pattern, t.ARNPrefix())
}

// matchesLonger reports whether pattern matches some name made of prefix
// followed by at least one character (an ID is never empty). It runs the
// pattern as a set of positions over prefix. prefix is ASCII, so a '?' or
// a literal byte of pattern consumes exactly one byte of it, as in match;
// resource names compare case-sensitively there too.
func matchesLonger(pattern, prefix string) bool {
	at := make([]bool, len(pattern)+1)
	at[0] = true
	skipStars(pattern, at)
	for j := 0; j < len(prefix); j++ {
		next := make([]bool, len(pattern)+1)
		for i := 0; i < len(pattern); i++ {
			switch {
			case !at[i]:
			case pattern[i] == '*':
				next[i] = true
			case pattern[i] == '?' || pattern[i] == prefix[j]:
				next[i+1] = true
			}
		}
		at = next
		skipStars(pattern, at)
	}
	// Any pattern left over matches at least one more character.
	for i := 0; i < len(pattern); i++ {
		if at[i] {
			return true
		}
	}
	return false
}

// skipStars adds, for every position before a '*', the position after it:
// a star may match nothing.
func skipStars(pattern string, at []bool) {
	for i := 0; i < len(pattern); i++ {
		if at[i] && pattern[i] == '*' {
			at[i+1] = true
		}
	}
}

// resourceForms lists the resource names a policy may use.
func resourceForms() string {
	forms := []string{`"*"`}
	for _, t := range keyward.ResourceTypes() {
		forms = append(forms, t.Form())
	}
	return strings.Join(forms, ", ")
}

func actedForms(acted map[keyward.ResourceType]bool) string {
	var forms []string
	for _, t := range keyward.ResourceTypes() {
		if acted[t] {
			forms = append(forms, t.Form())
		}
	}
	return strings.Join(forms, ", ")
}

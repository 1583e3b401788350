package policy

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/keyward/keyward/glob"

	"github.com/keyward/keyward"
)

// checkResources holds a statement's Resource patterns to what resource
// names can be. Each pattern must be "*" or able to match the name of some
// resource that can exist, of a type one of the statement's own actions is
// authorized on:
//   - only characters that resource names use ("kw:secret/prod " with its
//     space, or a Cyrillic "о", never matches the secret "prod");
//   - a known type, spelled as names spell it ("kw:apikeys/x", "kw:APIKEY/x"
//     name nothing);
//   - an ID shaped like that type's IDs ("kw:plan/gold" names a plan by its
//     name, but its ARN holds its ID, plan_…); secrets go by name;
//   - a type the actions act on ("apikeys:Create" on "kw:secret/*" can
//     never apply).
//
// A pattern failing any of these would grant or deny nothing while looking
// as if it did (a Deny that matches nothing fails open), so it is an error,
// like an action pattern that matches no action.
func checkResources(at string, actions, resources keyward.StringList) error {
	acted := map[keyward.ResourceType]bool{}
	for _, s := range keyward.ActionSpecs() {
		if matchesAny(glob.Actions, actions, string(s.Action)) {
			acted[s.Resource] = true
			for _, t := range s.AlsoOn {
				acted[t] = true
			}
		}
	}
	for i, r := range resources {
		pos := fmt.Sprintf("%s: Resource[%d] %q", at, i+1, clip(r))
		if r == "*" {
			continue
		}
		if !strings.HasPrefix(r, "kw:") || len(r) == len("kw:") {
			return invalid(`%s must be "*" or start with "kw:"`, pos)
		}
		if j, c, ok := foreignChar(r); ok {
			return invalid("%s has %q (%U) at byte %d, a character no resource name has (they use A-Z a-z 0-9 / _ + = . @ -, and * and ? as wildcards)", pos, c, c, j)
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
			return invalid("%s names no resource (names are %s)", pos, resourceForms())
		case !actedOn:
			return invalid("%s names no resource the statement's actions act on (they act on %s)", pos, actedForms(acted))
		}
	}
	return checkActionsApply(at, actions, resources)
}

// nameChar marks the characters of resource names: the ASCII of "kw:",
// of type names, of IDs and of secret names, and '*', which is the name of
// "every resource of a type" that List and Create calls are checked on.
var nameChar = func() (t [utf8.RuneSelf]bool) {
	for _, c := range "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_+=.@-:*" {
		t[c] = true
	}
	return t
}()

// foreignChar finds the first character of pattern that no resource name
// holds and that is not a wildcard ('?' matches one character).
func foreignChar(pattern string) (at int, c rune, found bool) {
	for i, r := range pattern {
		if r == '?' || r < utf8.RuneSelf && nameChar[r] {
			continue
		}
		return i, r, true
	}
	return 0, 0, false
}

// canName reports whether pattern matches the name of some resource of type t
// that can exist: the audit trail's name; "kw:<type>/*", the name List and
// Create calls are checked on; or "kw:<type>/" followed by an ID of the type
// (the ID prefix and then at least one of a-z 0-9 _), or by a secret name
// (A-Z a-z 0-9 / _ + = . @ -) for secrets.
func canName(pattern string, t keyward.ResourceType) bool {
	return nameSets[t].matchesSome(pattern)
}

// nameSets holds the automaton of each resource type's names.
var nameSets = func() map[keyward.ResourceType]*nameSet {
	m := map[keyward.ResourceType]*nameSet{}
	for _, t := range keyward.ResourceTypes() {
		m[t] = names(t)
	}
	return m
}()

// byteSet is a set of ASCII bytes.
type byteSet [2]uint64

func (s byteSet) has(c byte) bool { return c < utf8.RuneSelf && s[c>>6]&(1<<(c&63)) != 0 }

func setOf(in func(c byte) bool) byteSet {
	var s byteSet
	for c := byte(0); c < utf8.RuneSelf; c++ {
		if in(c) {
			s[c>>6] |= 1 << (c & 63)
		}
	}
	return s
}

var (
	idChars         = setOf(func(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' })
	secretNameChars = setOf(func(c byte) bool { return nameChar[c] && c != ':' && c != '*' })
)

// nameSet is the set of resource names of one type, as a small automaton
// over bytes (at most 64 states): states in order, with the edges leaving
// each.
type nameSet struct {
	edges  [][]nameEdge
	accept uint64
	reach  []uint64 // states reachable from each state, itself included
}

type nameEdge struct {
	in byteSet
	to int
}

// names builds the automaton of the names of type t.
func names(t keyward.ResourceType) *nameSet {
	n := &nameSet{}
	add := func() int {
		n.edges = append(n.edges, nil)
		return len(n.edges) - 1
	}
	literal := func(from int, s string) int {
		for i := 0; i < len(s); i++ {
			to := add()
			n.edges[from] = append(n.edges[from], nameEdge{setOf(func(b byte) bool { return b == s[i] }), to})
			from = to
		}
		return from
	}
	end := literal(add(), t.ARNPrefix())
	if t == keyward.ResourceAudit {
		n.accept |= 1 << end
	} else {
		n.accept |= 1 << literal(end, "*")
		chars := idChars
		if t == keyward.ResourceSecret {
			chars = secretNameChars
		}
		id := literal(end, t.IDPrefix())
		rest := add()
		n.edges[id] = append(n.edges[id], nameEdge{chars, rest})
		n.edges[rest] = append(n.edges[rest], nameEdge{chars, rest})
		n.accept |= 1 << rest
	}
	if len(n.edges) > 64 {
		panic("policy: the names of " + string(t) + " need more than 64 states")
	}
	n.reach = make([]uint64, len(n.edges))
	for q := range n.edges {
		n.reach[q] = 1 << q
	}
	for changed := true; changed; {
		changed = false
		for q, es := range n.edges {
			for _, e := range es {
				if r := n.reach[q] | n.reach[e.to]; r != n.reach[q] {
					n.reach[q], changed = r, true
				}
			}
		}
	}
	return n
}

// matchesSome reports whether pattern, with '*' any run of characters and
// '?' exactly one, matches some name of the set. It walks the pattern once,
// keeping the set of states the names matched so far may be in: no
// backtracking, O(len(pattern)) steps. Names are ASCII, so a '?' or a
// literal consumes one byte of them, and a non-ASCII literal matches none.
func (n *nameSet) matchesSome(pattern string) bool {
	at := uint64(1) // the start state
	for i := 0; i < len(pattern) && at != 0; i++ {
		c := pattern[i]
		var next uint64
		for q, es := range n.edges {
			if at&(1<<q) == 0 {
				continue
			}
			if c == '*' {
				next |= n.reach[q]
				continue
			}
			for _, e := range es {
				if c == '?' || e.in.has(c) {
					next |= 1 << e.to
				}
			}
		}
		at = next
	}
	return at&n.accept != 0
}

// resourceForms lists the resource names a policy may use.
func resourceForms() string {
	forms := []string{`"*"`}
	for _, t := range keyward.ResourceTypes() {
		forms = append(forms, nameForm(t))
	}
	return strings.Join(forms, ", ")
}

// nameForm is Form with the type's ID prefix: "kw:apikey/key_<id>".
func nameForm(t keyward.ResourceType) string {
	if p := t.IDPrefix(); p != "" {
		return t.ARNPrefix() + p + "…"
	}
	return t.Form()
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

// checkActionsApply refuses a statement naming an action (by its full name)
// that none of the statement's resources can apply to: in a Deny it would
// deny nothing while looking as if it did. Create and List are checked on
// "kw:<type>/*" itself (OnCollection), so "kw:apikey/key_*" never applies
// to apikeys:Create. Patterns ("apikeys:*") may cover actions that do not
// apply, as "every action on this key" means.
func checkActionsApply(at string, actions, resources keyward.StringList) error {
	for i, a := range actions {
		if strings.ContainsAny(a, "*?") {
			continue
		}
		var spec keyward.ActionSpec
		found := false
		for _, s := range keyward.ActionSpecs() {
			if strings.EqualFold(string(s.Action), a) {
				spec, found = s, true
				break
			}
		}
		if !found {
			continue // an unknown action is reported where actions are read
		}
		if !appliesToAny(spec, resources) {
			where := spec.Resource.Form()
			if spec.OnCollection {
				where = spec.Resource.ARNPrefix() + "*"
			}
			return invalid("%s: Action[%d] %q applies to none of the statement's resources (it is checked on %s)", at, i+1, clip(a), where)
		}
	}
	return nil
}

// appliesToAny reports whether some resource pattern can match a resource
// the action is checked on.
func appliesToAny(spec keyward.ActionSpec, resources keyward.StringList) bool {
	for _, r := range resources {
		if r == "*" {
			return true
		}
		if spec.OnCollection {
			if glob.Resources.Match(r, spec.Resource.ARNPrefix()+"*") {
				return true
			}
			continue
		}
		if canName(r, spec.Resource) {
			return true
		}
		for _, t := range spec.AlsoOn {
			if canName(r, t) {
				return true
			}
		}
	}
	return false
}

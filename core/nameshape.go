package core

// A shape is what regular expressions such as [a-z0-9][a-z0-9_-]{0,62}
// say, checked byte by byte. Go's regexp compiles a counted repetition to
// one state per count ({1,512} is 512 copies of its class): the six name
// expressions took 7-14 ms and 7,460 allocations of every process's start
// (GODEBUG=inittrace=1), the CLI's included, where a class table costs
// nothing. TestNameShapesMatchTheirExpressions and FuzzNameShapes hold
// each to its expression.
type shape struct {
	first, rest *[256]bool
	max         int // bytes, at least 1
}

const (
	lowerDigits = "abcdefghijklmnopqrstuvwxyz0123456789"
	alnum       = "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + lowerDigits
)

func nameShape(first, rest string, max int) shape {
	return shape{first: byteClass(first), rest: byteClass(rest), max: max}
}

func byteClass(chars string) *[256]bool {
	var c [256]bool
	for i := range len(chars) {
		c[chars[i]] = true
	}
	return &c
}

// MatchString reports whether the whole of s has the shape: one byte of
// the first class, then up to max-1 of the rest. Only ASCII is in any
// class, so a multi-byte character never matches.
func (sh shape) MatchString(s string) bool {
	if len(s) == 0 || len(s) > sh.max || !sh.first[s[0]] {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !sh.rest[s[i]] {
			return false
		}
	}
	return true
}

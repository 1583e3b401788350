package llmwire

// This file walks the structure of a JSON text: whitespace, numbers,
// literals, nesting, and skipping values nobody reads. Strings are in
// scanstring.go.

// MaxDepth is the deepest nesting of objects and arrays ParseRequest
// accepts, counting the top-level object. It bounds the work and stack of
// every parser behind the gateway; real requests (even tool schemas) stay far
// below it.
const MaxDepth = 64

// usageMaxDepth bounds responses; they are trusted more, so it is looser.
const usageMaxDepth = 1024

// scanner walks a JSON text. It holds no pointers to memory other than the
// input, so that it (and whatever the parsers keep next to it) can live on
// the stack.
type scanner struct {
	b        []byte
	i        int
	maxDepth int
	lax      bool // accept invalid UTF-8 in strings (responses)
	// stack holds one bit per open container, set for objects.
	stack [usageMaxDepth / 64]uint64
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func (s *scanner) skipWS() {
	for s.i < len(s.b) && isSpace(s.b[s.i]) {
		s.i++
	}
}

// scanNumber scans a JSON number at s.i and reports whether it is a plain
// non-negative integer (no sign, fraction or exponent).
func (s *scanner) scanNumber() (integer bool, c code) {
	b := s.b
	i := s.i
	integer = true
	if i < len(b) && b[i] == '-' {
		integer = false
		i++
	}
	switch {
	case i >= len(b):
		s.i = i
		return false, cSyntax
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i++
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		s.i = i
		return false, cSyntax
	}
	if i < len(b) && b[i] == '.' {
		integer = false
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			s.i = i
			return false, cSyntax
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		integer = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			s.i = i
			return false, cSyntax
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	s.i = i
	return integer, ok
}

// parseUint parses digits (as accepted by scanNumber with integer == true)
// into an int64, reporting overflow.
func parseUint(d []byte) (int64, bool) {
	if len(d) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range d {
		n = n*10 + uint64(c-'0')
	}
	if n > 1<<63-1 {
		return 0, false
	}
	return int64(n), true
}

// literal consumes lit at s.i.
func (s *scanner) literal(lit string) code {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return cSyntax
	}
	s.i += len(lit)
	return ok
}

func (s *scanner) push(d int, obj bool) {
	w, bit := (d-1)/64, uint64(1)<<((d-1)%64)
	if obj {
		s.stack[w] |= bit
	} else {
		s.stack[w] &^= bit
	}
}

func (s *scanner) isObj(d int) bool {
	return s.stack[(d-1)/64]&(1<<((d-1)%64)) != 0
}

// skipValue checks and skips the value at s.i (whitespace before it already
// skipped), which sits inside depth open containers. It does not recurse.
func (s *scanner) skipValue(depth int) code {
	b := s.b
	d := depth
	var c code
value:
	if s.i >= len(b) {
		return cSyntax
	}
	switch ch := b[s.i]; ch {
	case '{':
		d++
		if d > s.maxDepth {
			return cTooDeep
		}
		s.push(d, true)
		s.i++
		s.skipWS()
		if s.i < len(b) && b[s.i] == '}' {
			s.i++
			d--
			goto after
		}
		goto key
	case '[':
		d++
		if d > s.maxDepth {
			return cTooDeep
		}
		s.push(d, false)
		s.i++
		s.skipWS()
		if s.i < len(b) && b[s.i] == ']' {
			s.i++
			d--
			goto after
		}
		goto value
	case '"':
		if _, _, _, c = s.scanString(); c != ok {
			return c
		}
	case 't':
		if c = s.literal("true"); c != ok {
			return c
		}
	case 'f':
		if c = s.literal("false"); c != ok {
			return c
		}
	case 'n':
		if c = s.literal("null"); c != ok {
			return c
		}
	default:
		if ch != '-' && (ch < '0' || ch > '9') {
			return cSyntax
		}
		if _, c = s.scanNumber(); c != ok {
			return c
		}
	}
after:
	if d == depth {
		return ok
	}
	s.skipWS()
	if s.i >= len(b) {
		return cSyntax
	}
	switch ch := b[s.i]; {
	case ch == ',':
		s.i++
		s.skipWS()
		if s.isObj(d) {
			goto key
		}
		goto value
	case ch == '}' && s.isObj(d), ch == ']' && !s.isObj(d):
		s.i++
		d--
		goto after
	}
	return cSyntax
key:
	if s.i >= len(b) || b[s.i] != '"' {
		return cSyntax
	}
	if _, _, _, c = s.scanString(); c != ok {
		return c
	}
	if c = s.colon(); c != ok {
		return c
	}
	goto value
}

// colon consumes optional whitespace, ':' and optional whitespace.
func (s *scanner) colon() code {
	s.skipWS()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		return cSyntax
	}
	s.i++
	s.skipWS()
	return ok
}

// next consumes whitespace and then ',' or the closing '}' of an object,
// reporting whether the object ended.
func (s *scanner) next() (end bool, c code) {
	s.skipWS()
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case ',':
			s.i++
			s.skipWS()
			return false, ok
		case '}':
			s.i++
			return true, ok
		}
	}
	return false, cSyntax
}

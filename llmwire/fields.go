package llmwire

// This file reads the values of the top-level fields ParseRequest
// interprets: model, the token limits, stream and stream_options.

// readModel reads the model value at s.i.
func (s *scanner) readModel() ([]byte, code) {
	if s.b[s.i] != '"' {
		if c := s.skipValue(1); c != ok {
			return nil, c
		}
		return nil, cModel
	}
	start, end, esc, c := s.scanString()
	if c != ok {
		return nil, c
	}
	m := s.b[start:end]
	if esc {
		// Decoded length is at most the raw length.
		if m, c = unescape(make([]byte, 0, len(m)), m); c != ok {
			return nil, cModel
		}
		for _, ch := range m {
			if ch < 0x20 {
				return nil, cModel
			}
		}
	}
	if len(m) == 0 {
		return nil, cModel
	}
	return m, ok
}

// MaxTokensLimit is the largest max_tokens or max_completion_tokens
// ParseRequest accepts: 2^31-1, far above any model's context window, and
// small enough that a reservation (the limit plus the body's size) cannot
// come near the int64 range. A larger value is refused like a negative or
// fractional one, rather than clamped: a budget must never be sized from a
// number other than the one the upstream reads.
const MaxTokensLimit = 1<<31 - 1

// readTokens reads a token limit at s.i: an integer in [0, MaxTokensLimit]
// written without sign, fraction or exponent, or null (-1).
func (s *scanner) readTokens() (int64, code) {
	ch := s.b[s.i]
	if ch == 'n' {
		return -1, s.literal("null")
	}
	if ch != '-' && (ch < '0' || ch > '9') {
		if c := s.skipValue(1); c != ok {
			return 0, c
		}
		return 0, cMaxTokens
	}
	start := s.i
	integer, c := s.scanNumber()
	if c != ok {
		return 0, c
	}
	if !integer {
		return 0, cMaxTokens
	}
	n, fits := parseUint(s.b[start:s.i])
	if !fits || n > MaxTokensLimit {
		return 0, cMaxTokens
	}
	return n, ok
}

// readBool reads true, false or null (false) at s.i.
func (s *scanner) readBool() (bool, code) {
	switch s.b[s.i] {
	case 't':
		return true, s.literal("true")
	case 'f':
		return false, s.literal("false")
	case 'n':
		return false, s.literal("null")
	}
	return false, cSyntax
}

// readStreamOptions reads the stream_options value at s.i: null, or an
// object whose include_usage is true, false or null. Only include_usage is
// interpreted, with the same duplicate and case rules as top-level keys.
func (s *scanner) readStreamOptions(scratch []byte, req *Request) (iu bool, out []byte, field string, c code) {
	const fieldIU = "stream_options.include_usage"
	b := s.b
	switch b[s.i] {
	case 'n':
		return false, scratch, "stream_options", s.literal("null")
	case '{':
	default:
		if c := s.skipValue(1); c != ok {
			return false, scratch, "", c
		}
		return false, scratch, "stream_options", cStreamOptions
	}
	s.i++
	s.skipWS()
	if s.i < len(b) && b[s.i] == '}' {
		s.i++
		return false, scratch, "", ok
	}
	seen := false
	for {
		if s.i >= len(b) || b[s.i] != '"' {
			return false, scratch, "", cSyntax
		}
		keyAt := s.i
		n := len(scratch)
		var key []byte
		key, _, scratch, c = s.readKey(scratch)
		if c != ok {
			return false, scratch, "", c
		}
		isIU := string(key) == includeUsage
		if !isIU && looseMatch(key, includeUsage) {
			s.i = keyAt
			return false, scratch, fieldIU, cAmbiguousKey
		}
		scratch = scratch[:n]
		if isIU && seen {
			s.i = keyAt
			return false, scratch, fieldIU, cDupKey
		}
		if c = s.colon(); c != ok {
			return false, scratch, "", c
		}
		if s.i >= len(b) {
			return false, scratch, "", cSyntax
		}
		if isIU {
			seen = true
			at := s.i
			if iu, c = s.readBool(); c != ok {
				if c == cSyntax {
					c = cStreamOptions
				}
				return false, scratch, fieldIU, c
			}
			req.IncludeUsageAt, req.IncludeUsageEnd = at, s.i
		} else if c = s.skipValue(2); c != ok {
			return false, scratch, "", c
		}
		end, c := s.next()
		if c != ok {
			return false, scratch, "", c
		}
		if end {
			return iu, scratch, "", ok
		}
	}
}

package llmwire

// Usage is the token usage an upstream reports for one request.
type Usage struct{ PromptTokens, CompletionTokens int64 }

// ParseUsage reads the top-level "usage" object of a JSON response:
// prompt_tokens, completion_tokens and total_tokens (input_tokens and
// output_tokens, as in the Responses API, when the former are absent). When
// completion_tokens is missing it is total_tokens - prompt_tokens (0 for an
// embeddings response).
//
// It is lenient, since the upstream is trusted: invalid UTF-8 inside strings
// is tolerated, and duplicate keys are read as Python would (the last one
// wins). It reports false when the body is not a JSON object, usage is
// absent, null or not an object, or holds no count that is a non-negative
// integer. It does not allocate.
func ParseUsage(body []byte) (Usage, bool) {
	s := scanner{b: body, maxDepth: usageMaxDepth, lax: true}
	s.skipWS()
	if s.i >= len(body) || body[s.i] != '{' {
		return Usage{}, false
	}
	s.i++
	s.skipWS()
	var u Usage
	found := false
	if s.i < len(body) && body[s.i] == '}' {
		s.i++
	} else {
		for {
			if s.i >= len(body) || body[s.i] != '"' {
				return Usage{}, false
			}
			start, end, esc, c := s.scanString()
			if c != ok || s.colon() != ok || s.i >= len(body) {
				return Usage{}, false
			}
			if isKey(body[start:end], esc, "usage") {
				if u, found, c = s.readUsage(); c != ok {
					return Usage{}, false
				}
			} else if s.skipValue(1) != ok {
				return Usage{}, false
			}
			last, c := s.next()
			if c != ok {
				return Usage{}, false
			}
			if last {
				break
			}
		}
	}
	s.skipWS()
	if s.i != len(body) || !found {
		return Usage{}, false
	}
	return u, true
}

func isKey(raw []byte, esc bool, name string) bool {
	if !esc {
		return string(raw) == name
	}
	return unescapedIs(raw, name)
}

// Counts in a usage object.
const (
	uPrompt = iota
	uCompletion
	uTotal
	uInput
	uOutput
	uCounts
)

// readUsage reads the value of "usage" at s.i (depth 1).
func (s *scanner) readUsage() (Usage, bool, code) {
	b := s.b
	if b[s.i] != '{' {
		return Usage{}, false, s.skipValue(1)
	}
	s.i++
	s.skipWS()
	var n [uCounts]int64
	var has [uCounts]bool
	if s.i < len(b) && b[s.i] == '}' {
		s.i++
		return Usage{}, false, ok
	}
	for {
		if s.i >= len(b) || b[s.i] != '"' {
			return Usage{}, false, cSyntax
		}
		start, end, esc, c := s.scanString()
		if c != ok {
			return Usage{}, false, c
		}
		if c = s.colon(); c != ok || s.i >= len(b) {
			return Usage{}, false, cSyntax
		}
		k := -1
		raw := b[start:end]
		switch {
		case isKey(raw, esc, "prompt_tokens"):
			k = uPrompt
		case isKey(raw, esc, "completion_tokens"):
			k = uCompletion
		case isKey(raw, esc, "total_tokens"):
			k = uTotal
		case isKey(raw, esc, "input_tokens"):
			k = uInput
		case isKey(raw, esc, "output_tokens"):
			k = uOutput
		}
		if ch := b[s.i]; k >= 0 && (ch == '-' || '0' <= ch && ch <= '9') {
			at := s.i
			integer, c := s.scanNumber()
			if c != ok {
				return Usage{}, false, c
			}
			has[k] = false
			if integer {
				n[k], has[k] = parseUint(b[at:s.i])
			}
		} else {
			if k >= 0 {
				has[k] = false // last one wins, and it is not a count
			}
			if c = s.skipValue(2); c != ok {
				return Usage{}, false, c
			}
		}
		last, c := s.next()
		if c != ok {
			return Usage{}, false, c
		}
		if last {
			break
		}
	}
	if !has[uPrompt] && has[uInput] {
		n[uPrompt], has[uPrompt] = n[uInput], true
	}
	if !has[uCompletion] && has[uOutput] {
		n[uCompletion], has[uCompletion] = n[uOutput], true
	}
	if !has[uCompletion] && has[uPrompt] && has[uTotal] && n[uTotal] >= n[uPrompt] {
		n[uCompletion], has[uCompletion] = n[uTotal]-n[uPrompt], true
	}
	if !has[uPrompt] && !has[uCompletion] {
		return Usage{}, false, ok
	}
	return Usage{PromptTokens: n[uPrompt], CompletionTokens: n[uCompletion]}, true, ok
}

package llmwire

import (
	"unicode"
	"unicode/utf8"
)

// Request is what an OpenAI-compatible upstream will read from a request
// body, as far as the gateway cares.
type Request struct {
	// Model is the decoded value of the top-level "model" string. It aliases
	// the body when the string had no escapes; nil when absent.
	Model    []byte
	HasModel bool
	// MaxTokens is the larger of the top-level max_tokens and
	// max_completion_tokens; -1 when neither is present (or both are null).
	MaxTokens int64
	// Stream is top-level "stream": true.
	Stream bool
	// IncludeUsage is "stream_options": {"include_usage": true}.
	IncludeUsage bool
}

// The top-level fields ParseRequest reads.
const (
	fModel = iota
	fMaxTokens
	fMaxCompletionTokens
	fStream
	fStreamOptions
	fOther
)

var fieldNames = [...]string{
	fModel:               "model",
	fMaxTokens:           "max_tokens",
	fMaxCompletionTokens: "max_completion_tokens",
	fStream:              "stream",
	fStreamOptions:       "stream_options",
}

const includeUsage = "include_usage"

// ParseRequest reads the body of an OpenAI-compatible request, refusing with
// an *Error any body that two upstream JSON parsers could read differently
// (see the package documentation). An empty body (or only whitespace) names
// no model and is not an error.
//
// It does not allocate unless the model or keys hold escapes, or the body
// has more than 32 top-level keys.
func ParseRequest(body []byte) (Request, error) {
	req := Request{MaxTokens: -1}
	c, field, at := parseRequest(body, &req)
	if c != ok {
		return Request{MaxTokens: -1}, &Error{Err: codeErrs[c], Field: field, Offset: at}
	}
	return req, nil
}

// keyRef locates a decoded key: in the body, or in the scratch buffer when
// it had escapes. Offsets rather than slices keep the scratch on the stack.
type keyRef struct {
	off, end  int
	inScratch bool
}

// smallKeys is how many top-level keys are checked for duplicates by linear
// search before switching to a map.
const smallKeys = 32

func parseRequest(body []byte, req *Request) (c code, field string, at int) {
	s := scanner{b: body, maxDepth: MaxDepth}
	s.skipWS()
	if s.i == len(body) {
		return ok, "", 0
	}
	if body[s.i] != '{' {
		return cNotObject, "", s.i
	}
	s.i++
	s.skipWS()

	var scratchArr [256]byte
	scratch := scratchArr[:0]
	var refs [smallKeys]keyRef
	var fps [smallKeys]uint32
	var seen uint64 // filter of fingerprints
	nrefs := 0
	var big map[string]struct{}
	maxTok, maxComp := int64(-1), int64(-1)

	if s.i < len(body) && body[s.i] == '}' {
		s.i++
	} else {
		for {
			keyAt := s.i
			if s.i >= len(body) || body[s.i] != '"' {
				return cSyntax, "", s.i
			}
			var key []byte
			var ref keyRef
			key, ref, scratch, c = s.readKey(scratch)
			if c != ok {
				return c, "", s.i
			}

			f := fOther
			switch string(key) {
			case "model":
				f = fModel
			case "max_tokens":
				f = fMaxTokens
			case "max_completion_tokens":
				f = fMaxCompletionTokens
			case "stream":
				f = fStream
			case "stream_options":
				f = fStreamOptions
			default:
				if mayMatchMS(key) {
					for i, name := range fieldNames {
						if looseMatch(key, name) {
							return cAmbiguousKey, fieldNames[i], keyAt
						}
					}
				}
			}

			// Duplicates, of any key. A cheap fingerprint of each key and a
			// 64-bit filter of them leave the full comparison to the rare
			// keys that might be duplicates.
			if big == nil {
				fp := fingerprint(key)
				bit := uint64(1) << (fp * 0x9E3779B1 >> 26)
				if seen&bit != 0 {
					for n, r := range refs[:nrefs] {
						if fps[n] != fp {
							continue
						}
						k := body[r.off:r.end]
						if r.inScratch {
							k = scratch[r.off:r.end]
						}
						if string(k) == string(key) {
							return cDupKey, nameOf(f), keyAt
						}
					}
				}
				seen |= bit
				if nrefs < len(refs) {
					refs[nrefs], fps[nrefs] = ref, fp
					nrefs++
				} else {
					big = make(map[string]struct{}, 2*smallKeys)
					for _, r := range refs {
						k := body[r.off:r.end]
						if r.inScratch {
							k = scratch[r.off:r.end]
						}
						big[string(k)] = struct{}{}
					}
					big[string(key)] = struct{}{}
				}
			} else {
				if _, dup := big[string(key)]; dup {
					return cDupKey, nameOf(f), keyAt
				}
				big[string(key)] = struct{}{}
			}

			if c = s.colon(); c != ok {
				return c, "", s.i
			}
			if s.i >= len(body) {
				return cSyntax, "", s.i
			}
			valAt := s.i
			switch f {
			case fModel:
				var m []byte
				if m, c = s.readModel(); c != ok {
					return c, "model", valAt
				}
				req.Model, req.HasModel = m, true
			case fMaxTokens, fMaxCompletionTokens:
				var n int64
				if n, c = s.readTokens(); c != ok {
					return c, fieldNames[f], valAt
				}
				if f == fMaxTokens {
					maxTok = n
				} else {
					maxComp = n
				}
			case fStream:
				var v bool
				if v, c = s.readBool(); c != ok {
					if c == cSyntax {
						c = cStream
					}
					return c, "stream", valAt
				}
				req.Stream = v
			case fStreamOptions:
				var iu bool
				iu, scratch, field, c = s.readStreamOptions(scratch)
				if c != ok {
					return c, field, s.i
				}
				req.IncludeUsage = iu
			default:
				if c = s.skipValue(1); c != ok {
					return c, "", s.i
				}
			}

			var end bool
			if end, c = s.next(); c != ok {
				return c, "", s.i
			}
			if end {
				break
			}
		}
	}
	s.skipWS()
	if s.i != len(body) {
		return cTrailing, "", s.i
	}
	req.MaxTokens = max(maxTok, maxComp)
	return ok, "", 0
}

// fingerprint summarizes a key: its length and first and last bytes.
func fingerprint(k []byte) uint32 {
	if len(k) == 0 {
		return 0
	}
	return uint32(len(k))<<16 | uint32(k[0])<<8 | uint32(k[len(k)-1])
}

// mayMatchMS reports whether the first letter of key, ignoring '_' and '-',
// could fold to 'm' or 's', which all the top-level field names start with.
// It saves looseMatch calls on most keys.
func mayMatchMS(key []byte) bool {
	for _, c := range key {
		switch c {
		case '_', '-':
			continue
		case 'm', 'M', 's', 'S':
			return true
		}
		return c >= utf8.RuneSelf // ſ (U+017F) folds to s
	}
	return false
}

func nameOf(f int) string {
	if f < len(fieldNames) {
		return fieldNames[f]
	}
	return ""
}

// readKey scans the object key at s.i (a '"') and returns it decoded: a
// slice of the body, or of scratch (appended to) when it had escapes. Keys
// with a lone surrogate or a control character are refused.
func (s *scanner) readKey(scratch []byte) (key []byte, ref keyRef, out []byte, c code) {
	start, end, esc, c := s.scanString()
	if c != ok {
		return nil, ref, scratch, c
	}
	if !esc {
		return s.b[start:end], keyRef{off: start, end: end}, scratch, ok
	}
	n := len(scratch)
	scratch, c = unescape(scratch, s.b[start:end])
	if c != ok {
		s.i = start
		return nil, ref, scratch, cInvalidKey
	}
	key = scratch[n:]
	for _, ch := range key {
		if ch < 0x20 {
			s.i = start
			return nil, ref, scratch, cInvalidKey
		}
	}
	return key, keyRef{off: n, end: len(scratch), inScratch: true}, scratch, ok
}

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

// readTokens reads a token limit at s.i: a non-negative integer that fits
// an int64, or null (-1).
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
	if !fits {
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
func (s *scanner) readStreamOptions(scratch []byte) (iu bool, out []byte, field string, c code) {
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
			if iu, c = s.readBool(); c != ok {
				if c == cSyntax {
					c = cStreamOptions
				}
				return false, scratch, fieldIU, c
			}
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

// looseMatch reports whether key names the field name (ASCII lowercase
// letters and '_') for some JSON decoder: it compares under Unicode simple
// case folding, as Go's encoding/json does, and ignoring '_' and '-', as
// encoding/json/v2 does with case:ignore.
func looseMatch(key []byte, name string) bool {
	j := 0
	for i := 0; i < len(key); {
		var r rune
		if c := key[i]; c < utf8.RuneSelf {
			i++
			if c == '_' || c == '-' {
				continue
			}
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			r = rune(c)
		} else {
			var n int
			r, n = utf8.DecodeRune(key[i:])
			i += n
			if r = foldASCII(r); r < 0 {
				return false
			}
		}
		for j < len(name) && name[j] == '_' {
			j++
		}
		if j == len(name) || rune(name[j]) != r {
			return false
		}
		j++
	}
	for j < len(name) && name[j] == '_' {
		j++
	}
	return j == len(name)
}

// foldASCII returns the lowercase ASCII letter that r folds to under Unicode
// simple folding (U+212A KELVIN SIGN to 'k', U+017F LATIN SMALL LETTER LONG S
// to 's'), or -1.
func foldASCII(r rune) rune {
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < utf8.RuneSelf {
			return unicode.ToLower(f)
		}
	}
	return -1
}

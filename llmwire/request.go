package llmwire

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
	// Where stream_options sits in the body, so that a proxy can ask for
	// usage without re-encoding the body: the byte offsets [At, End) of the
	// top-level stream_options value and of the include_usage value inside
	// it. End is 0 when the value is absent (no value starts at offset 0).
	StreamOptionsAt, StreamOptionsEnd int
	IncludeUsageAt, IncludeUsageEnd   int
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
				iu, scratch, field, c = s.readStreamOptions(scratch, req)
				if c != ok {
					return c, field, s.i
				}
				req.IncludeUsage = iu
				req.StreamOptionsAt, req.StreamOptionsEnd = valAt, s.i
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

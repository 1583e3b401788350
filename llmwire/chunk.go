package llmwire

// UsageOnlyChunk reports whether data, the data of one server-sent event,
// is the extra chunk that "stream_options": {"include_usage": true} makes an
// OpenAI-compatible upstream send before "data: [DONE]": a JSON object with
// a usage object and no choices (the key absent, or an empty array). A
// proxy that asked for usage on a caller's behalf drops that chunk and no
// other: a chunk with content (a non-empty choices array, even one that
// also carries usage) is never one. It does not allocate.
func UsageOnlyChunk(data []byte) bool {
	if _, ok := ParseUsage(data); !ok {
		return false // also: not one JSON object
	}
	s := scanner{b: data, maxDepth: usageMaxDepth, lax: true}
	s.skipWS()
	s.i++ // '{', as ParseUsage found
	s.skipWS()
	if s.i < len(data) && data[s.i] == '}' {
		return false
	}
	for {
		start, end, esc, c := s.scanString()
		if c != ok || s.colon() != ok {
			return false
		}
		if isKey(data[start:end], esc, "choices") {
			if data[s.i] != '[' {
				return false
			}
			s.i++
			s.skipWS()
			if s.i >= len(data) || data[s.i] != ']' {
				return false
			}
			s.i++
		} else if s.skipValue(1) != ok {
			return false
		}
		last, c := s.next()
		if c != ok {
			return false
		}
		if last {
			return true
		}
		if s.i >= len(data) || data[s.i] != '"' {
			return false
		}
	}
}

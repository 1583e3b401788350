package gateway

import "bytes"

// connectionNamed reports whether header k is named in one of the
// Connection header values conn: such a header is meant for the hop it
// arrived on only (RFC 9110 section 7.6.1) and is not forwarded.
func connectionNamed(conn [][]byte, k []byte) bool {
	for _, v := range conn {
		for v != nil {
			var name []byte
			name, v = nextListItem(v)
			if bytes.EqualFold(name, k) {
				return true
			}
		}
	}
	return false
}

// nextListItem splits the first item off a comma-separated header value,
// without its surrounding spaces and tabs; rest is nil after the last.
func nextListItem(v []byte) (item, rest []byte) {
	if i := bytes.IndexByte(v, ','); i >= 0 {
		item, rest = v[:i], v[i+1:]
	} else {
		item = v
	}
	return bytes.Trim(item, " \t"), rest
}

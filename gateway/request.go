package gateway

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

// splitPath splits "/<api>/<stage>/<rest>" into its parts; rest keeps its
// leading slash ("/" when empty). The path is fasthttp's decoded and
// normalized one (no "..", no "//"), which is also what goes upstream, so
// the route and scope checks see what the upstream will serve.
func splitPath(p []byte) (api, stage, rest []byte, ok bool) {
	if len(p) < 2 || p[0] != '/' {
		return nil, nil, nil, false
	}
	p = p[1:]
	i := bytes.IndexByte(p, '/')
	if i <= 0 {
		return nil, nil, nil, false
	}
	api, p = p[:i], p[i+1:]
	j := bytes.IndexByte(p, '/')
	switch {
	case j < 0:
		stage, rest = p, []byte("/")
	case j == 0:
		return nil, nil, nil, false
	default:
		stage, rest = p[:j], p[j:]
	}
	if len(stage) == 0 {
		return nil, nil, nil, false
	}
	return api, stage, rest, true
}

// Reasons a key is refused; also metric label values.
const (
	reasonMissing   = "missing"
	reasonAmbiguous = "ambiguous" // more than one key in the request
	reasonMalformed = "malformed"
	reasonUnknown   = "unknown"
	reasonDisabled  = "disabled"
	reasonExpired   = "expired"
	reasonRevoked   = "revoked" // PREVIOUS past its grace, or PENDING
	reasonStage     = "stage"
	reasonRoute     = "route"
	reasonModel     = "model"
	reasonLimits    = "limits" // more plan limits apply than one charge holds
)

var (
	hdrAPIKey = []byte("X-Api-Key")
	hdrAuth   = []byte("Authorization")
)

// extractKey finds the caller's key: in x-api-key, or in Authorization as
// a Bearer token. Exactly one key may be present: two x-api-key headers, two
// Authorization headers, or both headers with different values are
// refused, since the gateway and the upstream might read different ones.
func extractKey(h *fasthttp.RequestHeader) (key []byte, reason string) {
	var fromHeader, fromAuth []byte
	var nHeader, nAuth int
	for k, v := range h.All() {
		switch {
		case bytes.EqualFold(k, hdrAPIKey):
			nHeader++
			fromHeader = v
		case bytes.EqualFold(k, hdrAuth):
			nAuth++
			fromAuth = v
		}
	}
	return pickKey(fromHeader, nHeader, fromAuth, nAuth)
}

func pickKey(fromHeader []byte, nHeader int, auth []byte, nAuth int) ([]byte, string) {
	if nHeader > 1 || nAuth > 1 {
		return nil, reasonAmbiguous
	}
	var bearer []byte
	if nAuth == 1 {
		b, ok := parseBearer(auth)
		if !ok {
			if nHeader == 0 {
				return nil, reasonMalformed
			}
			// Authorization of another scheme next to x-api-key: it is the
			// upstream's business (and is stripped anyway).
		}
		bearer = b
	}
	switch {
	case nHeader == 1 && bearer != nil && !bytes.Equal(bytes.TrimSpace(fromHeader), bearer):
		return nil, reasonAmbiguous
	case nHeader == 1:
		k := bytes.TrimSpace(fromHeader)
		if len(k) == 0 {
			return nil, reasonMissing
		}
		if !keyBytes(k) {
			return nil, reasonMalformed
		}
		return k, ""
	case bearer != nil:
		if !keyBytes(bearer) {
			return nil, reasonMalformed
		}
		return bearer, ""
	}
	return nil, reasonMissing
}

// keyBytes reports whether k is printable ASCII without spaces, as every
// key value is (keyvalue.ValidImported): a value with a folded line's
// space, a control byte or non-ASCII in it is refused as malformed here
// rather than handed on.
func keyBytes(k []byte) bool {
	for _, c := range k {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// parseBearer returns the token of "Bearer <token>" (scheme in any case,
// RFC 7235), refusing empty tokens and tokens with inner whitespace.
func parseBearer(v []byte) ([]byte, bool) {
	v = bytes.TrimSpace(v)
	const scheme = "bearer"
	if len(v) <= len(scheme) || !bytes.EqualFold(v[:len(scheme)], []byte(scheme)) || (v[len(scheme)] != ' ' && v[len(scheme)] != '\t') {
		return nil, false
	}
	tok := bytes.TrimSpace(v[len(scheme):])
	if len(tok) == 0 || bytes.ContainsAny(tok, " \t") {
		return nil, false
	}
	return tok, true
}

// hasModelQuery reports whether the query string has a parameter whose
// name is "model" in any case or encoding: an upstream reading the model
// from there would bypass the body check, so such requests are refused.
func hasModelQuery(args *fasthttp.Args) bool {
	for k := range args.All() {
		if bytes.EqualFold(bytes.TrimSpace(k), []byte("model")) {
			return true
		}
	}
	return false
}

// isMultipart reports whether a Content-Type is a multipart upload (audio
// transcriptions, files), which is passed on unread.
func isMultipart(ct []byte) bool {
	return len(ct) >= 10 && bytes.EqualFold(ct[:10], []byte("multipart/"))
}

// isJSON reports whether a Content-Type names JSON.
func isJSON(ct []byte) bool {
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = bytes.TrimSpace(ct)
	return bytes.EqualFold(ct, []byte("application/json")) || (len(ct) > 5 && bytes.EqualFold(ct[len(ct)-5:], []byte("+json")))
}

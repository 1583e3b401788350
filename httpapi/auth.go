package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/keyward/keyward"
)

// Reasons given to Services.AuthFailures. They describe the credential's
// shape, never its content.
const (
	authMissing   = "missing"     // no Authorization header
	authMalformed = "malformed"   // not "Bearer <token>", or a token no issuer could have made
	authUnknown   = "unknown"     // well formed, but the Authenticator rejected it (unknown, expired, revoked)
	authCert      = "certificate" // a valid token over a connection whose client certificate is not bound to its principal
)

// maxTokenLen bounds what is handed to the Authenticator; real admin tokens
// are far shorter.
const maxTokenLen = 512

// errUnauthorized is the one answer to every authentication failure, so that
// the response tells an attacker nothing about why.
var errUnauthorized = &keyward.Error{Code: keyward.EUNAUTHORIZED, Message: "missing or invalid admin token"}

// authenticate returns the principal and token behind the request's bearer
// token. On failure it reports the attempt to AuthFailures with a context
// carrying caller (which has no principal) and returns EUNAUTHORIZED. An
// Authenticator error other than EUNAUTHORIZED (its store is down, say) is
// returned as is and is not an authentication failure.
func (s *server) authenticate(ctx context.Context, r *http.Request, action keyward.Action, caller keyward.Caller) (*keyward.Principal, *keyward.AdminToken, error) {
	token, reason := bearerToken(r.Header)
	if reason == "" {
		if s.svc.Auth == nil {
			return nil, nil, keyward.Errorf(keyward.EINTERNAL, "httpapi: no Authenticator configured")
		}
		p, tok, err := s.svc.Auth.Authenticate(ctx, token)
		switch {
		case err == nil && p != nil && (!s.certBound(r, p) || (s.clientCert != nil && s.clientCert(r.TLS) != nil)):
			// A stolen token is of no use without the certificate its
			// principal is bound to.
			reason = authCert
		case err == nil && p != nil:
			return p, tok, nil
		case err == nil, keyward.ErrorCode(err) == keyward.EUNAUTHORIZED:
			reason = authUnknown
		default:
			return nil, nil, err
		}
	}
	if s.svc.AuthFailures != nil {
		s.svc.AuthFailures.RecordAuthFailure(keyward.WithCaller(ctx, caller), action, reason)
	}
	return nil, nil, errUnauthorized
}

// bearerToken extracts the token of "Authorization: Bearer <token>". The
// second result is "" on success and a failure reason otherwise.
func bearerToken(h http.Header) (string, string) {
	vals := h.Values("Authorization")
	switch {
	case len(vals) == 0:
		return "", authMissing
	case len(vals) > 1:
		return "", authMalformed
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(vals[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", authMalformed
	}
	token = strings.TrimLeft(token, " ")
	if token == "" || len(token) > maxTokenLen {
		return "", authMalformed
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c >= 0x7f {
			return "", authMalformed
		}
	}
	return token, ""
}

// certBound reports whether the request may act as p: always without a
// certificate binding; with one, only when the connection's verified client
// certificate is bound to p by name or ID.
func (s *server) certBound(r *http.Request, p *keyward.Principal) bool {
	if s.certPrincipals == nil {
		return true
	}
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return false
	}
	for _, name := range s.certPrincipals.Principals(r.TLS.VerifiedChains[0][0]) {
		if name == p.Name || name == p.ID {
			return true
		}
	}
	return false
}

package core

import (
	"context"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/keyvalue"
)

var errUnauthenticated = keyward.Errorf(keyward.EUNAUTHORIZED, "missing, malformed, unknown or expired admin token")

// Authenticate finds the principal an admin token belongs to. The checksum is
// checked before any lookup; the lookup is by HMAC digest, never by value.
// Every failure is the same EUNAUTHORIZED error, so a caller learns nothing
// about which part was wrong.
func (s *Service) Authenticate(ctx context.Context, token string) (*keyward.Principal, *keyward.AdminToken, error) {
	if keyvalue.Check(token) != keyvalue.Valid || keyvalue.Prefix(token) != keyward.AdminTokenPrefix {
		return nil, nil, errUnauthenticated
	}
	d := s.hasher.Digest(token)
	now := s.clock.Now()
	if e, ok := s.auth.token(d, time.Now()); ok {
		if e.token.ExpiresAt != nil && !e.token.ExpiresAt.After(now) {
			return nil, nil, errUnauthenticated
		}
		return e.principal, e.token, nil
	}
	gen := s.auth.generation()
	var p *keyward.Principal
	var t *keyward.AdminToken
	err := s.store.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		var err error
		if t, err = tx.FindToken(ctx, d[:]); err != nil {
			return err
		}
		p, err = tx.GetPrincipal(ctx, t.PrincipalID)
		return err
	})
	switch {
	case isNotFound(err):
		return nil, nil, errUnauthenticated
	case err != nil:
		return nil, nil, s.internal(ctx, "authenticate", err)
	}
	s.auth.putToken(gen, d, tokenEntry{principal: p, token: t, until: time.Now().Add(authCacheTTL)})
	if t.ExpiresAt != nil && !t.ExpiresAt.After(now) {
		return nil, nil, errUnauthenticated
	}
	return p, t, nil
}

// RecordAuthFailure audits an admin call that failed authentication. reason
// is a fixed word chosen by the adapter ("missing", "malformed", "unknown"),
// never the token.
func (s *Service) RecordAuthFailure(ctx context.Context, action keyward.Action, reason string) {
	caller, _ := keyward.CallerFrom(ctx)
	caller.Principal = nil
	ev := s.newEvent(caller, call{action: action, params: map[string]any{"authFailure": reason}})
	s.auditFailure(ctx, ev, errUnauthenticated)
}

package core

import (
	"context"
	"sync"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/keyvalue"
)

var errUnauthenticated = keyward.Errorf(keyward.EUNAUTHORIZED, "missing, malformed, unknown or expired admin token")

// Authenticate finds the principal an admin token belongs to. The checksum is
// checked before any lookup; the lookup is by HMAC digest, never by value.
// Every failure is the same EUNAUTHORIZED error, so a caller learns nothing
// about which part was wrong.
func (s *Access) Authenticate(ctx context.Context, token string) (*keyward.Principal, *keyward.AdminToken, error) {
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
		return nil, nil, s.internal(ctx, eventAuthenticate, err)
	}
	s.auth.putToken(gen, d, tokenEntry{principal: p, token: t, until: time.Now().Add(authCacheTTL)})
	if t.ExpiresAt != nil && !t.ExpiresAt.After(now) {
		return nil, nil, errUnauthenticated
	}
	return p, t, nil
}

// RecordAuthFailure audits an admin call that failed authentication. reason
// is a fixed word chosen by the adapter ("missing", "malformed", "unknown"),
// never the token. Failures are folded per source address and reason: at
// most one record a second each, carrying how many failures it stands for,
// so a flood of bad tokens cannot monopolize the writer or bloat the chain.
func (s *Access) RecordAuthFailure(ctx context.Context, action keyward.Action, reason string) {
	caller, _ := keyward.CallerFrom(ctx)
	caller.Principal = nil
	n, ok := s.authFailures.admit(caller.SourceIP+"|"+reason, time.Now())
	if !ok {
		return
	}
	ev := s.newEvent(caller, call{action: action, params: map[string]any{"authFailure": reason, "failures": n}})
	s.recordFailure(ctx, ev, errUnauthenticated)
}

// failureFolder counts authentication failures per key in one-second
// windows.
type failureFolder struct {
	mu sync.Mutex
	m  map[string]*failureWindow
}

type failureWindow struct {
	start time.Time
	n     int // failures folded into the window, after the one recorded
}

// admit reports whether a failure for key should be recorded now, and how
// many failures the record stands for (itself plus those folded since the
// last record).
func (f *failureFolder) admit(key string, now time.Time) (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.m[key]
	if w != nil && now.Sub(w.start) < time.Second {
		w.n++
		return 0, false
	}
	if f.m == nil || len(f.m) > 10000 { // bound memory under a spray of sources
		f.m = map[string]*failureWindow{}
	}
	n := 1
	if w != nil {
		n += w.n
	}
	f.m[key] = &failureWindow{start: now}
	return n, true
}

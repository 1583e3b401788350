package core

import (
	"context"
	"sync"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/keyvalue"
)

// authCacheTTL bounds how long a node trusts what it read about a token and
// its principal's policies. Changes made through this node flush the cache at
// once; the TTL only matters for changes made on another node (PostgreSQL
// deployments), which therefore take effect within this bound.
const authCacheTTL = 5 * time.Second

// authCache keeps token → principal and principal → policies, so that an
// admin call costs one write transaction instead of three. A generation
// counter keeps a load that raced with a flush from re-inserting stale data.
type authCache struct {
	mu       sync.Mutex
	gen      uint64
	tokens   map[keyvalue.Digest]tokenEntry
	policies map[string]policyEntry
}

type tokenEntry struct {
	principal *keyward.Principal
	token     *keyward.AdminToken
	until     time.Time
}

type policyEntry struct {
	policies []*keyward.Policy
	until    time.Time
}

func (c *authCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// flush forgets everything; called after any change to principals, tokens,
// policies or attachments commits.
func (c *authCache) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.tokens, c.policies = nil, nil
}

func (c *authCache) token(d keyvalue.Digest, now time.Time) (tokenEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.tokens[d]
	return e, ok && now.Before(e.until)
}

func (c *authCache) putToken(gen uint64, d keyvalue.Digest, e tokenEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.tokens == nil {
		c.tokens = map[keyvalue.Digest]tokenEntry{}
	}
	c.tokens[d] = e
}

func (c *authCache) policiesOf(principalID string, now time.Time) ([]*keyward.Policy, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.policies[principalID]
	return e.policies, ok && now.Before(e.until)
}

func (c *authCache) putPolicies(gen uint64, principalID string, p []*keyward.Policy, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.policies == nil {
		c.policies = map[string]policyEntry{}
	}
	c.policies[principalID] = policyEntry{policies: p, until: until}
}

// loadPolicies returns the policies attached to a principal, cached.
func (s *base) loadPolicies(ctx context.Context, tx keyward.Tx, principalID string) ([]*keyward.Policy, error) {
	now := time.Now()
	if p, ok := s.auth.policiesOf(principalID, now); ok {
		return p, nil
	}
	gen := s.auth.generation()
	p, err := tx.PoliciesOf(ctx, principalID)
	if err == nil {
		s.auth.putPolicies(gen, principalID, p, now.Add(authCacheTTL))
	}
	return p, err
}

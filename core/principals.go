package core

import (
	"context"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/keyvalue"
)

func principalResolver(ref string) func(context.Context, keyward.Tx) (string, error) {
	return func(ctx context.Context, tx keyward.Tx) (string, error) {
		p, err := resolvePrincipal(ctx, tx, ref)
		if err != nil {
			return "", err
		}
		return keyward.PrincipalARN(p.ID), nil
	}
}

// CreatePrincipal creates a principal with the given roles and its first
// admin token, shown once.
func (s *Access) CreatePrincipal(ctx context.Context, in keyward.PrincipalCreate) (*keyward.CreatedPrincipal, error) {
	var out *keyward.CreatedPrincipal
	params := map[string]any{"name": in.Name, "type": in.Type, "roles": in.Roles}
	err := s.run(ctx, call{action: keyward.ActionPrincipalCreate, resource: keyward.PrincipalARN("*"), params: params},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			p, token, err := s.insertPrincipal(ctx, tx, in, o)
			if err != nil {
				return err
			}
			out = &keyward.CreatedPrincipal{Principal: p, Token: token}
			o.respond("principalId", p.ID)
			return nil
		})
	return out, err
}

// insertPrincipal creates a principal with its roles and first token. o is
// the running call, whose caller must also be allowed to attach each role
// (creating a principal must not be a way around policies:Attach); it is nil
// only for the bootstrap admin, which the server creates by itself.
func (s *Access) insertPrincipal(ctx context.Context, tx keyward.Tx, in keyward.PrincipalCreate, o *op) (*keyward.Principal, string, error) {
	if in.Type == "" {
		in.Type = "service"
	}
	if !principal.MatchString(in.Name) {
		return nil, "", invalid("principal name must be 1-128 characters of A-Z a-z 0-9 . _ @ -")
	}
	if err := checkNotIDShaped("principal", in.Name); err != nil {
		return nil, "", err
	}
	if in.Type != "user" && in.Type != "service" {
		return nil, "", invalid("principal type must be user or service")
	}
	if err := checkText("description", in.Description, maxDescriptionLen, false); err != nil {
		return nil, "", err
	}
	now := s.clock.Now()
	p := &keyward.Principal{ID: newID("prn"), Name: in.Name, Type: in.Type, Description: in.Description, CreatedAt: now, UpdatedAt: now}
	if err := tx.InsertPrincipal(ctx, p); err != nil {
		return nil, "", err
	}
	for _, role := range in.Roles {
		pol, err := resolvePolicy(ctx, tx, role)
		if err != nil {
			return nil, "", err
		}
		if o != nil {
			// As AttachPolicy: on the policy and on the principal it goes
			// to, so a role given at creation is no way around a Deny on
			// attaching to principals.
			if err := o.authorize(ctx, keyward.ActionPolicyAttach, keyward.PolicyARN(pol.ID)); err != nil {
				return nil, "", err
			}
			if err := o.authorize(ctx, keyward.ActionPolicyAttach, keyward.PrincipalARN(p.ID)); err != nil {
				return nil, "", err
			}
		}
		if err := tx.AttachPolicy(ctx, pol.ID, p.ID); err != nil {
			return nil, "", err
		}
		p.PolicyIDs = append(p.PolicyIDs, pol.ID)
	}
	token, _, err := s.insertToken(ctx, tx, p.ID)
	return p, token, err
}

func (s *Access) insertToken(ctx context.Context, tx keyward.Tx, principalID string) (string, *keyward.AdminToken, error) {
	token, err := keyvalue.Generate(keyward.AdminTokenPrefix)
	if err != nil {
		return "", nil, err
	}
	d := s.hasher.Digest(token)
	t := &keyward.AdminToken{ID: newID("tok"), PrincipalID: principalID, Hint: keyvalue.Hint(token), CreatedAt: s.clock.Now(), Digest: d[:]}
	if err := tx.InsertToken(ctx, t); err != nil {
		return "", nil, err
	}
	return token, t, nil
}

// GetPrincipal returns a principal by ID or name.
func (s *Access) GetPrincipal(ctx context.Context, ref string) (*keyward.Principal, error) {
	var p *keyward.Principal
	err := s.run(ctx, call{action: keyward.ActionPrincipalGet, resource: keyward.PrincipalARN(ref), resolve: principalResolver(ref), params: map[string]any{"principal": ref}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			var err error
			p, err = resolvePrincipal(ctx, tx, ref)
			return err
		})
	return p, err
}

// ListPrincipals returns a page of principals.
func (s *Access) ListPrincipals(ctx context.Context, pg keyward.Page) ([]*keyward.Principal, string, error) {
	var out []*keyward.Principal
	var next string
	err := s.run(ctx, call{action: keyward.ActionPrincipalList, resource: keyward.PrincipalARN("*"), params: map[string]any{"limit": pg.Limit}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			var err error
			out, next, err = tx.ListPrincipals(ctx, pg.Normalized())
			return err
		})
	return out, next, err
}

// DeletePrincipal removes a principal, its tokens and its attachments. A
// principal cannot delete itself: that is how the last admin gets locked out.
func (s *Access) DeletePrincipal(ctx context.Context, ref string) error {
	return s.run(ctx, call{action: keyward.ActionPrincipalDelete, resource: keyward.PrincipalARN(ref), resolve: principalResolver(ref), params: map[string]any{"principal": ref}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			p, err := resolvePrincipal(ctx, tx, ref)
			if err != nil {
				return err
			}
			if p.ID == o.caller.Principal.ID {
				return keyward.Errorf(keyward.EPRECONDITION, "a principal cannot delete itself")
			}
			return tx.DeletePrincipal(ctx, p.ID)
		})
}

// CreateToken issues another admin token for a principal, shown once.
func (s *Access) CreateToken(ctx context.Context, ref string) (string, *keyward.AdminToken, error) {
	var token string
	var t *keyward.AdminToken
	err := s.run(ctx, call{action: keyward.ActionPrincipalCreateToken, resource: keyward.PrincipalARN(ref), resolve: principalResolver(ref), params: map[string]any{"principal": ref}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			p, err := resolvePrincipal(ctx, tx, ref)
			if err != nil {
				return err
			}
			token, t, err = s.insertToken(ctx, tx, p.ID)
			if err == nil {
				o.respond("tokenId", t.ID)
			}
			return err
		})
	return token, t, err
}

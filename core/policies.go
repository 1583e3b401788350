package core

import (
	"context"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/policy"
)

func policyResolver(ref string) func(context.Context, keyward.Tx) (string, error) {
	return func(ctx context.Context, tx keyward.Tx) (string, error) {
		p, err := resolvePolicy(ctx, tx, ref)
		if err != nil {
			return "", err
		}
		return keyward.PolicyARN(p.ID), nil
	}
}

// CreatePolicy parses, validates and stores a policy document.
func (s *Access) CreatePolicy(ctx context.Context, in keyward.PolicyCreate) (*keyward.Policy, error) {
	var p *keyward.Policy
	err := s.run(ctx, call{action: keyward.ActionPolicyCreate, resource: keyward.PolicyARN("*"), params: map[string]any{"name": in.Name}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			if !principal.MatchString(in.Name) {
				return invalid("policy name must be 1-128 characters of A-Z a-z 0-9 . _ @ -")
			}
			if err := checkNotIDShaped("policy", in.Name); err != nil {
				return err
			}
			if _, builtin := policy.BuiltIn(in.Name); builtin {
				return keyward.Errorf(keyward.ECONFLICT, "%s is the name of a built-in role", in.Name)
			}
			if err := checkText("description", in.Description, maxDescriptionLen, false); err != nil {
				return err
			}
			doc, err := policy.Parse(in.Document)
			if err != nil {
				return err
			}
			now := s.clock.Now()
			p = &keyward.Policy{ID: newID("pol"), Name: in.Name, Description: in.Description, Document: doc, CreatedAt: now, UpdatedAt: now}
			o.respond("policyId", p.ID)
			return tx.InsertPolicy(ctx, p)
		})
	return p, err
}

// GetPolicy returns a policy by ID or name.
func (s *Access) GetPolicy(ctx context.Context, ref string) (*keyward.Policy, error) {
	var p *keyward.Policy
	err := s.run(ctx, call{action: keyward.ActionPolicyGet, resource: keyward.PolicyARN(ref), resolve: policyResolver(ref), params: map[string]any{"policy": ref}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			var err error
			p, err = resolvePolicy(ctx, tx, ref)
			return err
		})
	return p, err
}

// ListPolicies returns a page of policies, built-in roles included.
func (s *Access) ListPolicies(ctx context.Context, pg keyward.Page) ([]*keyward.Policy, string, error) {
	var out []*keyward.Policy
	var next string
	err := s.run(ctx, call{action: keyward.ActionPolicyList, resource: keyward.PolicyARN("*"), params: map[string]any{"limit": pg.Limit}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			var err error
			out, next, err = tx.ListPolicies(ctx, pg.Normalized())
			return err
		})
	return out, next, err
}

// DeletePolicy removes a custom policy that is attached to no principal.
func (s *Access) DeletePolicy(ctx context.Context, ref string) error {
	return s.run(ctx, call{action: keyward.ActionPolicyDelete, resource: keyward.PolicyARN(ref), resolve: policyResolver(ref), params: map[string]any{"policy": ref}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			p, err := resolvePolicy(ctx, tx, ref)
			if err != nil {
				return err
			}
			if p.BuiltIn {
				return keyward.Errorf(keyward.EPRECONDITION, "built-in role %s cannot be deleted", p.Name)
			}
			n, err := tx.CountAttachments(ctx, p.ID)
			if err != nil {
				return err
			}
			if n > 0 {
				return keyward.Errorf(keyward.EPRECONDITION, "policy %s is attached to %d principals: detach it first", p.Name, n)
			}
			return tx.DeletePolicy(ctx, p.ID)
		})
}

// AttachPolicy attaches a policy to a principal.
func (s *Access) AttachPolicy(ctx context.Context, pol, principal string) error {
	return s.attachment(ctx, keyward.ActionPolicyAttach, pol, principal, func(ctx context.Context, tx keyward.Tx, policyID, principalID string) error {
		return tx.AttachPolicy(ctx, policyID, principalID)
	})
}

// DetachPolicy detaches a policy from a principal.
func (s *Access) DetachPolicy(ctx context.Context, pol, principal string) error {
	return s.attachment(ctx, keyward.ActionPolicyDetach, pol, principal, func(ctx context.Context, tx keyward.Tx, policyID, principalID string) error {
		return tx.DetachPolicy(ctx, policyID, principalID)
	})
}

func (s *Access) attachment(ctx context.Context, action keyward.Action, pol, principal string, change func(context.Context, keyward.Tx, string, string) error) error {
	return s.run(ctx, call{action: action, resource: keyward.PolicyARN(pol), resolve: policyResolver(pol), params: map[string]any{"policy": pol, "principal": principal}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			p, err := resolvePolicy(ctx, tx, pol)
			if err != nil {
				return err
			}
			pr, err := resolvePrincipal(ctx, tx, principal)
			if err != nil {
				return err
			}
			// Checked on the target too: nobody grants a principal anything
			// (themselves included) without rights on that principal.
			if err := o.authorize(ctx, action, keyward.PrincipalARN(pr.ID)); err != nil {
				return err
			}
			o.respond("policyId", p.ID, "principalId", pr.ID)
			return change(ctx, tx, p.ID, pr.ID)
		})
}

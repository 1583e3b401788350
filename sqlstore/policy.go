package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"

	"github.com/keyward/keyward"
)

const policyCols = `id, name, description, built_in, document, created_at, updated_at`

var (
	// Insert and update take their arguments in the same order: name,
	// description, built_in, document, updated_at, id (then created_at for an
	// insert).
	qInsertPolicy = register(`INSERT INTO policies (name, description, built_in, document,
		updated_at, id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	qUpdatePolicy = register(`UPDATE policies SET name = ?, description = ?, built_in = ?,
		document = ?, updated_at = ? WHERE id = ?`)
	qGetPolicy       = register(`SELECT ` + policyCols + ` FROM policies WHERE id = ?`)
	qGetPolicyByName = register(`SELECT ` + policyCols + ` FROM policies WHERE name = ?`)
	qListPolicies    = register(`SELECT ` + policyCols + ` FROM policies WHERE name > ? ORDER BY name LIMIT ?`)
	qDeletePolicy    = register(`DELETE FROM policies WHERE id = ?`)
	qPolicyExists    = register(`SELECT EXISTS (SELECT 1 FROM policies WHERE id = ?)`)

	qAttachPolicy = register(`INSERT INTO policy_attachments (policy_id, principal_id) VALUES (?, ?)`)
	qDetachPolicy = register(`DELETE FROM policy_attachments WHERE policy_id = ? AND principal_id = ?`)
	qPoliciesOf   = register(`SELECT p.id, p.name, p.description, p.built_in, p.document,
		p.created_at, p.updated_at
		FROM policy_attachments a JOIN policies p ON p.id = a.policy_id
		WHERE a.principal_id = ? ORDER BY p.name`)
	qCountAttachments = register(`SELECT count(*) FROM policy_attachments WHERE policy_id = ?`)
)

func (t *tx) InsertPolicy(ctx context.Context, p *keyward.Policy) error {
	args, err := policyArgs(p)
	if err != nil {
		return internal("insert policy", err)
	}
	_, err = t.exec(ctx, qInsertPolicy, append(args, formatTime(p.CreatedAt))...)
	switch {
	case t.d.IsDuplicate(err):
		if strings.Contains(err.Error(), "policies.name") {
			return conflict("a policy named %q already exists", p.Name)
		}
		return conflict("policy %q already exists", p.ID)
	case err != nil:
		return internal("insert policy", err)
	}
	return nil
}

func policyArgs(p *keyward.Policy) ([]any, error) {
	doc, err := json.Marshal(p.Document)
	if err != nil {
		return nil, err
	}
	return []any{p.Name, p.Description, p.BuiltIn, string(doc), formatTime(p.UpdatedAt), p.ID}, nil
}

func scanPolicy(s scanner) (*keyward.Policy, error) {
	p := &keyward.Policy{}
	err := s.Scan(&p.ID, &p.Name, &p.Description, &p.BuiltIn, jsonCol{&p.Document},
		timeCol{&p.CreatedAt}, timeCol{&p.UpdatedAt})
	return p, err
}

func (t *tx) GetPolicy(ctx context.Context, id string) (*keyward.Policy, error) {
	return t.getPolicy(ctx, qGetPolicy, id)
}

func (t *tx) GetPolicyByName(ctx context.Context, name string) (*keyward.Policy, error) {
	return t.getPolicy(ctx, qGetPolicyByName, name)
}

func (t *tx) getPolicy(ctx context.Context, q query, idOrName string) (*keyward.Policy, error) {
	p, err := scanPolicy(t.queryRow(ctx, q, idOrName))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, notFound("policy", idOrName)
	case err != nil:
		return nil, internal("get policy", err)
	}
	return p, nil
}

func (t *tx) ListPolicies(ctx context.Context, p keyward.Page) ([]*keyward.Policy, string, error) {
	return listPage(p, func(p *keyward.Policy) string { return p.Name },
		func(after string, limit int) ([]*keyward.Policy, error) {
			rows, err := t.query(ctx, qListPolicies, after, limit)
			ps, err := collect(rows, err, scanPolicy)
			if err != nil {
				return nil, internal("list policies", err)
			}
			return ps, nil
		})
}

// UpdatePolicy stores everything but ID and CreatedAt. ENOTFOUND; ECONFLICT on
// a taken name.
func (t *tx) UpdatePolicy(ctx context.Context, p *keyward.Policy) error {
	args, err := policyArgs(p)
	if err != nil {
		return internal("update policy", err)
	}
	return t.changeOne(ctx, qUpdatePolicy, "policy", p.ID, conflict("a policy named %q already exists", p.Name), args...)
}

// DeletePolicy deletes a policy and its attachments (ON DELETE CASCADE).
// ENOTFOUND. Refusing to delete an attached or built-in policy is the core's
// decision.
func (t *tx) DeletePolicy(ctx context.Context, id string) error {
	return t.deleteOne(ctx, qDeletePolicy, "policy", id)
}

// AttachPolicy attaches a policy to a principal. ECONFLICT when attached;
// ENOTFOUND for a missing policy or principal.
func (t *tx) AttachPolicy(ctx context.Context, policyID, principalID string) error {
	_, err := t.execProbe(ctx, qAttachPolicy, policyID, principalID)
	switch {
	case t.d.IsDuplicate(err):
		return conflict("policy %q is already attached to principal %q", policyID, principalID)
	case t.d.IsMissingParent(err):
		ok, err := t.exists(ctx, qPolicyExists, policyID)
		if err != nil {
			return internal("attach policy", err)
		}
		if !ok {
			return notFound("policy", policyID)
		}
		return notFound("principal", principalID)
	case err != nil:
		return internal("attach policy", err)
	}
	return nil
}

func (t *tx) DetachPolicy(ctx context.Context, policyID, principalID string) error {
	ok, err := t.execOne(ctx, qDetachPolicy, policyID, principalID)
	switch {
	case err != nil:
		return internal("detach policy", err)
	case !ok:
		return keyward.Errorf(keyward.ENOTFOUND, "policy %q is not attached to principal %q", policyID, principalID)
	}
	return nil
}

// PoliciesOf returns the policies attached to a principal, ordered by name
// (none for an unknown principal).
func (t *tx) PoliciesOf(ctx context.Context, principalID string) ([]*keyward.Policy, error) {
	rows, err := t.query(ctx, qPoliciesOf, principalID)
	ps, err := collect(rows, err, scanPolicy)
	if err != nil {
		return nil, internal("list policies of principal", err)
	}
	return ps, nil
}

func (t *tx) CountAttachments(ctx context.Context, policyID string) (int, error) {
	var n int
	if err := t.queryRow(ctx, qCountAttachments, policyID).Scan(&n); err != nil {
		return 0, internal("count policy attachments", err)
	}
	return n, nil
}

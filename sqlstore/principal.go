package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/keyward/keyward"
)

const principalCols = `id, name, type, description, created_at, updated_at`

const tokenCols = `id, principal_id, hint, created_at, expires_at, digest`

var (
	qInsertPrincipal    = register(`INSERT INTO principals (` + principalCols + `) VALUES (?, ?, ?, ?, ?, ?)`)
	qGetPrincipal       = register(`SELECT ` + principalCols + ` FROM principals WHERE id = ?`)
	qGetPrincipalByName = register(`SELECT ` + principalCols + ` FROM principals WHERE name = ?`)
	qListPrincipals     = register(`SELECT ` + principalCols + ` FROM principals
		WHERE name > ? ORDER BY name LIMIT ?`)
	qDeletePrincipal = register(`DELETE FROM principals WHERE id = ?`)

	// The policies attached to a set of principals, given as a JSON array of IDs.
	qPrincipalsPolicies = register(`SELECT principal_id, policy_id FROM policy_attachments
		WHERE principal_id IN (SELECT value FROM json_each(?)) ORDER BY principal_id, policy_id`)

	qInsertToken = register(`INSERT INTO admin_tokens (` + tokenCols + `) VALUES (?, ?, ?, ?, ?, ?)`)
	qFindToken   = register(`SELECT ` + tokenCols + ` FROM admin_tokens WHERE digest = ?`)
	qDeleteToken = register(`DELETE FROM admin_tokens WHERE id = ?`)
)

func (t *tx) InsertPrincipal(ctx context.Context, p *keyward.Principal) error {
	_, err := t.exec(ctx, qInsertPrincipal, p.ID, p.Name, p.Type, p.Description,
		formatTime(p.CreatedAt), formatTime(p.UpdatedAt))
	switch {
	case t.d.IsDuplicate(err):
		if strings.Contains(err.Error(), "principals.name") {
			return conflict("a principal named %q already exists", p.Name)
		}
		return conflict("principal %q already exists", p.ID)
	case err != nil:
		return internal("insert principal", err)
	}
	return nil
}

func scanPrincipal(s scanner) (*keyward.Principal, error) {
	p := &keyward.Principal{}
	err := s.Scan(&p.ID, &p.Name, &p.Type, &p.Description, timeCol{&p.CreatedAt}, timeCol{&p.UpdatedAt})
	return p, err
}

// GetPrincipal returns a principal with PolicyIDs filled, ordered.
func (t *tx) GetPrincipal(ctx context.Context, id string) (*keyward.Principal, error) {
	return t.getPrincipal(ctx, qGetPrincipal, id)
}

// GetPrincipalByName returns a principal with PolicyIDs filled, ordered.
func (t *tx) GetPrincipalByName(ctx context.Context, name string) (*keyward.Principal, error) {
	return t.getPrincipal(ctx, qGetPrincipalByName, name)
}

func (t *tx) getPrincipal(ctx context.Context, q query, idOrName string) (*keyward.Principal, error) {
	p, err := scanPrincipal(t.queryRow(ctx, q, idOrName))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, notFound("principal", idOrName)
	case err != nil:
		return nil, internal("get principal", err)
	}
	if err := t.fillPolicyIDs(ctx, []*keyward.Principal{p}); err != nil {
		return nil, err
	}
	return p, nil
}

// ListPrincipals returns principals with PolicyIDs filled.
func (t *tx) ListPrincipals(ctx context.Context, p keyward.Page) ([]*keyward.Principal, string, error) {
	ps, next, err := listPage(p, func(p *keyward.Principal) string { return p.Name },
		func(after string, limit int) ([]*keyward.Principal, error) {
			rows, err := t.query(ctx, qListPrincipals, after, limit)
			ps, err := collect(rows, err, scanPrincipal)
			if err != nil {
				return nil, internal("list principals", err)
			}
			return ps, nil
		})
	if err != nil {
		return nil, "", err
	}
	if err := t.fillPolicyIDs(ctx, ps); err != nil {
		return nil, "", err
	}
	return ps, next, nil
}

func (t *tx) fillPolicyIDs(ctx context.Context, ps []*keyward.Principal) error {
	if len(ps) == 0 {
		return nil
	}
	byID := make(map[string]*keyward.Principal, len(ps))
	ids := make([]string, len(ps))
	for i, p := range ps {
		byID[p.ID] = p
		ids[i] = p.ID
	}
	var principalID, policyID string
	err := t.each(ctx, qPrincipalsPolicies, []any{textList(ids)}, []any{&principalID, &policyID}, func() {
		p := byID[principalID]
		p.PolicyIDs = append(p.PolicyIDs, policyID)
	})
	if err != nil {
		return internal("list principal policies", err)
	}
	return nil
}

// DeletePrincipal deletes a principal; its tokens and policy attachments go
// with it (ON DELETE CASCADE).
func (t *tx) DeletePrincipal(ctx context.Context, id string) error {
	return t.deleteOne(ctx, qDeletePrincipal, "principal", id)
}

func (t *tx) InsertToken(ctx context.Context, tok *keyward.AdminToken) error {
	_, err := t.exec(ctx, qInsertToken, tok.ID, tok.PrincipalID, tok.Hint, formatTime(tok.CreatedAt),
		nullTime(tok.ExpiresAt), tok.Digest)
	switch {
	case t.d.IsDuplicate(err):
		if strings.Contains(err.Error(), "admin_tokens.digest") {
			return conflict("the value of admin token %q is already in use", tok.ID)
		}
		return conflict("admin token %q already exists", tok.ID)
	case t.d.IsMissingParent(err):
		return notFound("principal", tok.PrincipalID)
	case err != nil:
		return internal("insert admin token", err)
	}
	return nil
}

func (t *tx) FindToken(ctx context.Context, digest []byte) (*keyward.AdminToken, error) {
	tok := &keyward.AdminToken{}
	err := t.queryRow(ctx, qFindToken, digest).Scan(&tok.ID, &tok.PrincipalID, &tok.Hint,
		timeCol{&tok.CreatedAt}, nullTimeCol{&tok.ExpiresAt}, &tok.Digest)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, keyward.Errorf(keyward.ENOTFOUND, "admin token not found") // never name the digest
	case err != nil:
		return nil, internal("find admin token", err)
	}
	return tok, nil
}

func (t *tx) DeleteToken(ctx context.Context, id string) error {
	return t.deleteOne(ctx, qDeleteToken, "admin token", id)
}

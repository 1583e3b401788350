package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/keyward/keyward"
)

// PrincipalService, PolicyService and AuditService over HTTP.

// CreatePrincipal calls POST /v1/principals.
func (c *Client) CreatePrincipal(ctx context.Context, in keyward.PrincipalCreate) (*keyward.CreatedPrincipal, error) {
	var out keyward.CreatedPrincipal
	if err := c.do(ctx, http.MethodPost, "/v1/principals", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetPrincipal calls GET /v1/principals/{principal}.
func (c *Client) GetPrincipal(ctx context.Context, idOrName string) (*keyward.Principal, error) {
	return getOne[keyward.Principal](ctx, c, "/v1/principals/", idOrName)
}

// ListPrincipals calls GET /v1/principals.
func (c *Client) ListPrincipals(ctx context.Context, p keyward.Page) ([]*keyward.Principal, string, error) {
	return list[*keyward.Principal](ctx, c, "/v1/principals", pageQuery(nil, p))
}

// DeletePrincipal calls DELETE /v1/principals/{principal}.
func (c *Client) DeletePrincipal(ctx context.Context, idOrName string) error {
	return c.call(ctx, http.MethodDelete, nil, nil, "/v1/principals/", idOrName)
}

// CreateToken calls POST /v1/principals/{principal}/tokens.
func (c *Client) CreateToken(ctx context.Context, idOrName string) (string, *keyward.AdminToken, error) {
	var out tokenBody
	if err := c.call(ctx, http.MethodPost, nil, &out, "/v1/principals/", idOrName, "/tokens"); err != nil {
		return "", nil, err
	}
	return out.Token, out.AdminToken, nil
}

// CreatePolicy calls POST /v1/policies. The document is sent as a JSON
// object; one that is not valid JSON is EINVALID before anything is sent.
func (c *Client) CreatePolicy(ctx context.Context, in keyward.PolicyCreate) (*keyward.Policy, error) {
	var out keyward.Policy
	if err := c.do(ctx, http.MethodPost, "/v1/policies", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetPolicy calls GET /v1/policies/{policy}.
func (c *Client) GetPolicy(ctx context.Context, idOrName string) (*keyward.Policy, error) {
	return getOne[keyward.Policy](ctx, c, "/v1/policies/", idOrName)
}

// ListPolicies calls GET /v1/policies.
func (c *Client) ListPolicies(ctx context.Context, p keyward.Page) ([]*keyward.Policy, string, error) {
	return list[*keyward.Policy](ctx, c, "/v1/policies", pageQuery(nil, p))
}

// DeletePolicy calls DELETE /v1/policies/{policy}.
func (c *Client) DeletePolicy(ctx context.Context, idOrName string) error {
	return c.call(ctx, http.MethodDelete, nil, nil, "/v1/policies/", idOrName)
}

// AttachPolicy calls PUT /v1/policies/{policy}/attachments/{principal}.
func (c *Client) AttachPolicy(ctx context.Context, policy, principal string) error {
	return c.call(ctx, http.MethodPut, nil, nil, "/v1/policies/", policy, "/attachments/", principal)
}

// DetachPolicy calls DELETE /v1/policies/{policy}/attachments/{principal}.
func (c *Client) DetachPolicy(ctx context.Context, policy, principal string) error {
	return c.call(ctx, http.MethodDelete, nil, nil, "/v1/policies/", policy, "/attachments/", principal)
}

// ListAudit calls GET /v1/audit/records.
func (c *Client) ListAudit(ctx context.Context, f keyward.AuditFilter) ([]*keyward.AuditRecord, error) {
	if f.AfterSeq < 0 || f.BeforeSeq < 0 || f.Limit < 0 {
		return nil, keyward.Errorf(keyward.EINVALID, "afterSeq, beforeSeq and limit must not be negative")
	}
	q := url.Values{}
	if f.AfterSeq > 0 {
		q.Set("afterSeq", fmt.Sprint(f.AfterSeq))
	}
	if f.BeforeSeq > 0 {
		q.Set("beforeSeq", fmt.Sprint(f.BeforeSeq))
	}
	if f.Descending {
		q.Set("order", "desc")
	}
	setIf(q, "eventName", f.EventName)
	setIf(q, "principalId", f.PrincipalID)
	if f.Since != nil {
		q.Set("since", f.Since.Format(time.RFC3339Nano))
	}
	if f.Until != nil {
		q.Set("until", f.Until.Format(time.RFC3339Nano))
	}
	if f.Limit > 0 {
		q.Set("limit", fmt.Sprint(f.Limit))
	}
	items, _, err := list[*keyward.AuditRecord](ctx, c, "/v1/audit/records", q)
	return items, err
}

// ListCheckpoints calls GET /v1/audit/checkpoints.
func (c *Client) ListCheckpoints(ctx context.Context, afterSize int64, limit int) ([]*keyward.AuditCheckpoint, error) {
	if afterSize < 0 || limit < 0 {
		return nil, keyward.Errorf(keyward.EINVALID, "afterSize and limit must not be negative")
	}
	q := url.Values{}
	if afterSize > 0 {
		q.Set("afterSize", fmt.Sprint(afterSize))
	}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	items, _, err := list[*keyward.AuditCheckpoint](ctx, c, "/v1/audit/checkpoints", q)
	return items, err
}

// ProveRecord calls GET /v1/audit/proof.
func (c *Client) ProveRecord(ctx context.Context, seq, size int64) (*keyward.AuditProof, error) {
	if seq < 1 || size < 0 {
		return nil, keyward.Errorf(keyward.EINVALID, "seq must be at least 1 and size not negative")
	}
	q := url.Values{"seq": {fmt.Sprint(seq)}}
	if size > 0 {
		q.Set("size", fmt.Sprint(size))
	}
	var out keyward.AuditProof
	if err := c.do(ctx, http.MethodGet, "/v1/audit/proof", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ProveConsistency calls GET /v1/audit/consistency.
func (c *Client) ProveConsistency(ctx context.Context, from, to int64) (*keyward.AuditConsistency, error) {
	if from < 0 || to < 0 {
		return nil, keyward.Errorf(keyward.EINVALID, "from and to must not be negative")
	}
	q := url.Values{"from": {fmt.Sprint(from)}}
	if to > 0 {
		q.Set("to", fmt.Sprint(to))
	}
	var out keyward.AuditConsistency
	if err := c.do(ctx, http.MethodGet, "/v1/audit/consistency", q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PublicKey calls GET /v1/audit/public-key.
func (c *Client) PublicKey(ctx context.Context) (string, error) {
	var out struct {
		VerifierKey string `json:"verifierKey"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/audit/public-key", nil, nil, &out); err != nil {
		return "", err
	}
	return out.VerifierKey, nil
}

// VerifyAudit calls POST /v1/audit/verify.
func (c *Client) VerifyAudit(ctx context.Context) (*keyward.AuditVerification, error) {
	var out keyward.AuditVerification
	if err := c.do(ctx, http.MethodPost, "/v1/audit/verify", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/keyward/keyward"
)

// KeyService (with the key half of RotationService), APIService and
// PlanService over HTTP.

// CreateKey calls POST /v1/keys.
func (c *Client) CreateKey(ctx context.Context, in keyward.KeyCreate) (*keyward.CreatedKey, error) {
	var out keyward.CreatedKey
	if err := c.do(ctx, http.MethodPost, "/v1/keys", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ImportKeys calls POST /v1/keys/import.
func (c *Client) ImportKeys(ctx context.Context, in keyward.KeyImport) (*keyward.KeyImportResult, error) {
	var out keyward.KeyImportResult
	if err := c.do(ctx, http.MethodPost, "/v1/keys/import", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetKey calls GET /v1/keys/{id}.
func (c *Client) GetKey(ctx context.Context, id string) (*keyward.APIKey, error) {
	return getOne[keyward.APIKey](ctx, c, "/v1/keys/", id)
}

// ListKeys calls GET /v1/keys.
func (c *Client) ListKeys(ctx context.Context, f keyward.KeyFilter) ([]*keyward.APIKey, string, error) {
	q := url.Values{}
	setIf(q, "name", f.Name)
	setIf(q, "namePrefix", f.NamePrefix)
	setIf(q, "customerId", f.CustomerID)
	setIf(q, "planId", f.PlanID)
	if f.UnusedSince != nil {
		q.Set("unusedSince", f.UnusedSince.UTC().Format(time.RFC3339Nano))
	}
	return list[*keyward.APIKey](ctx, c, "/v1/keys", pageQuery(q, f.Page))
}

// UpdateKey calls PATCH /v1/keys/{id}.
func (c *Client) UpdateKey(ctx context.Context, id string, u keyward.KeyUpdate) (*keyward.APIKey, error) {
	return patchOne[keyward.APIKey](ctx, c, "/v1/keys/", id, u)
}

// DeleteKey calls DELETE /v1/keys/{id}.
func (c *Client) DeleteKey(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodDelete, nil, nil, "/v1/keys/", id)
}

// ReadKeyValue calls GET /v1/keys/{id}/value.
func (c *Client) ReadKeyValue(ctx context.Context, id string) (string, error) {
	var out keyValueBody
	if err := c.call(ctx, http.MethodGet, nil, &out, "/v1/keys/", id, "/value"); err != nil {
		return "", err
	}
	return out.Value, nil
}

// GetKeyUsage calls GET /v1/keys/{id}/usage. A zero from or to is left
// out of the query, for the server's default.
func (c *Client) GetKeyUsage(ctx context.Context, id string, from, to time.Time) ([]keyward.UsageDay, error) {
	pth, err := path("/v1/keys/", id, "/usage")
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	for name, t := range map[string]time.Time{"from": from, "to": to} {
		if !t.IsZero() {
			q.Set(name, t.UTC().Format(keyward.DayFormat))
		}
	}
	items, _, err := list[keyward.UsageDay](ctx, c, pth, q)
	return items, err
}

// RotateKey calls POST /v1/keys/{id}/rotate. The answer's Value, when
// set, is the new value: shown once.
func (c *Client) RotateKey(ctx context.Context, id string, in keyward.KeyRotate) (*keyward.RotatedKey, error) {
	var out keyward.RotatedKey
	if err := c.call(ctx, http.MethodPost, in, &out, "/v1/keys/", id, "/rotate"); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokePrevious calls POST /v1/keys/{id}/revoke-previous.
func (c *Client) RevokePrevious(ctx context.Context, id string) (*keyward.APIKey, error) {
	var out keyward.APIKey
	if err := c.call(ctx, http.MethodPost, nil, &out, "/v1/keys/", id, "/revoke-previous"); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListKeyRotations calls GET /v1/keys/{id}/rotations. f.Kind and f.Target
// are not sent: the key ID says both.
func (c *Client) ListKeyRotations(ctx context.Context, id string, f keyward.RotationFilter) ([]*keyward.Rotation, string, error) {
	pth, err := path("/v1/keys/", id, "/rotations")
	if err != nil {
		return nil, "", err
	}
	return list[*keyward.Rotation](ctx, c, pth, rotationValues(f))
}

// rotationValues is the query of the rotation lists.
func rotationValues(f keyward.RotationFilter) url.Values {
	q := url.Values{}
	setIf(q, "state", string(f.State))
	setIf(q, "clientToken", f.ClientToken)
	return pageQuery(q, f.Page)
}

// CreateAPI calls POST /v1/apis.
func (c *Client) CreateAPI(ctx context.Context, in keyward.APICreate) (*keyward.API, error) {
	var out keyward.API
	if err := c.do(ctx, http.MethodPost, "/v1/apis", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetAPI calls GET /v1/apis/{api}.
func (c *Client) GetAPI(ctx context.Context, idOrName string) (*keyward.API, error) {
	return getOne[keyward.API](ctx, c, "/v1/apis/", idOrName)
}

// ListAPIs calls GET /v1/apis.
func (c *Client) ListAPIs(ctx context.Context, p keyward.Page) ([]*keyward.API, string, error) {
	return list[*keyward.API](ctx, c, "/v1/apis", pageQuery(nil, p))
}

// UpdateAPI calls PATCH /v1/apis/{api}.
func (c *Client) UpdateAPI(ctx context.Context, idOrName string, u keyward.APIUpdate) (*keyward.API, error) {
	return patchOne[keyward.API](ctx, c, "/v1/apis/", idOrName, u)
}

// DeleteAPI calls DELETE /v1/apis/{api}.
func (c *Client) DeleteAPI(ctx context.Context, idOrName string) error {
	return c.call(ctx, http.MethodDelete, nil, nil, "/v1/apis/", idOrName)
}

// CreatePlan calls POST /v1/plans.
func (c *Client) CreatePlan(ctx context.Context, in keyward.PlanCreate) (*keyward.UsagePlan, error) {
	var out keyward.UsagePlan
	if err := c.do(ctx, http.MethodPost, "/v1/plans", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetPlan calls GET /v1/plans/{plan}.
func (c *Client) GetPlan(ctx context.Context, idOrName string) (*keyward.UsagePlan, error) {
	return getOne[keyward.UsagePlan](ctx, c, "/v1/plans/", idOrName)
}

// ListPlans calls GET /v1/plans.
func (c *Client) ListPlans(ctx context.Context, p keyward.Page) ([]*keyward.UsagePlan, string, error) {
	return list[*keyward.UsagePlan](ctx, c, "/v1/plans", pageQuery(nil, p))
}

// UpdatePlan calls PATCH /v1/plans/{plan}.
func (c *Client) UpdatePlan(ctx context.Context, idOrName string, u keyward.PlanUpdate) (*keyward.UsagePlan, error) {
	return patchOne[keyward.UsagePlan](ctx, c, "/v1/plans/", idOrName, u)
}

// DeletePlan calls DELETE /v1/plans/{plan}.
func (c *Client) DeletePlan(ctx context.Context, idOrName string) error {
	return c.call(ctx, http.MethodDelete, nil, nil, "/v1/plans/", idOrName)
}

// AttachKey calls PUT /v1/plans/{plan}/keys/{keyId}.
func (c *Client) AttachKey(ctx context.Context, plan, keyID string) error {
	return c.call(ctx, http.MethodPut, nil, nil, "/v1/plans/", plan, "/keys/", keyID)
}

// DetachKey calls DELETE /v1/plans/{plan}/keys/{keyId}.
func (c *Client) DetachKey(ctx context.Context, plan, keyID string) error {
	return c.call(ctx, http.MethodDelete, nil, nil, "/v1/plans/", plan, "/keys/", keyID)
}

// ListPlanKeys calls GET /v1/plans/{plan}/keys.
func (c *Client) ListPlanKeys(ctx context.Context, plan string, p keyward.Page) ([]*keyward.APIKey, string, error) {
	pth, err := path("/v1/plans/", plan, "/keys")
	if err != nil {
		return nil, "", err
	}
	return list[*keyward.APIKey](ctx, c, pth, pageQuery(nil, p))
}

// call sends a request without query to a path built from parts (see path).
func (c *Client) call(ctx context.Context, method string, in, out any, parts ...string) error {
	pth, err := path(parts...)
	if err != nil {
		return err
	}
	return c.do(ctx, method, pth, nil, in, out)
}

func getOne[T any](ctx context.Context, c *Client, prefix, id string) (*T, error) {
	var out T
	if err := c.call(ctx, http.MethodGet, nil, &out, prefix, id); err != nil {
		return nil, err
	}
	return &out, nil
}

func patchOne[T any](ctx context.Context, c *Client, prefix, id string, in any) (*T, error) {
	var out T
	if err := c.call(ctx, http.MethodPatch, in, &out, prefix, id); err != nil {
		return nil, err
	}
	return &out, nil
}

func list[T any](ctx context.Context, c *Client, pth string, q url.Values) ([]T, string, error) {
	var out listBody[T]
	if err := c.do(ctx, http.MethodGet, pth, q, nil, &out); err != nil {
		return nil, "", err
	}
	return out.Items, out.Next, nil
}

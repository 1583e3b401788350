package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/keyward/keyward"
)

// SecretService, and the secret half of RotationService, over HTTP. Names
// may contain '/': they travel path-escaped as one segment.

// CreateSecret calls POST /v1/secrets.
func (c *Client) CreateSecret(ctx context.Context, in keyward.SecretCreate) (*keyward.SecretVersionRef, error) {
	b := secretCreateBody{Name: in.Name, Description: in.Description, Tags: in.Tags, ClientToken: in.ClientToken}
	if len(in.Value) > 0 || in.Binary {
		b.SecretString, b.SecretBinary = secretWire(in.Value, in.Binary)
	}
	var out keyward.SecretVersionRef
	if err := c.do(ctx, http.MethodPost, "/v1/secrets", nil, b, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PutSecretValue calls POST /v1/secrets/{name}/versions.
func (c *Client) PutSecretValue(ctx context.Context, name string, in keyward.SecretPut) (*keyward.SecretVersionRef, error) {
	b := secretPutBody{ClientToken: in.ClientToken, VersionStages: in.Stages}
	b.SecretString, b.SecretBinary = secretWire(in.Value, in.Binary)
	var out keyward.SecretVersionRef
	if err := c.call(ctx, http.MethodPost, b, &out, "/v1/secrets/", name, "/versions"); err != nil {
		return nil, err
	}
	return &out, nil
}

// secretWire is the inverse of secretPayload.
func secretWire(v []byte, binary bool) (*string, []byte) {
	if binary {
		if v == nil {
			v = []byte{}
		}
		return nil, v
	}
	s := string(v)
	return &s, nil
}

// GetSecretValue calls GET /v1/secrets/{name}/value.
func (c *Client) GetSecretValue(ctx context.Context, name string, sel keyward.SecretSelector) (*keyward.SecretValue, error) {
	pth, err := path("/v1/secrets/", name, "/value")
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	setIf(q, "versionId", sel.VersionID)
	setIf(q, "versionStage", sel.Stage)
	var out secretValueBody
	if err := c.do(ctx, http.MethodGet, pth, q, nil, &out); err != nil {
		return nil, err
	}
	v := &keyward.SecretValue{Name: out.Name, VersionID: out.VersionID, Stages: out.VersionStages, CreatedAt: out.CreatedAt}
	switch {
	case out.SecretBinary != nil:
		v.Value, v.Binary = out.SecretBinary, true
	case out.SecretString != nil:
		v.Value = []byte(*out.SecretString)
	}
	return v, nil
}

// DescribeSecret calls GET /v1/secrets/{name}.
func (c *Client) DescribeSecret(ctx context.Context, name string) (*keyward.Secret, error) {
	return getOne[keyward.Secret](ctx, c, "/v1/secrets/", name)
}

// ListSecrets calls GET /v1/secrets.
func (c *Client) ListSecrets(ctx context.Context, f keyward.SecretFilter) ([]*keyward.Secret, string, error) {
	q := url.Values{}
	setIf(q, "namePrefix", f.NamePrefix)
	setIf(q, "tagKey", f.TagKey)
	setIf(q, "tagValue", f.TagValue)
	if f.IncludeDeleted {
		q.Set("includeDeleted", "true")
	}
	return list[*keyward.Secret](ctx, c, "/v1/secrets", pageQuery(q, f.Page))
}

// UpdateSecret calls PATCH /v1/secrets/{name}.
func (c *Client) UpdateSecret(ctx context.Context, name string, u keyward.SecretUpdate) (*keyward.Secret, error) {
	return patchOne[keyward.Secret](ctx, c, "/v1/secrets/", name, u)
}

// UpdateSecretVersionStage calls POST /v1/secrets/{name}/stages.
func (c *Client) UpdateSecretVersionStage(ctx context.Context, name string, m keyward.StageMove) error {
	return c.call(ctx, http.MethodPost, m, nil, "/v1/secrets/", name, "/stages")
}

// DeleteSecret calls DELETE /v1/secrets/{name}?recoveryWindowDays=N&force=true.
func (c *Client) DeleteSecret(ctx context.Context, name string, d keyward.SecretDelete) (*keyward.Secret, error) {
	pth, err := path("/v1/secrets/", name)
	if err != nil {
		return nil, err
	}
	if d.RecoveryWindowDays < 0 {
		return nil, keyward.Errorf(keyward.EINVALID, "recoveryWindowDays must not be negative")
	}
	q := url.Values{}
	if d.RecoveryWindowDays != 0 {
		q.Set("recoveryWindowDays", fmt.Sprint(d.RecoveryWindowDays))
	}
	if d.Force {
		q.Set("force", "true")
	}
	var out keyward.Secret
	if err := c.do(ctx, http.MethodDelete, pth, q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RestoreSecret calls POST /v1/secrets/{name}/restore.
func (c *Client) RestoreSecret(ctx context.Context, name string) (*keyward.Secret, error) {
	var out keyward.Secret
	if err := c.call(ctx, http.MethodPost, nil, &out, "/v1/secrets/", name, "/restore"); err != nil {
		return nil, err
	}
	return &out, nil
}

// RotateSecret calls POST /v1/secrets/{name}/rotate. The server answers
// as soon as the rotation has started (202): poll ListSecretRotations for
// its outcome. The rotation is nil when none was started (in.Now false).
func (c *Client) RotateSecret(ctx context.Context, name string, in keyward.SecretRotate) (*keyward.Rotation, error) {
	var out *keyward.Rotation // stays nil for a 204
	if err := c.call(ctx, http.MethodPost, in, &out, "/v1/secrets/", name, "/rotate"); err != nil {
		return nil, err
	}
	return out, nil
}

// CancelSecretRotation calls POST /v1/secrets/{name}/cancel-rotation.
func (c *Client) CancelSecretRotation(ctx context.Context, name string) (*keyward.Rotation, error) {
	var out keyward.Rotation
	if err := c.call(ctx, http.MethodPost, nil, &out, "/v1/secrets/", name, "/cancel-rotation"); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListSecretRotations calls GET /v1/secrets/{name}/rotations. f.Kind and
// f.Target are not sent: the name says both.
func (c *Client) ListSecretRotations(ctx context.Context, name string, f keyward.RotationFilter) ([]*keyward.Rotation, string, error) {
	pth, err := path("/v1/secrets/", name, "/rotations")
	if err != nil {
		return nil, "", err
	}
	return list[*keyward.Rotation](ctx, c, pth, rotationValues(f))
}

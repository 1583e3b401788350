package core

import (
	"context"

	"github.com/keyward/keyward"
)

// GetKey returns a key's metadata, never its value.
func (s *Keys) GetKey(ctx context.Context, id string) (*keyward.APIKey, error) {
	var k *keyward.APIKey
	err := s.run(ctx, call{action: keyward.ActionKeyGet, resource: keyward.KeyARN(id), params: map[string]any{"keyId": id}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			var err error
			k, err = tx.GetKey(ctx, id)
			return err
		})
	if err != nil {
		return nil, err
	}
	return publicKey(k), nil
}

// ListKeys returns a page of keys.
func (s *Keys) ListKeys(ctx context.Context, f keyward.KeyFilter) ([]*keyward.APIKey, string, error) {
	var keys []*keyward.APIKey
	var next string
	params := map[string]any{"name": f.Name, "namePrefix": f.NamePrefix, "customerId": f.CustomerID, "planId": f.PlanID, "limit": f.Limit}
	err := s.run(ctx, call{action: keyward.ActionKeyList, resource: keyward.KeyARN("*"), params: params},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			if err := checkFilters(f.Name, f.NamePrefix, f.CustomerID, f.PlanID); err != nil {
				return err
			}
			if f.PlanID != "" {
				p, err := resolvePlan(ctx, tx, f.PlanID)
				if err != nil {
					return err
				}
				f.PlanID = p.ID
			}
			f.Page = f.Page.Normalized()
			var err error
			keys, next, err = tx.ListKeys(ctx, f)
			return err
		})
	if err != nil {
		return nil, "", err
	}
	for _, k := range keys {
		publicKey(k)
	}
	return keys, next, nil
}

// UpdateKey changes a key's fields in place; its ID and credentials stay.
func (s *Keys) UpdateKey(ctx context.Context, id string, u keyward.KeyUpdate) (*keyward.APIKey, error) {
	params := map[string]any{"keyId": id}
	for name, set := range map[string]bool{
		"name": u.Name != nil, "description": u.Description != nil, "customerId": u.CustomerID != nil,
		"enabled": u.Enabled != nil, "expiresAt": u.ExpiresAt != nil, "noExpiry": u.NoExpiry,
		"stageKeys": u.StageKeys != nil, "scopes": u.Scopes != nil, "tags": u.Tags != nil,
		"rotation": u.Rotation != nil, "noRotation": u.NoRotation,
	} {
		if set {
			params[name] = true // which fields changed; values are in the store's history
		}
	}
	if u.Enabled != nil {
		params["enabled"] = *u.Enabled
	}
	var k *keyward.APIKey
	err := s.run(ctx, call{action: keyward.ActionKeyUpdate, resource: keyward.KeyARN(id), params: params},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			var err error
			if k, err = tx.GetKey(ctx, id); err != nil {
				return err
			}
			bound := k.StageKeys
			if err := s.applyKeyUpdate(ctx, tx, k, u); err != nil {
				return err
			}
			if err := o.mayBind(ctx, bound, k.StageKeys); err != nil {
				return err
			}
			k.UpdatedAt = s.clock.Now()
			return tx.UpdateKey(ctx, k)
		})
	if err != nil {
		return nil, err
	}
	return publicKey(k), nil
}

func (s *Keys) applyKeyUpdate(ctx context.Context, tx keyward.Tx, k *keyward.APIKey, u keyward.KeyUpdate) error {
	if u.ExpiresAt != nil && u.NoExpiry {
		return invalid("expiresAt and noExpiry are mutually exclusive")
	}
	if u.Name != nil {
		if err := checkText("name", *u.Name, maxNameLen, true); err != nil {
			return err
		}
		k.Name = *u.Name
	}
	if u.Description != nil {
		if err := checkText("description", *u.Description, maxDescriptionLen, false); err != nil {
			return err
		}
		k.Description = *u.Description
	}
	if u.CustomerID != nil {
		if err := checkText("customerId", *u.CustomerID, maxNameLen, false); err != nil {
			return err
		}
		k.CustomerID = *u.CustomerID
	}
	if u.Enabled != nil {
		k.Enabled = *u.Enabled
	}
	if u.ExpiresAt != nil {
		if !u.ExpiresAt.After(s.clock.Now()) {
			return invalid("expiresAt must be in the future")
		}
		k.ExpiresAt = u.ExpiresAt
	}
	if u.NoExpiry {
		k.ExpiresAt = nil
	}
	if u.Rotation != nil && u.NoRotation {
		return invalid("rotation and noRotation are mutually exclusive")
	}
	if u.Rotation != nil {
		if err := checkRotationPolicy(u.Rotation); err != nil {
			return err
		}
		k.Rotation = u.Rotation
	}
	if u.NoRotation {
		k.Rotation = nil
	}
	if u.StageKeys != nil {
		sks, _, err := resolveStageKeys(ctx, tx, *u.StageKeys)
		if err != nil {
			return err
		}
		k.StageKeys = sks
	}
	if u.Scopes != nil {
		if err := checkScopes(*u.Scopes); err != nil {
			return err
		}
		k.Scopes = *u.Scopes
	}
	if u.Tags != nil {
		if err := checkTags(*u.Tags); err != nil {
			return err
		}
		k.Tags = *u.Tags
	}
	return nil
}

// DeleteKey removes a key and its credentials; its value stops working.
func (s *Keys) DeleteKey(ctx context.Context, id string) error {
	return s.run(ctx, call{action: keyward.ActionKeyDelete, resource: keyward.KeyARN(id), params: map[string]any{"keyId": id}},
		func(ctx context.Context, tx keyward.Tx, o *op) error { return tx.DeleteKey(ctx, id) })
}

// ReadKeyValue decrypts the CURRENT value of a recoverable key. Every read is
// an audit record of type ValueRead.
func (s *Keys) ReadKeyValue(ctx context.Context, id string) (string, error) {
	var value string
	err := s.run(ctx, call{action: keyward.ActionKeyReadValue, resource: keyward.KeyARN(id), params: map[string]any{"keyId": id}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			o.ev.EventType = keyward.EventTypeValueRead
			k, err := tx.GetKey(ctx, id)
			if err != nil {
				return err
			}
			if !k.Recoverable {
				return keyward.Errorf(keyward.EPRECONDITION, "key %s is not recoverable: its value was shown once, at creation", id)
			}
			for i := range k.Credentials {
				c := &k.Credentials[i]
				if c.Label != keyward.LabelCurrent {
					continue
				}
				plain, err := s.sealer.Open(ctx, credentialBinding(c), c.SealedValue)
				if err != nil {
					return err
				}
				value = string(plain)
				o.respond("credentialId", c.ID, "value", s.marker(plain))
				return nil
			}
			return keyward.Errorf(keyward.EPRECONDITION, "key %s has no CURRENT credential", id)
		})
	return value, err
}

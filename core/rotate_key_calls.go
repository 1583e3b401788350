package core

import (
	"context"

	"github.com/keyward/keyward"
)

// replayRotateKey answers a RotateKey retried with a client token already
// used on this key: the same rotation, and the value again only when the
// key is recoverable, the value is still CURRENT and the caller may read it.
func (s *Rotations) replayRotateKey(ctx context.Context, tx keyward.Tx, o *op, k *keyward.APIKey, in keyward.KeyRotate) (*keyward.RotatedKey, error) {
	rots, _, err := tx.ListRotations(ctx, keyward.RotationFilter{Kind: keyward.RotationKey, Target: k.ID, ClientToken: in.ClientToken, Page: keyward.Page{Limit: 1}})
	if err != nil || len(rots) == 0 {
		return nil, err
	}
	rot := rots[0]
	if (in.Grace != nil && *in.Grace != rot.Grace) || (in.StoreSecret != "" && in.StoreSecret != rot.StoreSecret) {
		return nil, keyward.Errorf(keyward.ECONFLICT, "client token already used with other input")
	}
	out := &keyward.RotatedKey{Key: publicKey(k), Rotation: rot, Replayed: true}
	o.respond("rotationId", rot.ID, "state", string(rot.State), "replayed", true)
	if rot.State != keyward.RotationSucceeded || !k.Recoverable || rot.StoreSecret != "" {
		return out, nil
	}
	if o.authorize(ctx, keyward.ActionKeyReadValue, keyward.KeyARN(k.ID)) != nil {
		return out, nil
	}
	full, err := tx.GetKey(ctx, k.ID)
	if err != nil {
		return nil, err
	}
	for _, c := range full.Credentials {
		if c.ID == rot.PendingID && c.Label == keyward.LabelCurrent && len(c.SealedValue) > 0 {
			plain, err := s.sealer.Open(ctx, credentialBinding(&c), c.SealedValue)
			if err != nil {
				return nil, err
			}
			out.Value = string(plain)
			o.ev.EventType = keyward.EventTypeValueRead
		}
	}
	return out, nil
}

// RevokePrevious ends the PREVIOUS credential's grace at once, for an old
// value that leaked.
func (s *Rotations) RevokePrevious(ctx context.Context, id string) (*keyward.APIKey, error) {
	var k *keyward.APIKey
	err := s.run(ctx, call{action: keyward.ActionKeyRevokePrevious, resource: keyward.KeyARN(id), params: map[string]any{"keyId": id}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			var err error
			if k, err = tx.GetKey(ctx, id); err != nil {
				return err
			}
			for i, c := range k.Credentials {
				if c.Label == keyward.LabelPrevious {
					if err := tx.DeleteCredential(ctx, c.ID); err != nil {
						return err
					}
					o.respond("revokedCredentialId", c.ID, "hint", c.Hint)
					k.Credentials = append(k.Credentials[:i], k.Credentials[i+1:]...)
					return nil
				}
			}
			return keyward.Errorf(keyward.EPRECONDITION, "key %s has no PREVIOUS value", id)
		})
	if err != nil {
		return nil, err
	}
	s.kickScheduler()
	return publicKey(k), nil
}

// ListKeyRotations lists a key's rotations, newest first.
func (s *Rotations) ListKeyRotations(ctx context.Context, id string, f keyward.RotationFilter) ([]*keyward.Rotation, string, error) {
	exists := func(ctx context.Context, tx keyward.Tx) error { _, err := tx.GetKey(ctx, id); return err }
	return s.listRotations(ctx, keyward.ActionKeyListRotations, keyward.KeyARN(id), keyward.RotationKey, id, exists, f)
}

// listRotations lists the rotations of one target, newest first, after
// exists says the target is there.
func (s *Rotations) listRotations(ctx context.Context, action keyward.Action, resource string, kind keyward.RotationKind, target string,
	exists func(ctx context.Context, tx keyward.Tx) error, f keyward.RotationFilter) ([]*keyward.Rotation, string, error) {
	var out []*keyward.Rotation
	var next string
	params := map[string]any{"target": target, "state": string(f.State), "clientToken": f.ClientToken, "limit": f.Limit}
	err := s.run(ctx, call{action: action, resource: resource, params: params},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			if err := exists(ctx, tx); err != nil {
				return err
			}
			f.Kind, f.Target, f.Page = kind, target, f.Page.Normalized()
			var err error
			out, next, err = tx.ListRotations(ctx, f)
			return err
		})
	return out, next, err
}

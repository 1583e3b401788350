package core

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/keyward/keyward"
)

// A generic secret (an upstream vendor key, say) is rotated by a rotator:
// a webhook endpoint keyward calls once per step with a signed request, as
// Secrets Manager calls a rotation Lambda. The rotator does the work with
// keyward's admin API and its own principal:
//
//	createSecret  put a new value as the version named clientRequestToken,
//	              staged PENDING (PutSecretValue with that client token)
//	setSecret     set the new value where it is used (the vendor)
//	testSecret    check that the new value works there
//	finishSecret  finish on its side
//
// keyward checks after createSecret that the PENDING version exists, and
// moves CURRENT onto it only after finishSecret answered: a failing step
// leaves CURRENT where it was. The steps run in the background; each one is
// recorded, so a server stopped mid-way resumes with the next step.

// RotateSecret configures a secret's rotation and, unless told otherwise,
// starts one in the background.
func (s *Rotations) RotateSecret(ctx context.Context, name string, in keyward.SecretRotate) (*keyward.Rotation, error) {
	now := in.Now == nil || *in.Now
	params := map[string]any{"name": name, "rotatorId": in.RotatorID, "rotateImmediately": now, "clientToken": in.ClientToken}
	if in.Every != nil {
		params["every"] = in.Every.String()
	}
	var rot *keyward.Rotation
	var replayed bool
	err := s.run(ctx, call{action: keyward.ActionSecretRotate, resource: keyward.SecretARN(name), params: params},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			if in.Every != nil && *in.Every != 0 && (in.Every.Std() < time.Minute || in.Every.Std() > 1000*24*time.Hour) {
				return invalid("every must be 0 (only when asked) or between 1m and 1000d")
			}
			if err := checkClientToken(in.ClientToken); err != nil {
				return err
			}
			sec, err := s.liveSecret(ctx, tx, name)
			if err != nil {
				return err
			}
			if err := s.refuseKeyValueSecret(ctx, tx, sec); err != nil {
				return err
			}
			if now && in.ClientToken != "" {
				// A retry: the same rotation, and nothing else changes.
				rots, _, err := tx.ListRotations(ctx, keyward.RotationFilter{Kind: keyward.RotationSecret, Target: name,
					ClientToken: in.ClientToken, Page: keyward.Page{Limit: 1}})
				if err != nil {
					return err
				}
				if len(rots) > 0 {
					rot, replayed = rots[0], true
					o.respond("rotationId", rot.ID, "replayed", true)
					return nil
				}
			}
			running, _, err := tx.ListRotations(ctx, keyward.RotationFilter{Kind: keyward.RotationSecret, Target: name,
				State: keyward.RotationInProgress, Page: keyward.Page{Limit: 1}})
			if err != nil {
				return err
			}
			cfg := keyward.SecretRotation{}
			if sec.Rotation != nil {
				cfg = *sec.Rotation
			}
			if in.RotatorID != "" {
				cfg.RotatorID = in.RotatorID
			}
			if in.Every != nil {
				cfg.Every = *in.Every
			}
			if cfg.RotatorID == "" {
				return keyward.Errorf(keyward.EPRECONDITION, "secret %s has no rotator: give rotatorId", name)
			}
			if len(running) > 0 && sec.Rotation != nil && cfg.RotatorID != sec.Rotation.RotatorID {
				return keyward.Errorf(keyward.ECONFLICT, "a rotation of secret %s is running: its rotator cannot change now", name)
			}
			w, err := tx.GetWebhook(ctx, cfg.RotatorID)
			if isNotFound(err) || (err == nil && w.Kind != keyward.WebhookRotator) {
				return invalid("rotatorId must name a webhook endpoint of kind rotator")
			}
			if err != nil {
				return err
			}
			if sec.Rotation == nil || *sec.Rotation != cfg {
				sec.Rotation, sec.UpdatedAt = &cfg, s.clock.Now()
				if err := tx.UpdateSecret(ctx, sec); err != nil {
					return err
				}
			}
			if !now {
				return nil
			}
			startedBy := "system"
			if o.caller.Principal != nil {
				startedBy = o.caller.Principal.ID
			}
			rot, err = s.insertSecretRotation(ctx, tx, name, keyward.TriggerManual, startedBy, in.ClientToken)
			if err != nil {
				return err
			}
			o.respond("rotationId", rot.ID, "pendingVersionId", rot.PendingID)
			return nil
		})
	if err != nil {
		return nil, err
	}
	if rot != nil && !replayed {
		caller, _ := keyward.CallerFrom(ctx)
		s.startSecretRotation(rot, caller)
	}
	return rot, nil
}

// refuseKeyValueSecret refuses a generic rotation of a secret that holds
// an API key's value: only a key rotation may change it, or the secret and
// the key would no longer agree.
func (s *Rotations) refuseKeyValueSecret(ctx context.Context, tx keyward.Tx, sec *keyward.Secret) error {
	id, err := valueOwner(ctx, tx, sec)
	if err != nil || id == "" {
		return err
	}
	return keyward.Errorf(keyward.EPRECONDITION, "secret %s holds the value of API key %s: rotate the key instead", sec.Name, id)
}

func (s *Rotations) insertSecretRotation(ctx context.Context, tx keyward.Tx, name, trigger, startedBy, token string) (*keyward.Rotation, error) {
	now := s.clock.Now()
	rot := &keyward.Rotation{ID: newID("rot"), Kind: keyward.RotationSecret, Target: name, State: keyward.RotationInProgress,
		Trigger: trigger, ClientToken: token, PendingID: uuid.NewString(), StartedBy: startedBy, CreatedAt: now, UpdatedAt: now,
		Runner: s.bg.runner}
	if err := tx.InsertRotation(ctx, rot); err != nil {
		if keyward.ErrorCode(err) == keyward.ECONFLICT {
			return nil, keyward.Errorf(keyward.ECONFLICT, "a rotation of secret %s is already in progress", name)
		}
		return nil, err
	}
	return rot, nil
}

// CancelSecretRotation stops a secret's running rotation.
func (s *Rotations) CancelSecretRotation(ctx context.Context, name string) (*keyward.Rotation, error) {
	var rot *keyward.Rotation
	err := s.run(ctx, call{action: keyward.ActionSecretCancelRotation, resource: keyward.SecretARN(name), params: map[string]any{"name": name}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			if _, err := tx.GetSecret(ctx, name); err != nil {
				return err
			}
			rots, _, err := tx.ListRotations(ctx, keyward.RotationFilter{Kind: keyward.RotationSecret, Target: name,
				State: keyward.RotationInProgress, Page: keyward.Page{Limit: 1}})
			if err != nil {
				return err
			}
			if len(rots) == 0 {
				return keyward.Errorf(keyward.EPRECONDITION, "secret %s has no rotation in progress", name)
			}
			rot = rots[0]
			if stepIndex(rot.Step) >= stepIndex(keyward.StepSet) {
				return keyward.Errorf(keyward.EPRECONDITION,
					"rotation %s is past setSecret: the rotator may already use the new value; let it finish or fail", rot.ID)
			}
			if err := s.dropPendingVersion(ctx, tx, rot); err != nil {
				return err
			}
			now := s.clock.Now()
			rot.State, rot.UpdatedAt, rot.FinishedAt = keyward.RotationCancelled, now, &now
			o.respond("rotationId", rot.ID)
			return tx.UpdateRotation(ctx, rot)
		})
	if err != nil {
		return nil, err
	}
	s.bg.mu.Lock()
	if cancel, ok := s.bg.running[rot.ID]; ok {
		cancel()
	}
	s.bg.mu.Unlock()
	s.observeRotation(rot)
	return rot, nil
}

// ListSecretRotations lists a secret's rotations, newest first.
func (s *Rotations) ListSecretRotations(ctx context.Context, name string, f keyward.RotationFilter) ([]*keyward.Rotation, string, error) {
	exists := func(ctx context.Context, tx keyward.Tx) error { _, err := tx.GetSecret(ctx, name); return err }
	return s.listRotations(ctx, keyward.ActionSecretListRotations, keyward.SecretARN(name), keyward.RotationSecret, name, exists, f)
}

package core

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/keyward/keyward"
	"github.com/keyward/keyward/webhook"
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

// rotatorRequest is the body of a call to a rotator.
type rotatorRequest struct {
	Step               keyward.RotationStep `json:"step"`
	SecretID           string               `json:"secretId"`
	ClientRequestToken string               `json:"clientRequestToken"`
	RotationID         string               `json:"rotationId"`
}

// rotatorAttempts and rotatorBackoff: a step is tried a few times before
// the rotation fails, so a rotator restarting does not fail a rotation.
const rotatorAttempts = 3

var rotatorBackoff = time.Second

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
	if id := sec.Tags["keyward:apikey"]; id != "" {
		return keyward.Errorf(keyward.EPRECONDITION, "secret %s holds the value of API key %s: rotate the key instead", sec.Name, id)
	}
	keys, err := allPages(func(p keyward.Page) ([]*keyward.APIKey, string, error) {
		return tx.ListKeys(ctx, keyward.KeyFilter{Page: p})
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.ValueSecret == sec.Name {
			return keyward.Errorf(keyward.EPRECONDITION, "secret %s holds the value of API key %s: rotate the key instead", sec.Name, k.ID)
		}
	}
	return nil
}

func (s *Rotations) insertSecretRotation(ctx context.Context, tx keyward.Tx, name, trigger, startedBy, token string) (*keyward.Rotation, error) {
	now := s.clock.Now()
	rot := &keyward.Rotation{ID: newID("rot"), Kind: keyward.RotationSecret, Target: name, State: keyward.RotationInProgress,
		Trigger: trigger, ClientToken: token, PendingID: uuid.NewString(), StartedBy: startedBy, CreatedAt: now, UpdatedAt: now}
	if err := tx.InsertRotation(ctx, rot); err != nil {
		if keyward.ErrorCode(err) == keyward.ECONFLICT {
			return nil, keyward.Errorf(keyward.ECONFLICT, "a rotation of secret %s is already in progress", name)
		}
		return nil, err
	}
	return rot, nil
}

// startSecretRotation runs a secret rotation's remaining steps in the
// background, audited on behalf of caller (the zero Caller: the server).
// Stop cancels it; it is resumed on the next start.
func (s *Rotations) startSecretRotation(rot *keyward.Rotation, caller keyward.Caller) {
	s.bg.mu.Lock()
	defer s.bg.mu.Unlock()
	if s.bg.stopped {
		return // resumed on the next start
	}
	if _, running := s.bg.running[rot.ID]; running {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.bg.running[rot.ID] = cancel
	s.bg.wg.Add(1)
	go func() {
		defer s.bg.wg.Done()
		defer func() {
			s.bg.mu.Lock()
			delete(s.bg.running, rot.ID)
			s.bg.mu.Unlock()
			cancel()
		}()
		s.runSecretRotation(ctx, rot, caller)
	}()
}

// runSecretRotation calls the rotator for each step not yet done.
func (s *Rotations) runSecretRotation(ctx context.Context, rot *keyward.Rotation, caller keyward.Caller) {
	for _, step := range keyward.RotationSteps() {
		if stepIndex(rot.Step) >= stepIndex(step) {
			continue
		}
		err := s.callRotator(ctx, rot, step)
		if ctx.Err() != nil {
			return // stopped or cancelled: resumed on start, or already marked
		}
		if err == nil {
			var next *keyward.Rotation
			next, err = s.secretStep(ctx, caller, rot, step)
			if next != nil {
				rot = next
			}
		}
		if err != nil {
			if keyward.ErrorCode(err) == keyward.ECONFLICT {
				return // cancelled meanwhile
			}
			if ferr := s.failSecretRotation(ctx, caller, rot, step, err); ferr != nil {
				s.log.ErrorContext(ctx, "marking a failed rotation failed", "rotation", rot.ID, "err", ferr)
			}
			return
		}
		s.afterStep(ctx, rot)
	}
	s.observeRotation(rot)
	s.kickWebhooks()
}

// callRotator sends one step to the secret's rotator, trying a few times.
func (s *Rotations) callRotator(ctx context.Context, rot *keyward.Rotation, step keyward.RotationStep) error {
	var w *keyward.Webhook
	err := s.store.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		sec, err := tx.GetSecret(ctx, rot.Target)
		if err != nil {
			return err
		}
		if sec.Rotation == nil || sec.Rotation.RotatorID == "" {
			return keyward.Errorf(keyward.EPRECONDITION, "secret %s has no rotator", rot.Target)
		}
		w, err = tx.GetWebhook(ctx, sec.Rotation.RotatorID)
		return err
	})
	if err != nil {
		return err
	}
	secret, err := s.webhookSecret(ctx, w)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(rotatorRequest{Step: step, SecretID: rot.Target, ClientRequestToken: rot.PendingID, RotationID: rot.ID})
	headers := map[string]string{"Keyward-Event": "rotation." + string(step), "Keyward-Delivery": rot.ID + "/" + string(step)}
	var last error
	for attempt := 1; attempt <= rotatorAttempts; attempt++ {
		status, err := webhook.Post(ctx, s.webhookClient, w.URL, secret, headers, body, time.Now())
		switch {
		case err == nil && status/100 == 2:
			return nil
		case status != 0:
			last = keyward.Errorf(keyward.EPRECONDITION, "%s: rotator answered %d", step, status)
		default:
			last = keyward.Errorf(keyward.EUNAVAILABLE, "%s: rotator unreachable", step)
		}
		if attempt < rotatorAttempts {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(rotatorBackoff * time.Duration(attempt)):
			}
		}
	}
	return last
}

// secretStep records a step the rotator completed; after finishSecret it
// moves CURRENT onto the new version.
func (s *Rotations) secretStep(ctx context.Context, caller keyward.Caller, rot *keyward.Rotation, step keyward.RotationStep) (*keyward.Rotation, error) {
	ev := s.rotationEvent(caller, keyward.ActionSecretRotate, keyward.SecretARN(rot.Target), rot, step)
	var out *keyward.Rotation
	err := s.commitStep(ctx, ev, finished(step, keyward.ChangeSecret, rot.Target), func(ctx context.Context, tx keyward.Tx) error {
		cur, err := nextStep(ctx, tx, rot.ID, step)
		if err != nil {
			return err
		}
		v, err := tx.GetSecretVersion(ctx, cur.Target, cur.PendingID)
		if isNotFound(err) {
			return keyward.Errorf(keyward.EPRECONDITION, "%s: the rotator did not put version %s", step, cur.PendingID)
		}
		if err != nil {
			return err
		}
		holds := func(stage string) bool {
			for _, st := range v.Stages {
				if st == stage {
					return true
				}
			}
			return false
		}
		now := s.clock.Now()
		if step == keyward.StepFinish {
			if !holds(keyward.StageCurrent) {
				if err := s.moveStage(ctx, tx, cur.Target, keyward.StageCurrent, v.ID); err != nil {
					return err
				}
			}
			if holds(keyward.StagePending) {
				if err := tx.MoveStage(ctx, cur.Target, keyward.StagePending, ""); err != nil {
					return err
				}
			}
			cur.State, cur.FinishedAt = keyward.RotationSucceeded, &now
			ev.ResponseElements = map[string]any{"currentVersionId": v.ID}
			if err := s.notify(ctx, tx, keyward.EventSecretRotated, keyward.SecretARN(cur.Target),
				map[string]any{"secret": cur.Target, "rotationId": cur.ID, "versionId": v.ID, "trigger": cur.Trigger}); err != nil {
				return err
			}
		} else if !holds(keyward.StagePending) {
			return keyward.Errorf(keyward.EPRECONDITION, "%s: version %s is not staged PENDING", step, v.ID)
		}
		cur.Step, cur.UpdatedAt = step, now
		out = cur
		return tx.UpdateRotation(ctx, cur)
	})
	return out, err
}

// failSecretRotation marks a rotation FAILED and takes PENDING off the new
// version: CURRENT never moved.
func (s *Rotations) failSecretRotation(ctx context.Context, caller keyward.Caller, rot *keyward.Rotation, step keyward.RotationStep, cause error) error {
	ev := s.rotationEvent(caller, keyward.ActionSecretRotate, keyward.SecretARN(rot.Target), rot, "fail")
	var done *keyward.Rotation
	err := s.commitStep(ctx, ev, keyward.Change{}, func(ctx context.Context, tx keyward.Tx) error {
		cur, err := tx.GetRotation(ctx, rot.ID)
		if err != nil || cur.State != keyward.RotationInProgress {
			return err
		}
		if err := s.dropPendingVersion(ctx, tx, cur); err != nil {
			return err
		}
		now := s.clock.Now()
		cur.State, cur.UpdatedAt, cur.FinishedAt = keyward.RotationFailed, now, &now
		cur.Error = keyward.ErrorMessage(cause)
		if keyward.ErrorCode(cause) == keyward.EINTERNAL {
			cur.Error = fmt.Sprintf("%s failed", step)
		}
		ev.ResponseElements = map[string]any{"state": string(cur.State), "error": cur.Error}
		done = cur
		if err := tx.UpdateRotation(ctx, cur); err != nil {
			return err
		}
		return s.notify(ctx, tx, keyward.EventRotationFailed, keyward.SecretARN(cur.Target),
			map[string]any{"secret": cur.Target, "rotationId": cur.ID, "step": string(step), "error": cur.Error})
	})
	if err == nil && done != nil {
		s.observeRotation(done)
		s.kickWebhooks()
	}
	return err
}

// dropPendingVersion takes PENDING off a rotation's new version, if it has it.
func (s *Rotations) dropPendingVersion(ctx context.Context, tx keyward.Tx, rot *keyward.Rotation) error {
	v, err := tx.GetSecretVersionByStage(ctx, rot.Target, keyward.StagePending)
	switch {
	case isNotFound(err):
		return nil
	case err != nil:
		return err
	case v.ID != rot.PendingID:
		return nil
	}
	return tx.MoveStage(ctx, rot.Target, keyward.StagePending, "")
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

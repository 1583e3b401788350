package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/webhook"
)

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
		cur, err := s.nextStep(ctx, tx, rot.ID, step)
		if err != nil {
			return err
		}
		// The secret may have come to hold a key's value since the
		// rotation started: then only the key's rotation may change it.
		if owner, err := ownerOf(ctx, tx, cur.Target); err != nil {
			return err
		} else if owner != "" {
			return keyward.Errorf(keyward.EPRECONDITION, "secret %s holds the value of API key %s: rotate the key instead", cur.Target, owner)
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
		if err != nil {
			return err
		}
		if cur.State != keyward.RotationInProgress || !s.runs(cur) {
			return errNotDue // finished, or taken over: its runner decides now
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
	if errors.Is(err, errNotDue) {
		return nil
	}
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

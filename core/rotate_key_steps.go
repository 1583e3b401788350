package core

// The steps of a key rotation after createSecret, and its roll-back (see
// rotate_key.go for the whole sequence).

import (
	"context"
	"errors"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/keyvalue"
)

// keyStep runs one step after createSecret in its own transaction, with
// its audit record, and returns the rotation as stored after it.
func (s *Rotations) keyStep(ctx context.Context, caller keyward.Caller, rot *keyward.Rotation, step keyward.RotationStep, value string) (*keyward.Rotation, error) {
	ev := s.rotationEvent(caller, keyward.ActionKeyRotate, keyward.KeyARN(rot.Target), rot, step)
	var out *keyward.Rotation
	err := s.commitStep(ctx, ev, finished(step, keyward.ChangeKey, rot.Target), func(ctx context.Context, tx keyward.Tx) error {
		cur, err := s.nextStep(ctx, tx, rot.ID, step)
		if err != nil {
			return err
		}
		k, err := tx.GetKey(ctx, cur.Target)
		if err != nil {
			return err
		}
		if step == keyward.StepTest && cur.StoreSecret != "" {
			value = "" // test what setSecret wrote, read back from the secret
		}
		if value == "" {
			if value, err = s.pendingValue(ctx, tx, k, cur); err != nil {
				return err
			}
		}
		switch step {
		case keyward.StepSet:
			if cur.StoreSecret != "" {
				ref, err := s.deliverPending(ctx, tx, cur, value)
				if err != nil {
					return err
				}
				ev.ResponseElements = map[string]any{"valueSecret": ref.Name, "valueSecretVersionId": ref.VersionID}
			}
		case keyward.StepTest:
			if err := s.testPending(ctx, tx, k, cur, value); err != nil {
				return err
			}
		case keyward.StepFinish:
			if err := s.finishKey(ctx, tx, k, cur, ev); err != nil {
				return err
			}
		}
		now := s.clock.Now()
		cur.Step, cur.UpdatedAt = step, now
		if step == keyward.StepFinish {
			cur.State, cur.FinishedAt = keyward.RotationSucceeded, &now
		}
		out = cur
		return tx.UpdateRotation(ctx, cur)
	})
	if err != nil {
		return rot, err
	}
	if step == keyward.StepFinish {
		s.kickWebhooks()
		s.kickScheduler()
	}
	return out, nil
}

// pendingValue reads the new value back where it was kept: the secret's
// PENDING version once setSecret ran, else the sealed value of a
// recoverable key. EPRECONDITION when neither holds it.
func (s *Rotations) pendingValue(ctx context.Context, tx keyward.Tx, k *keyward.APIKey, rot *keyward.Rotation) (string, error) {
	if rot.StoreSecret != "" && stepIndex(rot.Step) >= stepIndex(keyward.StepSet) {
		v, err := tx.GetSecretVersion(ctx, rot.StoreSecret, rot.ID)
		if err != nil {
			return "", err
		}
		plain, err := s.sealer.Open(ctx, secretBinding(rot.StoreSecret, v.ID), v.Sealed)
		return string(plain), err
	}
	for _, c := range k.Credentials {
		if c.ID == rot.PendingID && len(c.SealedValue) > 0 {
			plain, err := s.sealer.Open(ctx, credentialBinding(&c), c.SealedValue)
			return string(plain), err
		}
	}
	return "", keyward.Errorf(keyward.EPRECONDITION, "the new value of rotation %s is not recoverable", rot.ID)
}

// deliverPending writes the new value as the PENDING version of the key's
// secret (creating the secret if needed). The version ID is the rotation
// ID, so a resumed step finds the version it already wrote.
func (s *Rotations) deliverPending(ctx context.Context, tx keyward.Tx, rot *keyward.Rotation, value string) (*keyward.SecretVersionRef, error) {
	sec, err := tx.GetSecret(ctx, rot.StoreSecret)
	if isNotFound(err) {
		now := s.clock.Now()
		sec = &keyward.Secret{Name: rot.StoreSecret, ARN: keyward.SecretARN(rot.StoreSecret), CreatedAt: now, UpdatedAt: now,
			Description: "value of API key " + rot.Target, Tags: map[string]string{TagValueOf: rot.Target}}
		err = tx.InsertSecret(ctx, sec)
	}
	if err != nil {
		return nil, err
	}
	if err := markValueSecret(ctx, tx, sec, rot.Target); err != nil {
		return nil, err
	}
	return s.putVersion(ctx, tx, sec, keyward.SecretPut{Value: []byte(value), ClientToken: rot.ID,
		Stages: []string{keyward.StagePending}})
}

// testPending verifies value through keyvalue.Verifier, the gateway's own
// check (shape, checksum, HMAC digest, lookup), against an index holding
// only the PENDING credential: the value that will be handed out opens
// exactly the credential that is about to become CURRENT.
func (s *Rotations) testPending(ctx context.Context, tx keyward.Tx, k *keyward.APIKey, rot *keyward.Rotation, value string) error {
	var ix keyvalue.Index[string]
	for _, c := range k.Credentials {
		if c.ID == rot.PendingID && c.Label == keyward.LabelPending {
			ix.Put(digestOf(c.Digest), c.ID)
		}
	}
	v := keyvalue.Verifier[string]{Hasher: s.hasher, Index: &ix}
	if id, res := v.Verify(value); res != keyvalue.OK || id != rot.PendingID {
		return keyward.Errorf(keyward.EPRECONDITION, "testSecret: the delivered value does not verify (%s)", res)
	}
	return nil
}

// finishKey moves the labels: PREVIOUS (if any) is dropped, CURRENT
// becomes PREVIOUS until now+grace (or is dropped when grace is 0),
// PENDING becomes CURRENT; the secret's labels move the same way.
func (s *Rotations) finishKey(ctx context.Context, tx keyward.Tx, k *keyward.APIKey, rot *keyward.Rotation, ev *keyward.AuditEvent) error {
	now := s.clock.Now()
	var cur, prev, pend *keyward.Credential
	for i := range k.Credentials {
		c := &k.Credentials[i]
		switch c.Label {
		case keyward.LabelCurrent:
			cur = c
		case keyward.LabelPrevious:
			prev = c
		case keyward.LabelPending:
			pend = c
		}
	}
	if pend == nil || pend.ID != rot.PendingID {
		return keyward.Errorf(keyward.EPRECONDITION, "the PENDING credential of rotation %s is gone", rot.ID)
	}
	resp := map[string]any{"currentCredentialId": pend.ID, "hint": pend.Hint}
	var cutShort string
	if prev != nil {
		if err := tx.DeleteCredential(ctx, prev.ID); err != nil {
			return err
		}
		resp["droppedCredentialId"] = prev.ID
		if prev.GraceUntil != nil && prev.GraceUntil.After(now) {
			// A key holds one PREVIOUS: the value two back goes before its
			// deadline. Say so, in the trail and in the notification.
			cutShort = prev.ID
			resp["droppedBeforeGraceUntil"] = *prev.GraceUntil
		}
	}
	if cur != nil {
		if rot.Grace <= 0 {
			if err := tx.DeleteCredential(ctx, cur.ID); err != nil {
				return err
			}
			resp["droppedCredentialId"] = cur.ID
		} else {
			until := now.Add(rot.Grace.Std())
			cur.Label, cur.GraceUntil = keyward.LabelPrevious, &until
			if err := tx.UpdateCredential(ctx, cur); err != nil {
				return err
			}
			resp["previousCredentialId"], resp["previousGraceUntil"] = cur.ID, until
		}
	}
	pend.Label, pend.GraceUntil = keyward.LabelCurrent, nil
	if err := tx.UpdateCredential(ctx, pend); err != nil {
		return err
	}
	if rot.StoreSecret != "" {
		if err := s.moveStage(ctx, tx, rot.StoreSecret, keyward.StageCurrent, rot.ID); err != nil {
			return err
		}
		if err := s.dropPendingVersion(ctx, tx, &keyward.Rotation{Target: rot.StoreSecret, PendingID: rot.ID}); err != nil {
			return err
		}
	}
	if rot.StoreSecret != k.ValueSecret {
		k.ValueSecret = rot.StoreSecret
	}
	k.UpdatedAt = now
	if err := tx.UpdateKey(ctx, k); err != nil {
		return err
	}
	ev.ResponseElements = resp
	data := map[string]any{"keyId": k.ID, "keyName": k.Name, "rotationId": rot.ID, "trigger": rot.Trigger, "hint": pend.Hint}
	if cur != nil && rot.Grace > 0 {
		data["previousGraceUntil"] = resp["previousGraceUntil"]
	}
	if rot.StoreSecret != "" {
		data["valueSecret"] = rot.StoreSecret
	}
	if cutShort != "" {
		data["previousDroppedBeforeGrace"] = cutShort
	}
	return s.notify(ctx, tx, keyward.EventKeyRotated, keyward.KeyARN(k.ID), data)
}

// rollBackKey undoes a rotation that cannot finish: the PENDING credential
// and the secret's PENDING label go, the old CURRENT stays as it was.
func (s *Rotations) rollBackKey(ctx context.Context, caller keyward.Caller, rot *keyward.Rotation, cause error) error {
	state := keyward.RotationFailed
	if cause == nil {
		state = keyward.RotationRolledBack
	}
	ev := s.rotationEvent(caller, keyward.ActionKeyRotate, keyward.KeyARN(rot.Target), rot, "rollBack")
	var done *keyward.Rotation
	err := s.commitStep(ctx, ev, keyward.Change{}, func(ctx context.Context, tx keyward.Tx) error {
		cur, err := tx.GetRotation(ctx, rot.ID)
		if err != nil {
			return err
		}
		if cur.State != keyward.RotationInProgress || !s.runs(cur) {
			return errNotDue // finished, or taken over: its runner decides now
		}
		k, err := tx.GetKey(ctx, cur.Target)
		if err != nil && !isNotFound(err) {
			return err
		}
		if k != nil {
			for _, c := range k.Credentials {
				if c.ID == cur.PendingID && c.Label == keyward.LabelPending {
					if err := tx.DeleteCredential(ctx, c.ID); err != nil {
						return err
					}
				}
			}
		}
		if cur.StoreSecret != "" {
			if v, err := tx.GetSecretVersionByStage(ctx, cur.StoreSecret, keyward.StagePending); err == nil && v.ID == cur.ID {
				if err := tx.MoveStage(ctx, cur.StoreSecret, keyward.StagePending, ""); err != nil {
					return err
				}
			}
		}
		now := s.clock.Now()
		cur.State, cur.UpdatedAt, cur.FinishedAt = state, now, &now
		if cause != nil {
			cur.Error = keyward.ErrorMessage(cause)
		} else {
			cur.Error = "interrupted before the value could be delivered; the old value stays CURRENT"
		}
		ev.ResponseElements = map[string]any{"state": string(state), "error": cur.Error}
		done = cur
		if err := tx.UpdateRotation(ctx, cur); err != nil {
			return err
		}
		return s.notify(ctx, tx, keyward.EventRotationFailed, keyward.KeyARN(cur.Target),
			map[string]any{"keyId": cur.Target, "rotationId": cur.ID, "state": string(state), "error": cur.Error, "step": string(cur.Step)})
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

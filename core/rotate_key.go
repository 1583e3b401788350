package core

import (
	"context"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/keyvalue"
)

// Key rotation runs in four steps, each its own transaction with its own
// audit record, named as Secrets Manager names the calls to a rotation
// function:
//
//	createSecret  a PENDING credential and the rotation record
//	setSecret     the value delivered where it goes: a PENDING version of
//	              the key's secret (or kept for the answer, when shown once)
//	testSecret    the delivered value checked against the PENDING digest
//	              through keyvalue.Verifier, the gateway's own verifier
//	finishSecret  PENDING becomes CURRENT, CURRENT becomes PREVIOUS until
//	              the grace deadline, in the key and in its secret at once
//
// A server stopped between two steps finds the rotation IN_PROGRESS on
// start (ResumeRotations): it resumes when the value can be read back (from
// the secret's PENDING version, or the sealed value of a recoverable key)
// and rolls back otherwise. The unique (key, label) constraint of the store
// makes two CURRENT credentials impossible at every point.

// DefaultGrace is how long a rotated-out value keeps working when neither
// the request nor a rotation policy says.
const DefaultGrace = 24 * time.Hour

// MaxGrace bounds the grace period.
const MaxGrace = 90 * 24 * time.Hour

// RotateKey rotates a key's value; see the steps above.
func (s *Rotations) RotateKey(ctx context.Context, id string, in keyward.KeyRotate) (*keyward.RotatedKey, error) {
	params := map[string]any{"keyId": id, "storeSecret": in.StoreSecret, "clientToken": in.ClientToken,
		"step": string(keyward.StepCreate)}
	if in.Grace != nil {
		params["grace"] = in.Grace.String()
	}
	var (
		out   *keyward.RotatedKey
		value string
		rot   *keyward.Rotation
	)
	err := s.run(ctx, call{action: keyward.ActionKeyRotate, resource: keyward.KeyARN(id), params: params},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			if err := validateKeyRotate(in); err != nil {
				return err
			}
			k, err := tx.GetKey(ctx, id)
			if err != nil {
				return err
			}
			if in.ClientToken != "" {
				replay, err := s.replayRotateKey(ctx, tx, o, k, in)
				if err != nil || replay != nil {
					out = replay
					return err
				}
			}
			rot, value, err = s.createPending(ctx, tx, o, k, in, keyward.TriggerManual)
			return err
		})
	if err != nil || out != nil {
		return out, err
	}
	caller, _ := keyward.CallerFrom(ctx)
	return s.completeKeyRotation(ctx, caller, rot, value)
}

func validateKeyRotate(in keyward.KeyRotate) error {
	if in.Grace != nil && (*in.Grace < 0 || in.Grace.Std() > MaxGrace) {
		return invalid("grace must be between 0 and %s", keyward.Duration(MaxGrace))
	}
	if in.StoreSecret != "" {
		if err := checkSecretName(in.StoreSecret); err != nil {
			return err
		}
	}
	return checkClientToken(in.ClientToken)
}

// createPending is the createSecret step: it generates the new value, adds
// it as the PENDING credential and records the rotation. o, when set, is
// the admin call that asked (and authorizes delivery to the secret).
func (s *Rotations) createPending(ctx context.Context, tx keyward.Tx, o *op, k *keyward.APIKey, in keyward.KeyRotate, trigger string) (*keyward.Rotation, string, error) {
	grace := s.graceFor(ctx, tx, k, in.Grace)
	store := in.StoreSecret
	if store == "" {
		store = k.ValueSecret
	}
	if store != "" {
		running, _, err := tx.ListRotations(ctx, keyward.RotationFilter{Kind: keyward.RotationSecret, Target: store,
			State: keyward.RotationInProgress, Page: keyward.Page{Limit: 1}})
		if err != nil {
			return nil, "", err
		}
		if len(running) > 0 {
			return nil, "", keyward.Errorf(keyward.ECONFLICT, "secret %s is being rotated by its rotator", store)
		}
	}
	if store != "" && o != nil {
		if err := o.authorize(ctx, keyward.ActionSecretPut, keyward.SecretARN(store)); err != nil {
			return nil, "", err
		}
		if _, err := tx.GetSecret(ctx, store); isNotFound(err) {
			if err := o.authorize(ctx, keyward.ActionSecretCreate, keyward.SecretARN(store)); err != nil {
				return nil, "", err
			}
		}
	}
	prefix := k.Prefix
	if prefix == "" {
		prefix = keyvalue.DefaultPrefix
	}
	value, err := keyvalue.Generate(prefix)
	if err != nil {
		return nil, "", err
	}
	cred, err := s.newCredential(ctx, k, keyward.LabelPending, value)
	if err != nil {
		return nil, "", err
	}
	if err := tx.InsertCredential(ctx, cred); err != nil {
		if keyward.ErrorCode(err) == keyward.ECONFLICT {
			return nil, "", keyward.Errorf(keyward.ECONFLICT, "a rotation of key %s is already in progress", k.ID)
		}
		return nil, "", err
	}
	now := s.clock.Now()
	startedBy := "system"
	if o != nil && o.caller.Principal != nil {
		startedBy = o.caller.Principal.ID
	}
	rot := &keyward.Rotation{
		ID: newID("rot"), Kind: keyward.RotationKey, Target: k.ID, State: keyward.RotationInProgress,
		Step: keyward.StepCreate, Trigger: trigger, Grace: keyward.Duration(grace),
		StoreSecret: store, PendingID: cred.ID, Hint: cred.Hint, StartedBy: startedBy,
		CreatedAt: now, UpdatedAt: now,
	}
	if o != nil {
		rot.ClientToken = in.ClientToken
	}
	if err := tx.InsertRotation(ctx, rot); err != nil {
		if keyward.ErrorCode(err) == keyward.ECONFLICT {
			return nil, "", keyward.Errorf(keyward.ECONFLICT, "a rotation of key %s is already in progress", k.ID)
		}
		return nil, "", err
	}
	if o != nil {
		o.respond("rotationId", rot.ID, "pendingCredentialId", cred.ID, "hint", cred.Hint)
	}
	return rot, value, nil
}

// graceFor picks the grace period: the request's, else the key's policy,
// else its plans', else DefaultGrace.
func (s *Rotations) graceFor(ctx context.Context, tx keyward.Tx, k *keyward.APIKey, asked *keyward.Duration) time.Duration {
	if asked != nil {
		return asked.Std()
	}
	if p := s.effectivePolicy(ctx, tx, k); p != nil {
		return p.Grace.Std()
	}
	return DefaultGrace
}

// effectivePolicy is the key's own rotation policy, else the one of its
// plans that rotates most often.
func (s *Rotations) effectivePolicy(ctx context.Context, tx keyward.Tx, k *keyward.APIKey) *keyward.RotationPolicy {
	if k.Rotation != nil {
		return k.Rotation
	}
	var best *keyward.RotationPolicy
	for _, id := range k.PlanIDs {
		p, err := tx.GetPlan(ctx, id)
		if err != nil || p.Rotation == nil {
			continue
		}
		if best == nil || p.Rotation.Every < best.Every {
			best = p.Rotation
		}
	}
	return best
}

// completeKeyRotation runs the steps after createSecret. value is the new
// value, or "" when resuming: then it is read back from where setSecret put
// it. Any failure rolls the rotation back.
func (s *Rotations) completeKeyRotation(ctx context.Context, caller keyward.Caller, rot *keyward.Rotation, value string) (*keyward.RotatedKey, error) {
	ctx = context.WithoutCancel(ctx) // a client gone away must not strand a half-done rotation
	s.bg.mu.Lock()
	s.bg.keys[rot.ID] = true
	s.bg.mu.Unlock()
	defer func() {
		s.bg.mu.Lock()
		delete(s.bg.keys, rot.ID)
		s.bg.mu.Unlock()
	}()
	s.afterStep(ctx, rot)
	var err error
	for _, step := range []keyward.RotationStep{keyward.StepSet, keyward.StepTest, keyward.StepFinish} {
		if stepIndex(rot.Step) >= stepIndex(step) {
			continue
		}
		if rot, err = s.keyStep(ctx, caller, rot, step, value); err != nil {
			break
		}
		s.afterStep(ctx, rot)
	}
	if err != nil {
		if rbErr := s.rollBackKey(ctx, caller, rot, err); rbErr != nil {
			s.log.ErrorContext(ctx, "rotation roll back failed", "rotation", rot.ID, "err", rbErr)
		}
		return nil, err
	}
	s.observeRotation(rot)
	var k *keyward.APIKey
	err = s.store.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		var err error
		k, err = tx.GetKey(ctx, rot.Target)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := &keyward.RotatedKey{Key: publicKey(k), Rotation: rot}
	if rot.StoreSecret == "" {
		out.Value = value
	}
	return out, nil
}

func stepIndex(st keyward.RotationStep) int {
	for i, s := range keyward.RotationSteps() {
		if s == st {
			return i
		}
	}
	return -1
}

// keyStep runs one step after createSecret in its own transaction, with
// its audit record, and returns the rotation as stored after it.
func (s *Rotations) keyStep(ctx context.Context, caller keyward.Caller, rot *keyward.Rotation, step keyward.RotationStep, value string) (*keyward.Rotation, error) {
	ev := s.rotationEvent(caller, keyward.ActionKeyRotate, keyward.KeyARN(rot.Target), rot, step)
	var out *keyward.Rotation
	err := s.commitStep(ctx, ev, finished(step, keyward.ChangeKey, rot.Target), func(ctx context.Context, tx keyward.Tx) error {
		cur, err := nextStep(ctx, tx, rot.ID, step)
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
			Description: "value of API key " + rot.Target, Tags: map[string]string{"keyward:apikey": rot.Target}}
		err = tx.InsertSecret(ctx, sec)
	}
	if err != nil {
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
		if cur.State != keyward.RotationInProgress {
			return nil
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
	if err == nil && done != nil {
		s.observeRotation(done)
		s.kickWebhooks()
	}
	return err
}

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

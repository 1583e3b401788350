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
	if o != nil && store == "" {
		if err := o.mayKnowValue(ctx, k.ID, "rotating a key without storeSecret"); err != nil {
			return nil, "", err
		}
	}
	if o != nil && store != "" && k.ValueSecret != "" && store != k.ValueSecret {
		// A move: the value leaves the key's secret for another one. It
		// needs the right to write both, and the record says so.
		if err := o.authorize(ctx, keyward.ActionSecretPut, keyward.SecretARN(k.ValueSecret)); err != nil {
			return nil, "", err
		}
		o.ev.RequestParameters["moveValueFrom"] = k.ValueSecret
		o.ev.RequestParameters["moveValueTo"] = store
	}
	if store != "" {
		if err := claimValueSecret(ctx, tx, store, k.ID); err != nil {
			return nil, "", err
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
		CreatedAt: now, UpdatedAt: now, Runner: s.bg.runner,
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

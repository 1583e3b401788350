package core

import (
	"context"
	"errors"
	"time"

	"github.com/keyward/keyward"
)

// SchedulePass runs due rotations, gives the notices whose time has come,
// retires PREVIOUS credentials past their grace, and refreshes the
// deadlines behind the metrics.
func (s *Rotations) SchedulePass(ctx context.Context) error {
	var (
		keys    []*keyward.APIKey
		secrets []*keyward.Secret
		plans   = map[string]*keyward.UsagePlan{}
	)
	err := s.store.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		ps, err := allPages(func(p keyward.Page) ([]*keyward.UsagePlan, string, error) { return tx.ListPlans(ctx, p) })
		if err != nil {
			return err
		}
		var rotating []string
		for _, p := range ps {
			plans[p.ID] = p
			if p.Rotation != nil {
				rotating = append(rotating, p.ID)
			}
		}
		// Only the keys with an expiry, a rotation policy (theirs or a
		// plan's) or a value in grace: the others have nothing due, and a
		// million of them are not read every pass.
		if err := tx.EachScheduledKey(ctx, rotating, func(k *keyward.APIKey) error {
			keys = append(keys, k)
			return nil
		}); err != nil {
			return err
		}
		secrets, err = allPages(func(p keyward.Page) ([]*keyward.Secret, string, error) {
			return tx.ListSecrets(ctx, keyward.SecretFilter{Page: p})
		})
		return err
	})
	if err != nil {
		return err
	}
	now := s.clock.Now()
	var deadlines []KeyDeadlines
	var firstErr error
	keep := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	keep(s.sweepStale(ctx, now))
	for _, k := range keys {
		d := KeyDeadlines{KeyID: k.ID}
		if k.ExpiresAt != nil {
			d.ExpiresAt = *k.ExpiresAt
			if now.Add(NoticeBefore).After(d.ExpiresAt) {
				keep(s.notice(ctx, keyward.EventKeyExpiring, k, d.ExpiresAt, map[string]any{"expiresAt": d.ExpiresAt}))
			}
		}
		var current *keyward.Credential
		for i, c := range k.Credentials {
			switch {
			case c.Label == keyward.LabelCurrent:
				current = &k.Credentials[i]
			case c.Label == keyward.LabelPrevious && c.GraceUntil != nil:
				d.PreviousUntil = *c.GraceUntil
				if !now.Before(d.PreviousUntil) {
					keep(s.retirePrevious(ctx, k, c))
					d.PreviousUntil = time.Time{}
				} else if now.Add(NoticeBefore).After(d.PreviousUntil) {
					keep(s.notice(ctx, keyward.EventKeyPreviousExpiring, k, d.PreviousUntil,
						map[string]any{"credentialId": c.ID, "hint": c.Hint, "graceUntil": d.PreviousUntil}))
				}
			}
		}
		policy := keyPolicy(k, plans)
		if policy != nil && current != nil && policy.Every > 0 {
			d.NextRotation = current.CreatedAt.Add(policy.Every.Std())
			deliverable := k.ValueSecret != "" || k.Recoverable
			switch {
			case !now.Before(d.NextRotation) && deliverable:
				wait, err := s.retryAfterFailures(ctx, keyward.RotationKey, k.ID, now)
				keep(err)
				if !wait {
					keep(s.scheduledKeyRotation(ctx, k.ID, policy))
				}
			case now.Add(NoticeBefore).After(d.NextRotation):
				data := map[string]any{"dueAt": d.NextRotation, "automatic": deliverable}
				keep(s.notice(ctx, keyward.EventKeyRotationDue, k, d.NextRotation, data))
			}
		}
		if !d.ExpiresAt.IsZero() || !d.PreviousUntil.IsZero() || !d.NextRotation.IsZero() {
			deadlines = append(deadlines, d)
		}
	}
	for _, sec := range secrets {
		if sec.Rotation == nil || sec.Rotation.Every <= 0 || sec.Rotation.RotatorID == "" {
			continue
		}
		last := sec.CreatedAt
		for id, stages := range sec.VersionIDsToStages {
			for _, st := range stages {
				if st == keyward.StageCurrent {
					last = s.versionTime(ctx, sec.Name, id, last)
				}
			}
		}
		if !now.Before(last.Add(sec.Rotation.Every.Std())) {
			wait, err := s.retryAfterFailures(ctx, keyward.RotationSecret, sec.Name, now)
			keep(err)
			if !wait {
				keep(s.scheduledSecretRotation(ctx, sec.Name))
			}
		}
	}
	s.bg.deadlines.Lock()
	s.bg.keyDeadlines = deadlines
	s.bg.deadlines.Unlock()
	return firstErr
}

// keyPolicy is effectivePolicy over plans already read.
func keyPolicy(k *keyward.APIKey, plans map[string]*keyward.UsagePlan) *keyward.RotationPolicy {
	if k.Rotation != nil {
		return k.Rotation
	}
	var best *keyward.RotationPolicy
	for _, id := range k.PlanIDs {
		if p := plans[id]; p != nil && p.Rotation != nil && (best == nil || p.Rotation.Every < best.Every) {
			best = p.Rotation
		}
	}
	return best
}

func (s *Rotations) versionTime(ctx context.Context, name, id string, fallback time.Time) time.Time {
	var t time.Time
	_ = s.store.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		v, err := tx.GetSecretVersion(ctx, name, id)
		if err == nil {
			t = v.CreatedAt
		}
		return err
	})
	if t.IsZero() {
		return fallback
	}
	return t
}

// scheduledKeyRotation rotates a key whose time has come, as the server.
func (s *Rotations) scheduledKeyRotation(ctx context.Context, keyID string, policy *keyward.RotationPolicy) error {
	grace := policy.Grace
	ev := s.newEvent(keyward.Caller{}, call{action: keyward.ActionKeyRotate, resource: keyward.KeyARN(keyID),
		params: map[string]any{"keyId": keyID, "trigger": keyward.TriggerSchedule, "step": string(keyward.StepCreate), "grace": grace.String()}})
	ev.EventType, ev.UserIdentity = keyward.EventTypeSystem, keyward.UserIdentity{Type: "System"}
	var rot *keyward.Rotation
	var value string
	err := s.commitStep(ctx, ev, keyward.Change{}, func(ctx context.Context, tx keyward.Tx) error {
		k, err := tx.GetKey(ctx, keyID)
		if err != nil {
			return err
		}
		// Due still? A manual rotation may have landed since the pass read
		// the keys; rotating again would cut its PREVIOUS short.
		for _, c := range k.Credentials {
			if c.Label == keyward.LabelCurrent && s.clock.Now().Before(c.CreatedAt.Add(policy.Every.Std())) {
				return errNotDue
			}
		}
		rot, value, err = s.createPending(ctx, tx, nil, k, keyward.KeyRotate{Grace: &grace}, keyward.TriggerSchedule)
		if err == nil {
			ev.ResponseElements = map[string]any{"rotationId": rot.ID, "pendingCredentialId": rot.PendingID, "hint": rot.Hint}
		}
		return err
	})
	if keyward.ErrorCode(err) == keyward.ECONFLICT || errors.Is(err, errNotDue) {
		return nil // one is running already, or one just ran
	}
	if err != nil {
		return err
	}
	_, err = s.completeKeyRotation(ctx, keyward.Caller{}, rot, value)
	return err
}

// errNotDue ends a scheduled rotation's transaction without a change and
// without an audit record: there was nothing to do.
var errNotDue = errors.New("not due")

// scheduledSecretRotation starts a secret's rotation, as the server.
func (s *Rotations) scheduledSecretRotation(ctx context.Context, name string) error {
	ev := s.newEvent(keyward.Caller{}, call{action: keyward.ActionSecretRotate, resource: keyward.SecretARN(name),
		params: map[string]any{"name": name, "trigger": keyward.TriggerSchedule}})
	ev.EventType, ev.UserIdentity = keyward.EventTypeSystem, keyward.UserIdentity{Type: "System"}
	var rot *keyward.Rotation
	err := s.commitStep(ctx, ev, keyward.Change{}, func(ctx context.Context, tx keyward.Tx) error {
		if owner, err := ownerOf(ctx, tx, name); err != nil {
			return err
		} else if owner != "" {
			return keyward.Errorf(keyward.ECONFLICT, "secret %s holds the value of API key %s", name, owner)
		}
		var err error
		rot, err = s.insertSecretRotation(ctx, tx, name, keyward.TriggerSchedule, "system", "")
		if err == nil {
			ev.ResponseElements = map[string]any{"rotationId": rot.ID, "pendingVersionId": rot.PendingID}
		}
		return err
	})
	if keyward.ErrorCode(err) == keyward.ECONFLICT {
		return nil
	}
	if err != nil {
		return err
	}
	s.startSecretRotation(rot, keyward.Caller{})
	return nil
}

// retirePrevious deletes a PREVIOUS credential past its grace. The gateway
// refuses it from the deadline on anyway; this makes it gone, audited.
func (s *Rotations) retirePrevious(ctx context.Context, k *keyward.APIKey, c keyward.Credential) error {
	ev := s.systemEvent(eventRetirePrevious, keyward.KeyARN(k.ID),
		map[string]any{"keyId": k.ID, "credentialId": c.ID, "graceUntil": c.GraceUntil})
	return s.commit(ctx, write{ev: ev, change: keyward.Change{Kind: keyward.ChangeKey, ID: k.ID},
		body: func(ctx context.Context, tx keyward.Tx) error {
			err := tx.DeleteCredential(ctx, c.ID)
			if isNotFound(err) {
				return nil
			}
			return err
		}})
}

// notice queues a notification once per key, kind and deadline.
func (s *Rotations) notice(ctx context.Context, eventType string, k *keyward.APIKey, deadline time.Time, data map[string]any) error {
	data["keyId"], data["keyName"] = k.ID, k.Name
	queued := false
	err := s.writeUnaudited(ctx, "webhook notice outbox", func(ctx context.Context, tx keyward.Tx) error {
		queued = false // a retried attempt starts over
		err := tx.InsertNotice(ctx, eventType, k.ID, deadline, s.clock.Now())
		if keyward.ErrorCode(err) == keyward.ECONFLICT {
			return nil
		}
		if err != nil {
			return err
		}
		queued = true
		return s.notify(ctx, tx, eventType, keyward.KeyARN(k.ID), data)
	})
	if queued {
		s.kickWebhooks()
	}
	return err
}

package core

import (
	"context"
	"sync"
	"time"

	"github.com/keyward/keyward"
)

// background tracks the work the service runs on its own: secret
// rotations waiting on their rotator, and the scheduler loop.
type background struct {
	mu      sync.Mutex
	running map[string]context.CancelFunc // rotation ID → cancel
	stopped bool
	wg      sync.WaitGroup

	deadlines sync.Mutex
	keys      []KeyDeadlines

	kick chan struct{} // asks the scheduler loop for a pass now
}

// kickScheduler asks for a scheduler pass soon, so that the deadlines
// behind the metrics follow a rotation at once.
func (s *Service) kickScheduler() {
	select {
	case s.bg.kick <- struct{}{}:
	default:
	}
}

// KeyDeadlines are the times a key's gauges count down to; zero: none.
type KeyDeadlines struct {
	KeyID         string
	ExpiresAt     time.Time
	PreviousUntil time.Time
	NextRotation  time.Time
}

// Deadlines returns the deadlines found by the last scheduler pass.
func (s *Service) Deadlines() []KeyDeadlines {
	s.bg.deadlines.Lock()
	defer s.bg.deadlines.Unlock()
	return s.bg.keys
}

// NoticeBefore is how long before a deadline (expiry, end of grace, next
// rotation) the notification goes out.
const NoticeBefore = 24 * time.Hour

// Stop cancels background rotations and waits for them; a rotation cut off
// is resumed by ResumeRotations on the next start.
func (s *Service) Stop() {
	s.bg.mu.Lock()
	s.bg.stopped = true
	for _, cancel := range s.bg.running {
		cancel()
	}
	s.bg.mu.Unlock()
	s.bg.wg.Wait()
}

// RunScheduler resumes interrupted rotations, then runs a scheduler pass
// at once (so rotations missed while the server was down run on start)
// and every interval until ctx is done.
func (s *Service) RunScheduler(ctx context.Context, interval time.Duration) {
	if err := s.ResumeRotations(ctx); err != nil {
		s.log.ErrorContext(ctx, "resuming rotations", "err", err)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.SchedulePass(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "rotation scheduler", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.bg.kick:
		}
	}
}

// ResumeRotations finishes or rolls back the rotations a stopped server
// left IN_PROGRESS. A key rotation resumes when its new value can be read
// back (delivered to a secret, or sealed for a recoverable key); otherwise
// nobody holds the value, and it rolls back. Secret rotations continue
// with their next step.
func (s *Service) ResumeRotations(ctx context.Context) error {
	var rots []*keyward.Rotation
	err := s.store.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		var err error
		rots, err = allPages(func(p keyward.Page) ([]*keyward.Rotation, string, error) {
			return tx.ListRotations(ctx, keyward.RotationFilter{State: keyward.RotationInProgress, Page: p})
		})
		return err
	})
	if err != nil {
		return err
	}
	for _, rot := range rots {
		switch rot.Kind {
		case keyward.RotationSecret:
			s.startSecretRotation(rot)
		case keyward.RotationKey:
			resumable, err := s.keyRotationResumable(ctx, rot)
			if err != nil {
				return err
			}
			if !resumable {
				if err := s.rollBackKey(ctx, keyward.Caller{}, rot, nil); err != nil {
					return err
				}
				continue
			}
			if _, err := s.completeKeyRotation(ctx, keyward.Caller{}, rot, ""); err != nil {
				s.log.ErrorContext(ctx, "resumed rotation failed", "rotation", rot.ID, "err", err)
			}
		}
	}
	return nil
}

func (s *Service) keyRotationResumable(ctx context.Context, rot *keyward.Rotation) (bool, error) {
	if rot.StoreSecret != "" && stepIndex(rot.Step) >= stepIndex(keyward.StepSet) {
		return true, nil
	}
	var ok bool
	err := s.store.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		k, err := tx.GetKey(ctx, rot.Target)
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, c := range k.Credentials {
			if c.ID == rot.PendingID && len(c.SealedValue) > 0 {
				ok = true
			}
		}
		return nil
	})
	return ok, err
}

// SchedulePass runs due rotations, gives the notices whose time has come,
// retires PREVIOUS credentials past their grace, and refreshes the
// deadlines behind the metrics.
func (s *Service) SchedulePass(ctx context.Context) error {
	var (
		keys    []*keyward.APIKey
		secrets []*keyward.Secret
		plans   = map[string]*keyward.UsagePlan{}
	)
	err := s.store.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		var err error
		if keys, err = allPages(func(p keyward.Page) ([]*keyward.APIKey, string, error) {
			return tx.ListKeys(ctx, keyward.KeyFilter{Page: p})
		}); err != nil {
			return err
		}
		ps, err := allPages(func(p keyward.Page) ([]*keyward.UsagePlan, string, error) { return tx.ListPlans(ctx, p) })
		if err != nil {
			return err
		}
		for _, p := range ps {
			plans[p.ID] = p
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
				keep(s.scheduledKeyRotation(ctx, k.ID, policy))
			case now.Add(NoticeBefore).After(d.NextRotation):
				data := map[string]any{"dueAt": d.NextRotation, "automatic": deliverable}
				keep(s.notice(ctx, keyward.EventKeyRotationDue, k, d.NextRotation, data))
			}
		}
		deadlines = append(deadlines, d)
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
			keep(s.scheduledSecretRotation(ctx, sec.Name))
		}
	}
	s.bg.deadlines.Lock()
	s.bg.keys = deadlines
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

func (s *Service) versionTime(ctx context.Context, name, id string, fallback time.Time) time.Time {
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
func (s *Service) scheduledKeyRotation(ctx context.Context, keyID string, policy *keyward.RotationPolicy) error {
	grace := policy.Grace
	ev := s.newEvent(keyward.Caller{}, call{action: keyward.ActionKeyRotate, resource: keyward.KeyARN(keyID),
		params: map[string]any{"keyId": keyID, "trigger": keyward.TriggerSchedule, "step": string(keyward.StepCreate), "grace": grace.String()}})
	ev.EventType, ev.UserIdentity = keyward.EventTypeSystem, keyward.UserIdentity{Type: "System"}
	var rot *keyward.Rotation
	var value string
	err := s.commitEvent(ctx, ev, func(ctx context.Context, tx keyward.Tx) error {
		k, err := tx.GetKey(ctx, keyID)
		if err != nil {
			return err
		}
		rot, value, err = s.createPending(ctx, tx, nil, k, keyward.KeyRotate{Grace: &grace}, keyward.TriggerSchedule)
		if err == nil {
			ev.ResponseElements = map[string]any{"rotationId": rot.ID, "pendingCredentialId": rot.PendingID, "hint": rot.Hint}
		}
		return err
	})
	if keyward.ErrorCode(err) == keyward.ECONFLICT {
		return nil // one is running already
	}
	if err != nil {
		return err
	}
	_, err = s.completeKeyRotation(ctx, keyward.Caller{}, rot, value)
	return err
}

// scheduledSecretRotation starts a secret's rotation, as the server.
func (s *Service) scheduledSecretRotation(ctx context.Context, name string) error {
	ev := s.newEvent(keyward.Caller{}, call{action: keyward.ActionSecretRotate, resource: keyward.SecretARN(name),
		params: map[string]any{"name": name, "trigger": keyward.TriggerSchedule}})
	ev.EventType, ev.UserIdentity = keyward.EventTypeSystem, keyward.UserIdentity{Type: "System"}
	var rot *keyward.Rotation
	err := s.commitEvent(ctx, ev, func(ctx context.Context, tx keyward.Tx) error {
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
	s.startSecretRotation(rot)
	return nil
}

// retirePrevious deletes a PREVIOUS credential past its grace. The gateway
// refuses it from the deadline on anyway; this makes it gone, audited.
func (s *Service) retirePrevious(ctx context.Context, k *keyward.APIKey, c keyward.Credential) error {
	ev := s.newEvent(keyward.Caller{}, call{action: "apikeys:RetirePrevious", resource: keyward.KeyARN(k.ID),
		params: map[string]any{"keyId": k.ID, "credentialId": c.ID, "graceUntil": c.GraceUntil}})
	ev.EventType, ev.UserIdentity = keyward.EventTypeSystem, keyward.UserIdentity{Type: "System"}
	err := s.commitEvent(ctx, ev, func(ctx context.Context, tx keyward.Tx) error {
		err := tx.DeleteCredential(ctx, c.ID)
		if isNotFound(err) {
			return nil
		}
		return err
	})
	if err == nil {
		s.publish(ctx, keyward.ActionKeyUpdate, keyward.KeyARN(k.ID))
	}
	return err
}

// notice queues a notification once per key, kind and deadline.
func (s *Service) notice(ctx context.Context, eventType string, k *keyward.APIKey, deadline time.Time, data map[string]any) error {
	data["keyId"], data["keyName"] = k.ID, k.Name
	queued := false
	err := s.store.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
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

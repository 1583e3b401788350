package core

import (
	"context"
	"errors"
	"time"

	"github.com/keyward/keyward"
)

// ResumeRotations finishes or rolls back the rotations a stopped server
// left IN_PROGRESS. A key rotation resumes when its new value can be read
// back (delivered to a secret, or sealed for a recoverable key); otherwise
// nobody holds the value, and it rolls back. Secret rotations continue
// with their next step.
func (s *Rotations) ResumeRotations(ctx context.Context) error {
	rots, err := s.inProgress(ctx)
	if err != nil {
		return err
	}
	for _, rot := range rots {
		if err := s.resume(ctx, rot, false); err != nil {
			s.log.ErrorContext(ctx, "resuming a rotation", "rotation", rot.ID, "err", err)
		}
	}
	return nil
}

// inProgress lists every rotation IN_PROGRESS.
func (s *Rotations) inProgress(ctx context.Context) ([]*keyward.Rotation, error) {
	var rots []*keyward.Rotation
	err := s.store.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		var err error
		rots, err = allPages(func(p keyward.Page) ([]*keyward.Rotation, string, error) {
			return tx.ListRotations(ctx, keyward.RotationFilter{State: keyward.RotationInProgress, Page: p})
		})
		return err
	})
	return rots, err
}

// resume takes over one interrupted rotation, unless this process is
// running it: it becomes the rotation's runner (claim), then finishes or
// rolls it back. With onlyStale, only a rotation still untouched for
// staleAfter when the claim is written.
func (s *Rotations) resume(ctx context.Context, rot *keyward.Rotation, onlyStale bool) error {
	s.bg.mu.Lock()
	_, secretRunning := s.bg.running[rot.ID]
	keyRunning := s.bg.keys[rot.ID]
	s.bg.mu.Unlock()
	if secretRunning || keyRunning {
		return nil
	}
	rot, err := s.claim(ctx, rot, onlyStale)
	if err != nil || rot == nil {
		return err
	}
	switch rot.Kind {
	case keyward.RotationSecret:
		s.startSecretRotation(rot, keyward.Caller{})
	case keyward.RotationKey:
		resumable, err := s.keyRotationResumable(ctx, rot)
		if err != nil {
			return err
		}
		if !resumable {
			return s.rollBackKey(ctx, keyward.Caller{}, rot, nil)
		}
		_, err = s.completeKeyRotation(ctx, keyward.Caller{}, rot, "")
		return err
	}
	return nil
}

// claim makes this process the runner of rot in one write, re-reading it
// there: nil when it has finished meanwhile or (onlyStale) was touched
// since it was listed, its runner being alive. From then on the previous
// runner, should it come back, can neither advance it (nextStep) nor roll
// it back: each of those checks the runner inside its own write, and the
// store serializes writes. The takeover is audited (step "takeOver", as
// the server); the rotation's own steps follow.
func (s *Rotations) claim(ctx context.Context, rot *keyward.Rotation, onlyStale bool) (*keyward.Rotation, error) {
	action, arn := keyward.ActionKeyRotate, keyward.KeyARN(rot.Target)
	if rot.Kind == keyward.RotationSecret {
		action, arn = keyward.ActionSecretRotate, keyward.SecretARN(rot.Target)
	}
	ev := s.rotationEvent(keyward.Caller{}, action, arn, rot, "takeOver")
	var out *keyward.Rotation
	err := s.commitStep(ctx, ev, keyward.Change{}, func(ctx context.Context, tx keyward.Tx) error {
		out = nil // an attempt rolled back claimed nothing
		cur, err := tx.GetRotation(ctx, rot.ID)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		if cur.State != keyward.RotationInProgress || (onlyStale && now.Sub(cur.UpdatedAt) < staleAfter) {
			return errNotDue // finished, or its runner is alive
		}
		out = cur
		if s.runs(cur) {
			return errNotDue // ours already: nothing to write
		}
		untouched := now.Sub(cur.UpdatedAt).Round(time.Second)
		s.log.InfoContext(ctx, "taking over a rotation", "rotation", cur.ID, "untouched_for", untouched.String())
		ev.RequestParameters["untouchedFor"] = untouched.String()
		cur.Runner, cur.UpdatedAt = s.bg.runner, now
		return tx.UpdateRotation(ctx, cur)
	})
	if errors.Is(err, errNotDue) {
		err = nil
	}
	return out, err
}

// staleAfter is how long a rotation may sit IN_PROGRESS untouched before
// a scheduler pass takes it over: its process died (on a cluster, any
// node), or a roll back failed. The process running a rotation touches it
// every HeartbeatEvery however long a step takes (a rotator call: three
// tries of at most 30 s), so six missed heartbeats mean it is gone.
const staleAfter = 6 * HeartbeatEvery

// sweepStale resumes or rolls back rotations left IN_PROGRESS that nobody
// in this process is running.
func (s *Rotations) sweepStale(ctx context.Context, now time.Time) error {
	rots, err := s.inProgress(ctx)
	if err != nil {
		return err
	}
	for _, rot := range rots {
		if now.Sub(rot.UpdatedAt) >= staleAfter {
			if err := s.resume(ctx, rot, true); err != nil {
				s.log.ErrorContext(ctx, "taking over a stale rotation", "rotation", rot.ID, "err", err)
			}
		}
	}
	return nil
}

// retryAfterFailures is how long the scheduler waits before rotating a
// target again after its last scheduled rotations failed: 5 min after one
// failure, doubling per failure in a row, at most a day. Each failure is
// told (rotation.failed); a target failing for good is not retried every
// pass.
func (s *Rotations) retryAfterFailures(ctx context.Context, kind keyward.RotationKind, target string, now time.Time) (bool, error) {
	var rots []*keyward.Rotation
	err := s.store.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		var err error
		rots, _, err = tx.ListRotations(ctx, keyward.RotationFilter{Kind: kind, Target: target, Page: keyward.Page{Limit: 8}})
		return err
	})
	if err != nil || len(rots) == 0 {
		return false, err
	}
	failures := 0
	for _, r := range rots {
		if r.State != keyward.RotationFailed && r.State != keyward.RotationRolledBack {
			break
		}
		failures++
	}
	if failures == 0 || rots[0].FinishedAt == nil {
		return false, nil
	}
	wait := min(5*time.Minute<<(failures-1), 24*time.Hour)
	return now.Before(rots[0].FinishedAt.Add(wait)), nil
}

func (s *Rotations) keyRotationResumable(ctx context.Context, rot *keyward.Rotation) (bool, error) {
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

package core

import (
	"context"
	"errors"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
)

// rotationEvent is the audit event of one rotation step. Steps after the
// first run on behalf of whoever started the rotation (already authorized
// for it), or of the server itself for scheduled and resumed rotations.
func (s *base) rotationEvent(caller keyward.Caller, action keyward.Action, resource string, rot *keyward.Rotation, step keyward.RotationStep) *keyward.AuditEvent {
	ev := s.newEvent(caller, call{action: action, resource: resource, params: map[string]any{
		"rotationId": rot.ID, "kind": string(rot.Kind), "target": rot.Target, "step": string(step), "trigger": rot.Trigger,
	}})
	if caller.Principal == nil {
		ev.EventType = keyward.EventTypeSystem
		ev.UserIdentity = keyward.UserIdentity{Type: "System"}
	}
	return ev
}

// commitEvent runs body in a write transaction that also appends ev. A
// failed body is audited in a transaction of its own, as run does.
func (s *base) commitEvent(ctx context.Context, ev *keyward.AuditEvent, body func(ctx context.Context, tx keyward.Tx) error) error {
	var rec *keyward.AuditRecord
	err := s.store.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
		if err := body(ctx, tx); err != nil {
			return err
		}
		var err error
		rec, err = audit.Append(ctx, tx, ev)
		return err
	})
	if errors.Is(err, errNotDue) {
		return err
	}
	if err != nil {
		s.auditFailure(ctx, ev, err)
		return s.internal(ctx, keyward.Action(ev.EventName), err)
	}
	s.toSinks(ctx, rec)
	return nil
}

// nextStep reads a rotation about to run step: it must still be
// IN_PROGRESS and have just completed the step before (ECONFLICT
// otherwise: cancelled, finished, or run by someone else meanwhile).
func nextStep(ctx context.Context, tx keyward.Tx, id string, step keyward.RotationStep) (*keyward.Rotation, error) {
	cur, err := tx.GetRotation(ctx, id)
	if err != nil {
		return nil, err
	}
	if cur.State != keyward.RotationInProgress {
		return nil, keyward.Errorf(keyward.ECONFLICT, "rotation %s is %s", cur.ID, cur.State)
	}
	if stepIndex(cur.Step) != stepIndex(step)-1 {
		return nil, keyward.Errorf(keyward.ECONFLICT, "rotation %s is at %s, not before %s", cur.ID, cur.Step, step)
	}
	return cur, nil
}

// afterStep calls the test hook, if any, once a step has committed.
func (s *base) afterStep(ctx context.Context, rot *keyward.Rotation) {
	if s.hooks.AfterStep != nil {
		s.hooks.AfterStep(ctx, rot)
	}
}

// observeRotation tells the metrics of a rotation that ended.
func (s *base) observeRotation(rot *keyward.Rotation) {
	if s.hooks.OnRotation != nil && rot.State != keyward.RotationInProgress {
		s.hooks.OnRotation(rot)
	}
}

// kickWebhooks wakes the webhook dispatcher after deliveries were queued.
func (s *base) kickWebhooks() {
	if s.hooks.Notified != nil {
		s.hooks.Notified()
	}
}

// Hooks are callbacks the server wires around the core: metrics, the
// webhook dispatcher, and a test hook.
type Hooks struct {
	// AfterStep is called after each rotation step commits. Tests use it to
	// stop the process between two steps.
	AfterStep func(ctx context.Context, r *keyward.Rotation)
	// OnRotation is told of every rotation that ended, whatever the outcome.
	OnRotation func(r *keyward.Rotation)
	// Notified is called after webhook deliveries were committed.
	Notified func()
}

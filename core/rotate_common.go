package core

import (
	"context"

	"github.com/keyward/keyward"
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

// commitStep commits one rotation step (or a scheduled start) with its
// audit record. A scheduled rotation found not due is not a failure.
func (s *base) commitStep(ctx context.Context, ev *keyward.AuditEvent, change keyward.Change, body func(ctx context.Context, tx keyward.Tx) error) error {
	return s.commit(ctx, write{ev: ev, body: body, change: change, quiet: errNotDue})
}

// finished is the change a rotation step tells the gateway of: the new
// value serves once finishSecret commits, not before.
func finished(step keyward.RotationStep, kind keyward.ChangeKind, target string) keyward.Change {
	if step != keyward.StepFinish {
		return keyward.Change{}
	}
	return keyward.Change{Kind: kind, ID: target}
}

// nextStep reads a rotation about to run step: it must still be
// IN_PROGRESS and have just completed the step before (ECONFLICT
// otherwise: cancelled, finished, or run by someone else meanwhile).
func (s *Rotations) nextStep(ctx context.Context, tx keyward.Tx, id string, step keyward.RotationStep) (*keyward.Rotation, error) {
	cur, err := tx.GetRotation(ctx, id)
	if err != nil {
		return nil, err
	}
	if cur.State != keyward.RotationInProgress {
		return nil, keyward.Errorf(keyward.ECONFLICT, "rotation %s is %s", cur.ID, cur.State)
	}
	if !s.runs(cur) {
		return nil, keyward.Errorf(keyward.ECONFLICT, "rotation %s was taken over by another process", cur.ID)
	}
	if stepIndex(cur.Step) != stepIndex(step)-1 {
		return nil, keyward.Errorf(keyward.ECONFLICT, "rotation %s is at %s, not before %s", cur.ID, cur.Step, step)
	}
	return cur, nil
}

// runs reports whether this process is the runner of rot, as stored:
// the only one that may advance it, roll it back or mark it failed.
func (s *Rotations) runs(rot *keyward.Rotation) bool { return rot.Runner == s.bg.runner }

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

package core_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// readCounter counts the keys the store hands out, whichever way they are
// read.
type readCounter struct {
	keyward.Store
	keys *int
}

func (s *readCounter) View(ctx context.Context, fn func(context.Context, keyward.Tx) error) error {
	return s.Store.View(ctx, func(ctx context.Context, tx keyward.Tx) error { return fn(ctx, &countingTx{Tx: tx, keys: s.keys}) })
}

type countingTx struct {
	keyward.Tx
	keys *int
}

func (t *countingTx) ListKeys(ctx context.Context, f keyward.KeyFilter) ([]*keyward.APIKey, string, error) {
	ks, next, err := t.Tx.ListKeys(ctx, f)
	*t.keys += len(ks)
	return ks, next, err
}

func (t *countingTx) EachScheduledKey(ctx context.Context, plans []string, fn func(*keyward.APIKey) error) error {
	return t.Tx.EachScheduledKey(ctx, plans, func(k *keyward.APIKey) error { *t.keys++; return fn(k) })
}

// TestSchedulePassReadsOnlyScheduledKeys: a pass reads the keys that have
// something scheduled (an expiry, a rotation policy of their own or their
// plan's, a value in grace) and no other, so its cost follows them, not
// the number of keys. The same 4 keys are read among 20 as among 200.
func TestSchedulePassReadsOnlyScheduledKeys(t *testing.T) {
	for _, idle := range []int{20, 200} {
		var read int
		e := newEnvWithStore(t, func(s keyward.Store) keyward.Store { return &readCounter{Store: s, keys: &read} })
		rotating := must[*keyward.UsagePlan](t)(e.svc.Plans.CreatePlan(e.admin, keyward.PlanCreate{Name: "rotating",
			Rotation: &keyward.RotationPolicy{Every: keyward.Duration(30 * 24 * time.Hour)}}))
		plain := must[*keyward.UsagePlan](t)(e.svc.Plans.CreatePlan(e.admin, keyward.PlanCreate{Name: "plain"}))
		for i := range idle {
			must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: fmt.Sprintf("idle-%d", i), PlanIDs: []string{plain.ID}}))
		}
		expires := e.clock.Now().Add(90 * 24 * time.Hour)
		must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "expiring", ExpiresAt: &expires}))
		must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "own-policy", Recoverable: true,
			Rotation: &keyward.RotationPolicy{Every: keyward.Duration(60 * 24 * time.Hour)}}))
		must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "plan-policy", Recoverable: true, PlanIDs: []string{rotating.ID}}))
		graced := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "graced", Recoverable: true}))
		must[*keyward.RotatedKey](t)(e.svc.Rotations.RotateKey(e.admin, graced.Key.ID, keyward.KeyRotate{Grace: ptrTo(keyward.Duration(time.Hour))}))

		read = 0
		if err := e.svc.Rotations.SchedulePass(context.Background()); err != nil {
			t.Fatal(err)
		}
		if read != 4 {
			t.Errorf("with %d idle keys a pass read %d keys, want the 4 with something scheduled", idle, read)
		}
		if got := len(e.svc.Rotations.Deadlines()); got != 4 {
			t.Errorf("%d keys with deadlines, want 4", got)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }

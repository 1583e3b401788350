package storetest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward"
)

var rotationTests = []test{
	{"InsertGet", testRotationInsertGet},
	{"OneInProgress", testRotationOneInProgress},
	{"ClientToken", testRotationClientToken},
	{"Update", testRotationUpdate},
	{"Touch", testRotationTouch},
	{"List", testRotationList},
}

// newRotation returns a running rotation of kind target, started at created.
func newRotation(id string, kind keyward.RotationKind, target string, created time.Time) *keyward.Rotation {
	return &keyward.Rotation{
		ID:          id,
		Kind:        kind,
		Target:      target,
		State:       keyward.RotationInProgress,
		Step:        keyward.StepCreate,
		Trigger:     keyward.TriggerManual,
		Grace:       days(1),
		StoreSecret: "keys/" + target,
		PendingID:   "pending-" + id,
		Hint:        "kw_…" + id,
		StartedBy:   "u1",
		CreatedAt:   created,
		UpdatedAt:   created,
		Runner:      "p1",
	}
}

// finished returns r as a rotation that ended in state at when.
func finished(r *keyward.Rotation, state keyward.RotationState, when time.Time) *keyward.Rotation {
	f := *r
	f.State, f.Step, f.UpdatedAt, f.FinishedAt = state, keyward.StepFinish, when, ptr(when)
	return &f
}

func testRotationInsertGet(h *harness) {
	full := finished(newRotation("r1", keyward.RotationSecret, "db/password", t0.In(paris)),
		keyward.RotationFailed, at(time.Minute).In(paris))
	full.Trigger = keyward.TriggerSchedule
	full.ClientToken = "token-1"
	full.Grace = keyward.Duration(90*time.Second + time.Nanosecond)
	full.Error = "the rotator answered 500"
	full.StartedBy = "system"
	bare := &keyward.Rotation{ID: "r2", Kind: keyward.RotationKey, Target: "k1",
		State: keyward.RotationInProgress, CreatedAt: t0, UpdatedAt: t0}
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertRotation(ctx, full); err != nil {
			return err
		}
		return tx.InsertRotation(ctx, bare)
	})
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		for _, want := range []*keyward.Rotation{full, bare} {
			got, err := tx.GetRotation(ctx, want.ID)
			if err != nil {
				return err
			}
			h.equal("GetRotation("+want.ID+")", got, want)
		}
		return nil
	})
	h.expect(keyward.ENOTFOUND, "GetRotation(missing)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetRotation(ctx, "nope")
		return err
	})
	h.fails("InsertRotation(duplicate ID)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertRotation(ctx, finished(newRotation("r1", keyward.RotationKey, "other", t0), keyward.RotationSucceeded, t0))
	})
}

func testRotationOneInProgress(h *harness) {
	running := newRotation("r1", keyward.RotationKey, "k1", t0)
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertRotation(ctx, running); err != nil {
			return err
		}
		// Finished rotations of the target do not count.
		for i, state := range []keyward.RotationState{keyward.RotationSucceeded, keyward.RotationFailed,
			keyward.RotationRolledBack, keyward.RotationCancelled} {
			r := newRotation(fmt.Sprintf("old-%d", i), keyward.RotationKey, "k1", at(-time.Hour))
			if err := tx.InsertRotation(ctx, finished(r, state, at(-time.Minute))); err != nil {
				return err
			}
		}
		return nil
	})
	h.expect(keyward.ECONFLICT, "InsertRotation(second one in progress)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertRotation(ctx, newRotation("r2", keyward.RotationKey, "k1", at(time.Second)))
	})
	h.expect("", "InsertRotation(in progress, other target)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertRotation(ctx, newRotation("r3", keyward.RotationKey, "k2", at(time.Second)))
	})
	h.expect("", "InsertRotation(in progress, same target of another kind)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertRotation(ctx, newRotation("r4", keyward.RotationSecret, "k1", at(time.Second)))
	})

	// Once the running one is finished, another may start; and the one
	// finished may not run again while that one does.
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		return tx.UpdateRotation(ctx, finished(running, keyward.RotationSucceeded, at(time.Minute)))
	})
	h.expect("", "InsertRotation(in progress after the other finished)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertRotation(ctx, newRotation("r5", keyward.RotationKey, "k1", at(2*time.Minute)))
	})
	h.fails("UpdateRotation(back in progress while another is)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.UpdateRotation(ctx, running)
	})
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, _, err := tx.ListRotations(ctx, keyward.RotationFilter{Kind: keyward.RotationKey, Target: "k1",
			State: keyward.RotationInProgress})
		if err != nil {
			return err
		}
		h.equal("running rotations of k1", rotationIDs(got), []string{"r5"})
		return nil
	})
}

func testRotationClientToken(h *harness) {
	withToken := func(r *keyward.Rotation, token string) *keyward.Rotation {
		r.ClientToken = token
		return r
	}
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		r := finished(newRotation("r1", keyward.RotationKey, "k1", t0), keyward.RotationSucceeded, at(time.Minute))
		return tx.InsertRotation(ctx, withToken(r, "token-1"))
	})
	// A token names one rotation of a target, finished or not.
	h.expect(keyward.ECONFLICT, "InsertRotation(token used on the target)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertRotation(ctx, withToken(newRotation("r2", keyward.RotationKey, "k1", at(time.Hour)), "token-1"))
	})
	h.expect(keyward.ECONFLICT, "InsertRotation(token used on the target, finished)", func(ctx context.Context, tx keyward.Tx) error {
		r := finished(newRotation("r2", keyward.RotationKey, "k1", at(time.Hour)), keyward.RotationCancelled, at(time.Hour))
		return tx.InsertRotation(ctx, withToken(r, "token-1"))
	})
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertRotation(ctx, withToken(newRotation("r3", keyward.RotationKey, "k2", t0), "token-1")); err != nil {
			return fmt.Errorf("same token, other target: %w", err)
		}
		if err := tx.InsertRotation(ctx, withToken(newRotation("r4", keyward.RotationSecret, "k1", t0), "token-1")); err != nil {
			return fmt.Errorf("same token, same target of another kind: %w", err)
		}
		// No token is no constraint.
		for i := range 3 {
			r := newRotation(fmt.Sprintf("r%d", 5+i), keyward.RotationKey, "k1", at(time.Duration(i)*time.Hour))
			if err := tx.InsertRotation(ctx, finished(r, keyward.RotationSucceeded, r.CreatedAt)); err != nil {
				return fmt.Errorf("no token: %w", err)
			}
		}
		return tx.InsertRotation(ctx, withToken(newRotation("r8", keyward.RotationKey, "k1", at(4*time.Hour)), "token-2"))
	})
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, _, err := tx.ListRotations(ctx, keyward.RotationFilter{Kind: keyward.RotationKey, Target: "k1",
			ClientToken: "token-1"})
		if err != nil {
			return err
		}
		h.equal("ListRotations(k1, token-1)", rotationIDs(got), []string{"r1"})
		return nil
	})
}

func testRotationUpdate(h *harness) {
	r := newRotation("r1", keyward.RotationSecret, "db/password", t0)
	r.ClientToken = "token-1"
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.InsertRotation(ctx, r) })

	// A step done: only the state and what the step set change.
	u := *r
	u.Step = keyward.StepSet
	u.PendingID = "v2"
	u.Hint = "…abcd"
	u.UpdatedAt = at(time.Second).In(paris)
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.UpdateRotation(ctx, &u) })
	get := func(what string, want *keyward.Rotation) {
		h.t.Helper()
		h.read(func(ctx context.Context, tx keyward.Tx) error {
			got, err := tx.GetRotation(ctx, want.ID)
			if err != nil {
				return err
			}
			h.equal(what, got, want)
			return nil
		})
	}
	get("GetRotation after a step", &u)

	f := *finished(&u, keyward.RotationFailed, at(time.Minute))
	f.Error = "testSecret failed"
	// Not mutable: ignored.
	ignored := f
	ignored.Kind = keyward.RotationKey
	ignored.Target = "other"
	ignored.Trigger = keyward.TriggerSchedule
	ignored.ClientToken = "token-2"
	ignored.Grace = days(9)
	ignored.StoreSecret = "elsewhere"
	ignored.StartedBy = "u2"
	ignored.CreatedAt = at(99 * time.Hour)
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.UpdateRotation(ctx, &ignored) })
	get("GetRotation after it failed", &f)

	h.expect(keyward.ENOTFOUND, "UpdateRotation(missing)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.UpdateRotation(ctx, newRotation("nope", keyward.RotationKey, "k1", t0))
	})
}

// maxPages bounds the paging loops of the tests: a backend whose list never
// ends fails them rather than hangs.
const maxPages = 100

var errTooManyPages = errors.New("more than maxPages pages")

func rotationIDs(rs []*keyward.Rotation) []string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}

func testRotationList(h *harness) {
	type row struct {
		id     string
		kind   keyward.RotationKind
		target string
		state  keyward.RotationState
		token  string
		min    int // CreatedAt, in minutes from t0
	}
	rows := []row{
		{"a", keyward.RotationKey, "k1", keyward.RotationSucceeded, "t1", 0},
		{"b", keyward.RotationKey, "k1", keyward.RotationFailed, "", 10},
		{"c", keyward.RotationKey, "k1", keyward.RotationSucceeded, "t2", 20},
		{"d", keyward.RotationKey, "k1", keyward.RotationInProgress, "t3", 30},
		{"e", keyward.RotationKey, "k2", keyward.RotationSucceeded, "t1", 10},
		{"f", keyward.RotationKey, "k2", keyward.RotationInProgress, "", 40},
		{"g", keyward.RotationSecret, "k1", keyward.RotationSucceeded, "", 20},
		{"h", keyward.RotationSecret, "s1", keyward.RotationCancelled, "", 20},
		{"i", keyward.RotationSecret, "s1", keyward.RotationSucceeded, "", 20},
		{"j", keyward.RotationSecret, "s1", keyward.RotationInProgress, "", 5},
		// Newer than its ID order, and in another zone.
		{"0", keyward.RotationSecret, "s2", keyward.RotationSucceeded, "", 50},
	}
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		for _, i := range []int{7, 2, 10, 0, 9, 4, 1, 8, 3, 6, 5} { // insertion order is not list order
			w := rows[i]
			created := at(time.Duration(w.min) * time.Minute)
			if w.id == "0" {
				created = created.In(paris)
			}
			r := newRotation(w.id, w.kind, w.target, created)
			if w.state != keyward.RotationInProgress {
				r = finished(r, w.state, created.Add(time.Minute))
			}
			r.ClientToken = w.token
			if err := tx.InsertRotation(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	for _, tc := range []struct {
		f    keyward.RotationFilter
		want []string
	}{
		// Newest first; equal times by ID, descending.
		{keyward.RotationFilter{}, []string{"0", "f", "d", "i", "h", "g", "c", "e", "b", "j", "a"}},
		{keyward.RotationFilter{Page: keyward.Page{Limit: 2}}, []string{"0", "f", "d", "i", "h", "g", "c", "e", "b", "j", "a"}},
		{keyward.RotationFilter{Page: keyward.Page{Limit: 1}}, []string{"0", "f", "d", "i", "h", "g", "c", "e", "b", "j", "a"}},
		{keyward.RotationFilter{Kind: keyward.RotationKey}, []string{"f", "d", "c", "e", "b", "a"}},
		{keyward.RotationFilter{Kind: keyward.RotationKey, Target: "k1"}, []string{"d", "c", "b", "a"}},
		{keyward.RotationFilter{Kind: keyward.RotationKey, Target: "k1", Page: keyward.Page{Limit: 3}}, []string{"d", "c", "b", "a"}},
		{keyward.RotationFilter{Target: "k1"}, []string{"d", "g", "c", "b", "a"}},
		{keyward.RotationFilter{Kind: keyward.RotationSecret, Target: "s1", Page: keyward.Page{Limit: 1}}, []string{"i", "h", "j"}},
		{keyward.RotationFilter{State: keyward.RotationInProgress}, []string{"f", "d", "j"}},
		{keyward.RotationFilter{State: keyward.RotationSucceeded, Page: keyward.Page{Limit: 2}}, []string{"0", "i", "g", "c", "e", "a"}},
		{keyward.RotationFilter{Kind: keyward.RotationKey, Target: "k1", State: keyward.RotationSucceeded}, []string{"c", "a"}},
		{keyward.RotationFilter{ClientToken: "t1"}, []string{"e", "a"}},
		{keyward.RotationFilter{Kind: keyward.RotationKey, Target: "k2", ClientToken: "t1"}, []string{"e"}},
		{keyward.RotationFilter{Kind: keyward.RotationKey, Target: "k2", ClientToken: "t2"}, nil},
		{keyward.RotationFilter{Kind: keyward.RotationSecret, State: keyward.RotationFailed}, nil},
		{keyward.RotationFilter{Target: "nope"}, nil},
	} {
		var got []string
		var sizes []int
		h.read(func(ctx context.Context, tx keyward.Tx) error {
			f := tc.f
			for range maxPages {
				page, next, err := tx.ListRotations(ctx, f)
				if err != nil {
					return err
				}
				got = append(got, rotationIDs(page)...)
				sizes = append(sizes, len(page))
				if next == "" {
					return nil
				}
				f.Position = next
			}
			return errTooManyPages
		})
		h.equal(fmt.Sprintf("ListRotations(%+v)", tc.f), got, tc.want)
		if limit := tc.f.Normalized().Limit; len(sizes) > 1 && sizes[0] != limit {
			h.t.Errorf("ListRotations(%+v): first page of %d, want %d", tc.f, sizes[0], limit)
		}
	}

	// Rotations come back whole.
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		list, _, err := tx.ListRotations(ctx, keyward.RotationFilter{Kind: keyward.RotationSecret, Target: "s1"})
		if err != nil {
			return err
		}
		for _, r := range list {
			got, err := tx.GetRotation(ctx, r.ID)
			if err != nil {
				return err
			}
			h.equal("ListRotations: rotation "+r.ID, r, got)
		}
		return nil
	})
}

// testRotationTouch: the heartbeat moves UpdatedAt of a running rotation
// only, and only its runner's heartbeat; a finished one, or none, is left
// as it is. UpdateRotation hands a rotation to another runner.
func testRotationTouch(h *harness) {
	running := newRotation("r1", keyward.RotationKey, "k1", t0)
	done := finished(newRotation("r2", keyward.RotationKey, "k2", t0), keyward.RotationSucceeded, at(time.Minute))
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertRotation(ctx, running); err != nil {
			return err
		}
		return tx.InsertRotation(ctx, done)
	})
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		for _, id := range []string{"r1", "r2", "missing"} {
			if err := tx.TouchRotation(ctx, id, "p1", at(time.Hour)); err != nil {
				return err
			}
		}
		return nil
	})
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, err := tx.GetRotation(ctx, "r1")
		if err != nil {
			return err
		}
		touched := *running
		touched.UpdatedAt = at(time.Hour)
		h.equal("running rotation after TouchRotation", got, &touched)
		if got, err = tx.GetRotation(ctx, "r2"); err != nil {
			return err
		}
		h.equal("finished rotation after TouchRotation", got, done)
		return nil
	})
	takenOver := *running
	takenOver.Runner, takenOver.UpdatedAt = "p2", at(2*time.Hour)
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.UpdateRotation(ctx, &takenOver); err != nil {
			return err
		}
		return tx.TouchRotation(ctx, "r1", "p1", at(3*time.Hour)) // the former runner
	})
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, err := tx.GetRotation(ctx, "r1")
		if err != nil {
			return err
		}
		h.equal("rotation touched by its former runner", got, &takenOver)
		return nil
	})
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		return tx.TouchRotation(ctx, "r1", "p2", at(4*time.Hour))
	})
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, err := tx.GetRotation(ctx, "r1")
		if err != nil {
			return err
		}
		touched := takenOver
		touched.UpdatedAt = at(4 * time.Hour)
		h.equal("rotation touched by its new runner", got, &touched)
		return nil
	})
}

package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/keyward/keyward"
)

var webhookTests = []test{
	{"CRUD", testWebhookCRUD},
	{"List", testWebhookList},
	{"Deliveries", testDeliveries},
	{"DueDeliveries", testDueDeliveries},
	{"ListDeliveries", testListDeliveries},
	{"DeleteCascades", testWebhookDeleteCascades},
	{"Notices", testNotices},
	{"PruneHistory", testPruneHistory},
}

// testPruneHistory: finished deliveries older than the cut and notices
// whose deadline passed before it go, in batches of at most limit;
// pending deliveries, newer ones and later notices stay.
func testPruneHistory(h *harness) {
	h.insertWebhooks("wh1")
	var ds []*keyward.Delivery
	for i, st := range []keyward.DeliveryState{keyward.DeliveryDelivered, keyward.DeliveryFailed, keyward.DeliveryPending,
		keyward.DeliveryDelivered, keyward.DeliveryDelivered} {
		d := newDelivery(fmt.Sprintf("d%d", i), "wh1", at(time.Duration(i)*time.Hour))
		d.State = st
		ds = append(ds, d)
	}
	h.insertDeliveries(ds...)
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		for i := range 4 {
			if err := tx.InsertNotice(ctx, keyward.EventKeyExpiring, fmt.Sprintf("k%d", i), at(time.Duration(i)*time.Hour), t0); err != nil {
				return err
			}
		}
		return nil
	})
	cut := at(3*time.Hour + time.Minute) // d0..d3 and notices k0..k3 are older
	prune := func(limit int) (d, n int) {
		h.do(func(ctx context.Context, tx keyward.Tx) error {
			var err error
			d, n, err = tx.PruneHistory(ctx, cut, limit)
			return err
		})
		return d, n
	}
	if d, n := prune(2); d != 2 || n != 2 {
		h.t.Errorf("first batch: %d deliveries, %d notices; want 2 and 2", d, n)
	}
	if d, n := prune(10); d != 1 || n != 2 {
		h.t.Errorf("second batch: %d deliveries, %d notices; want 1 (d3) and 2", d, n)
	}
	if d, n := prune(10); d != 0 || n != 0 {
		h.t.Errorf("third batch: %d deliveries, %d notices; want none", d, n)
	}
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		for i, d := range ds {
			_, err := tx.GetDelivery(ctx, d.ID)
			kept := d.State == keyward.DeliveryPending || i == 4
			if kept && err != nil {
				h.t.Errorf("delivery %s (%s) was pruned: %v", d.ID, d.State, err)
			}
			if !kept && keyward.ErrorCode(err) != keyward.ENOTFOUND {
				h.t.Errorf("delivery %s (%s) was kept: %v", d.ID, d.State, err)
			}
		}
		return nil
	})
	// A pruned notice may be given again (its deadline passed anyway).
	h.expect("", "InsertNotice(after pruning)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertNotice(ctx, keyward.EventKeyExpiring, "k0", at(0), t0)
	})
}

func newWebhook(id string) *keyward.Webhook {
	return &keyward.Webhook{
		ID:           id,
		Kind:         keyward.WebhookNotify,
		URL:          "https://hooks.example.com/keyward/" + id,
		Description:  "a webhook for tests",
		Events:       []string{keyward.EventKeyRotated, keyward.EventKeyExpiring},
		PrincipalID:  "u1",
		CreatedAt:    t0,
		SealedSecret: []byte("sealed:" + id),
	}
}

// newDelivery returns a pending delivery to webhookID, created and due at
// created.
func newDelivery(id, webhookID string, created time.Time) *keyward.Delivery {
	return &keyward.Delivery{
		ID:            id,
		WebhookID:     webhookID,
		EventID:       "ev-" + id,
		EventType:     keyward.EventKeyRotated,
		Payload:       json.RawMessage(`{"id":"ev-` + id + `","type":"key.rotated"}`),
		State:         keyward.DeliveryPending,
		NextAttemptAt: created,
		CreatedAt:     created,
		UpdatedAt:     created,
	}
}

func (h *harness) insertWebhooks(ids ...string) {
	h.t.Helper()
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		for _, id := range ids {
			if err := tx.InsertWebhook(ctx, newWebhook(id)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (h *harness) insertDeliveries(ds ...*keyward.Delivery) {
	h.t.Helper()
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		for _, d := range ds {
			if err := tx.InsertDelivery(ctx, d); err != nil {
				return err
			}
		}
		return nil
	})
}

func testWebhookCRUD(h *harness) {
	full := newWebhook("wh1")
	full.CreatedAt = t0.In(paris)
	bare := &keyward.Webhook{ID: "wh2", Kind: keyward.WebhookRotator, URL: "http://127.0.0.1:9/rotate", CreatedAt: t0}
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertWebhook(ctx, full); err != nil {
			return err
		}
		return tx.InsertWebhook(ctx, bare)
	})
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		for _, want := range []*keyward.Webhook{full, bare} {
			got, err := tx.GetWebhook(ctx, want.ID)
			if err != nil {
				return err
			}
			h.equal("GetWebhook("+want.ID+")", got, want)
			h.equal("GetWebhook("+want.ID+").SealedSecret", got.SealedSecret, want.SealedSecret)
		}
		return nil
	})
	h.expect(keyward.ECONFLICT, "InsertWebhook(duplicate ID)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertWebhook(ctx, newWebhook("wh1"))
	})
	h.expect(keyward.ENOTFOUND, "GetWebhook(missing)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetWebhook(ctx, "nope")
		return err
	})
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.DeleteWebhook(ctx, "wh1") })
	h.expect(keyward.ENOTFOUND, "GetWebhook(deleted)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetWebhook(ctx, "wh1")
		return err
	})
	h.expect(keyward.ENOTFOUND, "DeleteWebhook(deleted)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.DeleteWebhook(ctx, "wh1")
	})
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetWebhook(ctx, "wh2")
		return err
	})
}

func testWebhookList(h *harness) {
	const n = 7
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("wh-%02d", i))
	}
	var ids []string
	for _, i := range rand.Perm(n) { // insertion order is not list order
		ids = append(ids, want[i])
	}
	h.insertWebhooks(ids...)
	for _, limit := range []int{0, 3, 1} {
		var got []string
		var sizes []int
		h.read(func(ctx context.Context, tx keyward.Tx) error {
			p := keyward.Page{Limit: limit}
			for range maxPages {
				page, next, err := tx.ListWebhooks(ctx, p)
				if err != nil {
					return err
				}
				sizes = append(sizes, len(page))
				for _, w := range page {
					got = append(got, w.ID)
					h.equal("ListWebhooks: "+w.ID, w, newWebhook(w.ID))
				}
				if next == "" {
					return nil
				}
				p.Position = next
			}
			return errTooManyPages
		})
		h.equal(fmt.Sprintf("ListWebhooks(limit %d)", limit), got, want)
		if limit == 3 {
			h.equal("ListWebhooks(limit 3) page sizes", sizes, []int{3, 3, 1})
		}
	}
}

func testDeliveries(h *harness) {
	h.insertWebhooks("wh1")
	d := newDelivery("d1", "wh1", t0.In(paris))
	// The payload comes back as the bytes that were signed.
	d.Payload = json.RawMessage("{ \"id\":\"ev-d1\",\n\t\"n\":1.50, \"é\":\"\\u00e9\" }")
	h.insertDeliveries(d)
	get := func(what string, want *keyward.Delivery) {
		h.t.Helper()
		h.read(func(ctx context.Context, tx keyward.Tx) error {
			got, err := tx.GetDelivery(ctx, want.ID)
			if err != nil {
				return err
			}
			h.equal(what, got, want)
			return nil
		})
	}
	get("GetDelivery", d)
	h.fails("InsertDelivery(duplicate ID)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertDelivery(ctx, newDelivery("d1", "wh1", t0))
	})
	h.fails("InsertDelivery(missing webhook)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertDelivery(ctx, newDelivery("d2", "nope", t0))
	})
	h.expect(keyward.ENOTFOUND, "GetDelivery(missing)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetDelivery(ctx, "nope")
		return err
	})

	// A failed attempt, then a delivered one.
	u := *d
	u.Attempts = []keyward.DeliveryAttempt{{At: at(time.Second).In(paris), StatusCode: 503, Error: "service unavailable", Millis: 120}}
	u.NextAttemptAt = at(time.Minute)
	u.UpdatedAt = at(time.Second)
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.UpdateDelivery(ctx, &u) })
	get("GetDelivery after an attempt", &u)

	v := u
	v.Attempts = append(v.Attempts, keyward.DeliveryAttempt{At: at(time.Minute), Error: "timeout", Millis: 10000},
		keyward.DeliveryAttempt{At: at(2 * time.Minute), StatusCode: 204, Millis: 35})
	v.State = keyward.DeliveryDelivered
	v.UpdatedAt = at(2 * time.Minute)
	// Not mutable: ignored.
	ignored := v
	ignored.WebhookID = "other"
	ignored.EventID = "other"
	ignored.EventType = keyward.EventSecretRotated
	ignored.Payload = json.RawMessage(`{}`)
	ignored.CreatedAt = at(99 * time.Hour)
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.UpdateDelivery(ctx, &ignored) })
	get("GetDelivery after delivery", &v)

	h.expect(keyward.ENOTFOUND, "UpdateDelivery(missing)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.UpdateDelivery(ctx, newDelivery("nope", "wh1", t0))
	})
}

func testDueDeliveries(h *harness) {
	h.insertWebhooks("wh1", "wh2")
	due := func(id, webhook string, next time.Duration, state keyward.DeliveryState) *keyward.Delivery {
		d := newDelivery(id, webhook, t0)
		d.NextAttemptAt = at(next)
		if next%(2*time.Minute) != 0 {
			d.NextAttemptAt = d.NextAttemptAt.In(paris) // the zone must not matter
		}
		d.State = state
		return d
	}
	ds := []*keyward.Delivery{
		due("a", "wh1", 3*time.Minute, keyward.DeliveryPending),
		due("b", "wh2", -time.Hour, keyward.DeliveryPending),
		due("c", "wh1", time.Minute, keyward.DeliveryPending),
		due("d", "wh1", 0, keyward.DeliveryDelivered),
		due("e", "wh2", 2*time.Minute, keyward.DeliveryFailed),
		due("f", "wh2", 5*time.Minute, keyward.DeliveryPending),
		due("g", "wh1", 10*time.Minute+time.Nanosecond, keyward.DeliveryPending),
		due("h", "wh1", 4*time.Minute, keyward.DeliveryPending),
	}
	h.insertDeliveries(ds...)
	dueIDs := func(now time.Time, limit int) []string {
		var ids []string
		h.read(func(ctx context.Context, tx keyward.Tx) error {
			got, err := tx.DueDeliveries(ctx, now, limit)
			if err != nil {
				return err
			}
			for _, d := range got {
				ids = append(ids, d.ID)
			}
			return nil
		})
		return ids
	}
	for _, tc := range []struct {
		now   time.Time
		limit int
		want  []string
	}{
		{at(10 * time.Minute), 10, []string{"b", "c", "a", "h", "f"}},
		{at(10 * time.Minute), 2, []string{"b", "c"}},
		{at(10 * time.Minute).In(paris), 4, []string{"b", "c", "a", "h"}},
		{at(5 * time.Minute), 10, []string{"b", "c", "a", "h", "f"}}, // at or before now
		{at(5*time.Minute - time.Nanosecond), 10, []string{"b", "c", "a", "h"}},
		{at(time.Hour), 10, []string{"b", "c", "a", "h", "f", "g"}},
		{at(-2 * time.Hour), 10, nil},
	} {
		h.equal(fmt.Sprintf("DueDeliveries(%v, %d)", tc.now, tc.limit), dueIDs(tc.now, tc.limit), tc.want)
	}

	// Delivered, or waiting for a later attempt, it is no longer due.
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		b := *ds[1]
		b.State = keyward.DeliveryDelivered
		if err := tx.UpdateDelivery(ctx, &b); err != nil {
			return err
		}
		c := *ds[2]
		c.NextAttemptAt = at(30 * time.Minute)
		return tx.UpdateDelivery(ctx, &c)
	})
	h.equal("DueDeliveries after updates", dueIDs(at(10*time.Minute), 10), []string{"a", "h", "f"})
	h.equal("DueDeliveries after updates, later", dueIDs(at(time.Hour), 10), []string{"a", "h", "f", "g", "c"})

	// Deliveries come back whole.
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, err := tx.DueDeliveries(ctx, at(4*time.Minute), 1)
		if err != nil {
			return err
		}
		h.equal("DueDeliveries(one)", got, []*keyward.Delivery{ds[0]})
		return nil
	})
}

func testListDeliveries(h *harness) {
	h.insertWebhooks("wh1", "wh2")
	type row struct {
		id, webhook, event string
		state              keyward.DeliveryState
		min                int // CreatedAt, in minutes from t0
	}
	rows := []row{
		{"a", "wh1", keyward.EventKeyRotated, keyward.DeliveryDelivered, 0},
		{"b", "wh1", keyward.EventKeyExpiring, keyward.DeliveryFailed, 10},
		{"c", "wh1", keyward.EventKeyRotated, keyward.DeliveryPending, 10},
		{"d", "wh2", keyward.EventKeyRotated, keyward.DeliveryPending, 10},
		{"e", "wh2", keyward.EventKeyExpiring, keyward.DeliveryDelivered, 20},
		{"f", "wh1", keyward.EventKeyExpiring, keyward.DeliveryDelivered, 30},
		{"0", "wh1", keyward.EventKeyRotated, keyward.DeliveryPending, 40},
	}
	var ds []*keyward.Delivery
	for _, i := range rand.Perm(len(rows)) { // insertion order is not list order
		r := rows[i]
		created := at(time.Duration(r.min) * time.Minute)
		if i%2 == 1 {
			created = created.In(paris)
		}
		d := newDelivery(r.id, r.webhook, created)
		d.EventType, d.State = r.event, r.state
		ds = append(ds, d)
	}
	h.insertDeliveries(ds...)
	for _, tc := range []struct {
		f    keyward.DeliveryFilter
		want []string
	}{
		// Newest first; equal times by ID, descending.
		{keyward.DeliveryFilter{}, []string{"0", "f", "e", "d", "c", "b", "a"}},
		{keyward.DeliveryFilter{Page: keyward.Page{Limit: 2}}, []string{"0", "f", "e", "d", "c", "b", "a"}},
		{keyward.DeliveryFilter{Page: keyward.Page{Limit: 4}}, []string{"0", "f", "e", "d", "c", "b", "a"}},
		{keyward.DeliveryFilter{WebhookID: "wh1"}, []string{"0", "f", "c", "b", "a"}},
		{keyward.DeliveryFilter{WebhookID: "wh1", Page: keyward.Page{Limit: 1}}, []string{"0", "f", "c", "b", "a"}},
		{keyward.DeliveryFilter{WebhookID: "wh2"}, []string{"e", "d"}},
		{keyward.DeliveryFilter{EventType: keyward.EventKeyExpiring}, []string{"f", "e", "b"}},
		{keyward.DeliveryFilter{State: keyward.DeliveryPending}, []string{"0", "d", "c"}},
		{keyward.DeliveryFilter{WebhookID: "wh1", EventType: keyward.EventKeyRotated, State: keyward.DeliveryPending}, []string{"0", "c"}},
		{keyward.DeliveryFilter{WebhookID: "wh2", State: keyward.DeliveryFailed}, nil},
		{keyward.DeliveryFilter{WebhookID: "nope"}, nil},
	} {
		var got []string
		h.read(func(ctx context.Context, tx keyward.Tx) error {
			f := tc.f
			for range maxPages {
				page, next, err := tx.ListDeliveries(ctx, f)
				if err != nil {
					return err
				}
				if limit := f.Normalized().Limit; len(page) > limit || (next != "" && len(page) != limit) {
					h.t.Errorf("ListDeliveries(%+v): page of %d, limit %d", f, len(page), limit)
				}
				for _, d := range page {
					got = append(got, d.ID)
				}
				if next == "" {
					return nil
				}
				f.Position = next
			}
			return errTooManyPages
		})
		h.equal(fmt.Sprintf("ListDeliveries(%+v)", tc.f), got, tc.want)
	}
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		page, _, err := tx.ListDeliveries(ctx, keyward.DeliveryFilter{WebhookID: "wh2"})
		if err != nil {
			return err
		}
		byID := map[string]*keyward.Delivery{}
		for _, d := range ds {
			byID[d.ID] = d
		}
		h.equal("ListDeliveries(wh2)", page, []*keyward.Delivery{byID["e"], byID["d"]})
		return nil
	})
}

func testWebhookDeleteCascades(h *harness) {
	h.insertWebhooks("wh1", "wh2")
	h.insertDeliveries(newDelivery("d1", "wh1", t0), newDelivery("d2", "wh1", at(time.Minute)),
		newDelivery("d3", "wh2", at(time.Minute)))
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.DeleteWebhook(ctx, "wh1") })
	for _, id := range []string{"d1", "d2"} {
		h.expect(keyward.ENOTFOUND, "GetDelivery(delivery of a deleted webhook)", func(ctx context.Context, tx keyward.Tx) error {
			_, err := tx.GetDelivery(ctx, id)
			return err
		})
	}
	deliveries := func(f keyward.DeliveryFilter) []string {
		var ids []string
		h.read(func(ctx context.Context, tx keyward.Tx) error {
			page, _, err := tx.ListDeliveries(ctx, f)
			for _, d := range page {
				ids = append(ids, d.ID)
			}
			return err
		})
		return ids
	}
	h.equal("ListDeliveries(deleted webhook)", deliveries(keyward.DeliveryFilter{WebhookID: "wh1"}), []string(nil))
	h.equal("ListDeliveries(all)", deliveries(keyward.DeliveryFilter{}), []string{"d3"})
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		due, err := tx.DueDeliveries(ctx, at(time.Hour), 10)
		if err != nil {
			return err
		}
		h.equal("DueDeliveries after DeleteWebhook", len(due), 1)
		return nil
	})

	// An endpoint created again under the ID starts with no deliveries, and
	// nothing is left to conflict with.
	h.insertWebhooks("wh1")
	h.equal("ListDeliveries(recreated webhook)", deliveries(keyward.DeliveryFilter{WebhookID: "wh1"}), []string(nil))
	h.insertDeliveries(newDelivery("d1", "wh1", t0))
}

func testNotices(h *harness) {
	deadline := at(7 * 24 * time.Hour)
	notice := func(kind, target string, deadline, when time.Time) txFunc {
		return func(ctx context.Context, tx keyward.Tx) error {
			return tx.InsertNotice(ctx, kind, target, deadline, when)
		}
	}
	h.expect("", "InsertNotice", notice(keyward.EventKeyExpiring, "k1", deadline, t0))
	h.expect(keyward.ECONFLICT, "InsertNotice(again)", notice(keyward.EventKeyExpiring, "k1", deadline, at(time.Hour)))
	h.expect(keyward.ECONFLICT, "InsertNotice(again, deadline in another zone)",
		notice(keyward.EventKeyExpiring, "k1", deadline.In(paris), at(time.Hour)))
	h.expect("", "InsertNotice(other deadline)", notice(keyward.EventKeyExpiring, "k1", deadline.Add(time.Nanosecond), t0))
	h.expect("", "InsertNotice(other kind)", notice(keyward.EventKeyRotationDue, "k1", deadline, t0))
	h.expect("", "InsertNotice(other target)", notice(keyward.EventKeyExpiring, "k2", deadline, t0))
	h.expect(keyward.ECONFLICT, "InsertNotice(other target, again)", notice(keyward.EventKeyExpiring, "k2", deadline, t0))

	// A notice rolled back was not given.
	errRollback := errors.New("roll back")
	err := h.s.Update(h.t.Context(), func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertNotice(ctx, keyward.EventKeyExpiring, "k3", deadline, t0); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		h.t.Fatalf("Update: %v, want the error fn returned", err)
	}
	h.expect("", "InsertNotice(after a rollback)", notice(keyward.EventKeyExpiring, "k3", deadline, t0))
}

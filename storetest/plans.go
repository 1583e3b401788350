package storetest

import (
	"context"
	"fmt"
	"time"

	"github.com/keyward/keyward"
)

var planTests = []test{
	{"CRUD", testPlanCRUD},
	{"List", testPlanList},
	{"Attachments", testPlanAttachments},
}

func testPlanCRUD(h *harness) {
	full := newPlan("p1", "gold")
	bare := &keyward.UsagePlan{ID: "p2", Name: "free", CreatedAt: t0, UpdatedAt: t0}
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertPlan(ctx, full); err != nil {
			return err
		}
		return tx.InsertPlan(ctx, bare)
	})
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, err := tx.GetPlan(ctx, "p1")
		if err != nil {
			return err
		}
		h.equal("GetPlan(p1)", got, full)
		got, err = tx.GetPlanByName(ctx, "free")
		if err != nil {
			return err
		}
		h.equal("GetPlanByName(free)", got, bare)
		if got.Throttle != nil || got.Quota != nil || got.Tokens != nil {
			h.t.Errorf("GetPlanByName(free): limits %+v %+v %+v, want none", got.Throttle, got.Quota, got.Tokens)
		}
		return nil
	})
	h.expect(keyward.ECONFLICT, "InsertPlan(duplicate ID)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertPlan(ctx, newPlan("p1", "silver"))
	})
	h.expect(keyward.ECONFLICT, "InsertPlan(duplicate name)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertPlan(ctx, newPlan("p3", "gold"))
	})
	h.expect(keyward.ENOTFOUND, "GetPlan(missing)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetPlan(ctx, "nope")
		return err
	})
	h.expect(keyward.ENOTFOUND, "GetPlanByName(missing)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetPlanByName(ctx, "nope")
		return err
	})

	u := *full
	u.Name = "platinum"
	u.Throttle = nil
	u.Quota = &keyward.Quota{Limit: 5, Period: keyward.PeriodDay}
	u.APIStages = u.APIStages[:1]
	u.Rotation = &keyward.RotationPolicy{Every: days(1), Grace: keyward.Duration(time.Minute)}
	u.UpdatedAt = at(2 * time.Hour)
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.UpdatePlan(ctx, &u) })
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, err := tx.GetPlan(ctx, "p1")
		if err != nil {
			return err
		}
		h.equal("GetPlan after UpdatePlan", got, &u)
		return nil
	})
	cleared := u
	cleared.Rotation = nil
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.UpdatePlan(ctx, &cleared) })
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, err := tx.GetPlan(ctx, "p1")
		if err != nil {
			return err
		}
		h.equal("GetPlan after UpdatePlan(no rotation)", got, &cleared)
		return nil
	})
	taken := u
	taken.Name = "free"
	h.expect(keyward.ECONFLICT, "UpdatePlan(taken name)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.UpdatePlan(ctx, &taken)
	})
	h.expect(keyward.ENOTFOUND, "UpdatePlan(missing)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.UpdatePlan(ctx, newPlan("nope", "nope"))
	})
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.DeletePlan(ctx, "p1") })
	h.expect(keyward.ENOTFOUND, "DeletePlan(deleted)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.DeletePlan(ctx, "p1")
	})
}

func testPlanList(h *harness) {
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		for i, name := range []string{"silver", "bronze", "gold", "free"} {
			if err := tx.InsertPlan(ctx, newPlan(fmt.Sprintf("id-%d", i), name)); err != nil {
				return err
			}
		}
		return nil
	})
	var got []string
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		p := keyward.Page{Limit: 3}
		for {
			plans, next, err := tx.ListPlans(ctx, p)
			if err != nil {
				return err
			}
			for _, pl := range plans {
				got = append(got, pl.Name)
				h.equal("ListPlans: Rotation of "+pl.Name, pl.Rotation, newPlan(pl.ID, pl.Name).Rotation)
			}
			if next == "" {
				return nil
			}
			p.Position = next
		}
	})
	h.equal("ListPlans names", got, []string{"bronze", "free", "gold", "silver"})
}

func testPlanAttachments(h *harness) {
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		for _, p := range []string{"p1", "p2"} {
			if err := tx.InsertPlan(ctx, newPlan(p, "plan "+p)); err != nil {
				return err
			}
		}
		for _, k := range []string{"k1", "k2", "k3"} {
			if err := tx.InsertKey(ctx, newKey(k)); err != nil {
				return err
			}
		}
		for _, k := range []string{"k2", "k1", "k3"} {
			if err := tx.AttachKey(ctx, "p1", k); err != nil {
				return err
			}
		}
		return tx.AttachKey(ctx, "p2", "k1")
	})
	h.expect(keyward.ECONFLICT, "AttachKey(attached)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.AttachKey(ctx, "p1", "k1")
	})
	h.expect(keyward.ENOTFOUND, "AttachKey(missing plan)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.AttachKey(ctx, "nope", "k1")
	})
	h.expect(keyward.ENOTFOUND, "AttachKey(missing key)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.AttachKey(ctx, "p1", "nope")
	})

	planKeys := func(plan string, limit int) []string {
		var ids []string
		h.read(func(ctx context.Context, tx keyward.Tx) error {
			p := keyward.Page{Limit: limit}
			for {
				page, next, err := tx.ListPlanKeyIDs(ctx, plan, p)
				if err != nil {
					return err
				}
				ids = append(ids, page...)
				if next == "" {
					return nil
				}
				p.Position = next
			}
		})
		return ids
	}
	planIDs := func(key string) []string {
		var ids []string
		h.read(func(ctx context.Context, tx keyward.Tx) error {
			k, err := tx.GetKey(ctx, key)
			if err != nil {
				return err
			}
			ids = k.PlanIDs
			return nil
		})
		return ids
	}
	h.equal("ListPlanKeyIDs(p1)", planKeys("p1", 0), []string{"k1", "k2", "k3"})
	h.equal("ListPlanKeyIDs(p1, pages of 2)", planKeys("p1", 2), []string{"k1", "k2", "k3"})
	h.equal("ListPlanKeyIDs(p2)", planKeys("p2", 1), []string{"k1"})
	h.equal("GetKey(k1).PlanIDs", planIDs("k1"), []string{"p1", "p2"})

	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.DetachKey(ctx, "p1", "k2") })
	h.expect(keyward.ENOTFOUND, "DetachKey(not attached)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.DetachKey(ctx, "p1", "k2")
	})
	h.expect(keyward.ENOTFOUND, "DetachKey(missing plan)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.DetachKey(ctx, "nope", "k1")
	})
	h.equal("ListPlanKeyIDs(p1) after DetachKey", planKeys("p1", 0), []string{"k1", "k3"})
	h.equal("GetKey(k2).PlanIDs after DetachKey", planIDs("k2"), []string(nil))

	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.DeletePlan(ctx, "p1") })
	h.equal("GetKey(k1).PlanIDs after DeletePlan(p1)", planIDs("k1"), []string{"p2"})
	h.equal("GetKey(k3).PlanIDs after DeletePlan(p1)", planIDs("k3"), []string(nil))
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.InsertPlan(ctx, newPlan("p1", "again")) })
	h.equal("ListPlanKeyIDs(p1) recreated", planKeys("p1", 0), []string(nil))
}

package storetest

import (
	"context"
	"fmt"
	"time"

	"github.com/keyward/keyward"
)

var principalTests = []test{
	{"CRUD", testPrincipalCRUD},
	{"Tokens", testTokens},
}

var policyTests = []test{
	{"CRUD", testPolicyCRUD},
	{"Attachments", testPolicyAttachments},
}

func testPrincipalCRUD(h *harness) {
	p := newPrincipal("u1", "alice")
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertPrincipal(ctx, p); err != nil {
			return err
		}
		for i, name := range []string{"zoe", "bob", "carol", "ci"} {
			if err := tx.InsertPrincipal(ctx, newPrincipal(fmt.Sprintf("id-%d", i), name)); err != nil {
				return err
			}
		}
		return nil
	})
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, err := tx.GetPrincipal(ctx, "u1")
		if err != nil {
			return err
		}
		h.equal("GetPrincipal", got, p)
		got, err = tx.GetPrincipalByName(ctx, "alice")
		if err != nil {
			return err
		}
		h.equal("GetPrincipalByName", got, p)
		return nil
	})
	h.expect(keyward.ECONFLICT, "InsertPrincipal(taken name)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertPrincipal(ctx, newPrincipal("u2", "alice"))
	})
	h.expect(keyward.ECONFLICT, "InsertPrincipal(duplicate ID)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertPrincipal(ctx, newPrincipal("u1", "alice2"))
	})
	h.expect(keyward.ENOTFOUND, "GetPrincipal(missing)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetPrincipal(ctx, "nope")
		return err
	})
	h.expect(keyward.ENOTFOUND, "GetPrincipalByName(missing)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetPrincipalByName(ctx, "nope")
		return err
	})

	var names []string
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		pg := keyward.Page{Limit: 2}
		for {
			ps, next, err := tx.ListPrincipals(ctx, pg)
			if err != nil {
				return err
			}
			for _, p := range ps {
				names = append(names, p.Name)
			}
			if next == "" {
				return nil
			}
			pg.Position = next
		}
	})
	h.equal("ListPrincipals names", names, []string{"alice", "bob", "carol", "ci", "zoe"})

	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.DeletePrincipal(ctx, "u1") })
	h.expect(keyward.ENOTFOUND, "DeletePrincipal(deleted)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.DeletePrincipal(ctx, "u1")
	})
	h.expect(keyward.ENOTFOUND, "GetPrincipal(deleted)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetPrincipal(ctx, "u1")
		return err
	})
}

func testTokens(h *harness) {
	t1, t2 := newToken("t1", "u1"), newToken("t2", "u1")
	t2.ExpiresAt = nil
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertPrincipal(ctx, newPrincipal("u1", "alice")); err != nil {
			return err
		}
		if err := tx.InsertToken(ctx, t1); err != nil {
			return err
		}
		return tx.InsertToken(ctx, t2)
	})
	find := func(what string, tok *keyward.AdminToken) {
		h.t.Helper()
		h.read(func(ctx context.Context, tx keyward.Tx) error {
			got, err := tx.FindToken(ctx, tok.Digest)
			if err != nil {
				return err
			}
			h.equal(what, got, tok)
			return nil
		})
	}
	find("FindToken(t1)", t1)
	find("FindToken(t2)", t2)

	dup := newToken("t3", "u1")
	dup.Digest = t1.Digest
	h.expect(keyward.ECONFLICT, "InsertToken(digest in use)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertToken(ctx, dup)
	})
	h.expect(keyward.ENOTFOUND, "FindToken(unknown digest)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.FindToken(ctx, digest("unknown"))
		return err
	})
	h.fails("InsertToken(missing principal)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertToken(ctx, newToken("t4", "nope"))
	})

	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.DeleteToken(ctx, "t1") })
	h.expect(keyward.ENOTFOUND, "FindToken(deleted)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.FindToken(ctx, t1.Digest)
		return err
	})
	h.expect(keyward.ENOTFOUND, "DeleteToken(deleted)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.DeleteToken(ctx, "t1")
	})

	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.DeletePrincipal(ctx, "u1") })
	h.expect(keyward.ENOTFOUND, "FindToken(of a deleted principal)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.FindToken(ctx, t2.Digest)
		return err
	})
}

func testPolicyCRUD(h *harness) {
	p := newPolicy("pol1", "deployer")
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertPolicy(ctx, p); err != nil {
			return err
		}
		for i, name := range []string{"reader", "admin", "auditor"} {
			if err := tx.InsertPolicy(ctx, newPolicy(fmt.Sprintf("id-%d", i), name)); err != nil {
				return err
			}
		}
		return nil
	})
	get := func(what string, want *keyward.Policy) {
		h.t.Helper()
		h.read(func(ctx context.Context, tx keyward.Tx) error {
			got, err := tx.GetPolicy(ctx, want.ID)
			if err != nil {
				return err
			}
			h.equal(what, got, want)
			got, err = tx.GetPolicyByName(ctx, want.Name)
			if err != nil {
				return err
			}
			h.equal(what+" by name", got, want)
			return nil
		})
	}
	get("GetPolicy", p)
	h.expect(keyward.ECONFLICT, "InsertPolicy(taken name)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertPolicy(ctx, newPolicy("pol2", "deployer"))
	})
	h.expect(keyward.ENOTFOUND, "GetPolicy(missing)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetPolicy(ctx, "nope")
		return err
	})
	h.expect(keyward.ENOTFOUND, "GetPolicyByName(missing)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetPolicyByName(ctx, "nope")
		return err
	})

	u := *p
	u.Name = "deployer-v2"
	u.BuiltIn = true
	u.Document.Statement = u.Document.Statement[1:]
	u.UpdatedAt = at(time.Hour)
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.UpdatePolicy(ctx, &u) })
	get("GetPolicy after UpdatePolicy", &u)
	taken := u
	taken.Name = "admin"
	h.expect(keyward.ECONFLICT, "UpdatePolicy(taken name)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.UpdatePolicy(ctx, &taken)
	})
	h.expect(keyward.ENOTFOUND, "UpdatePolicy(missing)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.UpdatePolicy(ctx, newPolicy("nope", "nope"))
	})

	var names []string
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		pg := keyward.Page{Limit: 3}
		for {
			ps, next, err := tx.ListPolicies(ctx, pg)
			if err != nil {
				return err
			}
			for _, p := range ps {
				names = append(names, p.Name)
			}
			if next == "" {
				return nil
			}
			pg.Position = next
		}
	})
	h.equal("ListPolicies names", names, []string{"admin", "auditor", "deployer-v2", "reader"})

	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.DeletePolicy(ctx, "pol1") })
	h.expect(keyward.ENOTFOUND, "GetPolicy(deleted)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetPolicy(ctx, "pol1")
		return err
	})
	h.expect(keyward.ENOTFOUND, "DeletePolicy(deleted)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.DeletePolicy(ctx, "pol1")
	})
}

func testPolicyAttachments(h *harness) {
	zeta, alpha := newPolicy("p1", "zeta"), newPolicy("p2", "alpha")
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		for _, p := range []*keyward.Principal{newPrincipal("a", "ann"), newPrincipal("b", "ben")} {
			if err := tx.InsertPrincipal(ctx, p); err != nil {
				return err
			}
		}
		for _, p := range []*keyward.Policy{zeta, alpha} {
			if err := tx.InsertPolicy(ctx, p); err != nil {
				return err
			}
		}
		for _, a := range [][2]string{{"p1", "a"}, {"p2", "a"}, {"p1", "b"}} {
			if err := tx.AttachPolicy(ctx, a[0], a[1]); err != nil {
				return err
			}
		}
		return nil
	})
	h.expect(keyward.ECONFLICT, "AttachPolicy(attached)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.AttachPolicy(ctx, "p1", "a")
	})
	h.fails("AttachPolicy(missing policy)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.AttachPolicy(ctx, "nope", "a")
	})
	h.fails("AttachPolicy(missing principal)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.AttachPolicy(ctx, "p1", "nope")
	})

	check := func(what, principal string, wantPolicies []*keyward.Policy, count map[string]int) {
		h.t.Helper()
		h.read(func(ctx context.Context, tx keyward.Tx) error {
			got, err := tx.PoliciesOf(ctx, principal)
			if err != nil {
				return err
			}
			h.equal(what+": PoliciesOf("+principal+")", got, wantPolicies)
			p, err := tx.GetPrincipal(ctx, principal)
			if err != nil {
				return err
			}
			var wantIDs []string
			for _, pol := range wantPolicies {
				wantIDs = append(wantIDs, pol.ID)
			}
			h.equal(what+": GetPrincipal("+principal+").PolicyIDs", sorted(p.PolicyIDs), sorted(wantIDs))
			for policy, want := range count {
				n, err := tx.CountAttachments(ctx, policy)
				if err != nil {
					return err
				}
				h.equal(what+": CountAttachments("+policy+")", n, want)
			}
			return nil
		})
	}
	check("attached", "a", []*keyward.Policy{alpha, zeta}, map[string]int{"p1": 2, "p2": 1})

	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.DetachPolicy(ctx, "p1", "a") })
	h.expect(keyward.ENOTFOUND, "DetachPolicy(not attached)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.DetachPolicy(ctx, "p1", "a")
	})
	check("after DetachPolicy", "a", []*keyward.Policy{alpha}, map[string]int{"p1": 1, "p2": 1})

	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.DeletePrincipal(ctx, "b") })
	check("after DeletePrincipal(b)", "a", []*keyward.Policy{alpha}, map[string]int{"p1": 0})

	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.DeletePolicy(ctx, "p2") })
	check("after DeletePolicy(p2)", "a", nil, map[string]int{"p2": 0})
}

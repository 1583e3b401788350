package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward"
)

var keyTests = []test{
	{"InsertGet", testKeyInsertGet},
	{"AttackGatewayKeys", func(h *harness) { attackGatewayKeys(h.t, h.s) }},
	{"Update", testKeyUpdate},
	{"Credentials", testCredentials},
	{"UniqueValues", testUniqueValues},
	{"AttackUniqueValuesInBatches", func(h *harness) { attackUniqueValuesInBatches(h.t, h.s, 48) }},
	{"Rotation", testCredentialRotation},
	{"DeleteCascades", testKeyDeleteCascades},
	{"Pagination", testKeyPagination},
	{"Filters", testKeyFilters},
	{"EachGatewayKey", testEachGatewayKey},
	{"EachScheduledKey", testEachScheduledKey},
}

// testEachScheduledKey: the scheduler's read gives the keys with an
// expiry, a rotation policy, a credential in grace or a rotating plan, in
// ID order, filled as ListKeys fills them; no other key.
func testEachScheduledKey(h *harness) {
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		for _, p := range []string{"p1", "p2"} {
			if err := tx.InsertPlan(ctx, newPlan(p, "plan "+p)); err != nil {
				return err
			}
		}
		for _, id := range []string{"k6", "k5", "k4", "k3", "k2", "k1"} {
			k := newKey(id)
			k.ExpiresAt, k.Rotation = nil, nil
			switch id {
			case "k1":
				k.ExpiresAt = ptr(at(time.Hour))
			case "k2":
				k.Rotation = &keyward.RotationPolicy{Every: days(30)}
			}
			if err := tx.InsertKey(ctx, k); err != nil {
				return err
			}
			c := newCredential(id, keyward.LabelCurrent)
			if id == "k3" {
				c.GraceUntil = ptr(at(time.Hour))
			}
			if err := tx.InsertCredential(ctx, c); err != nil {
				return err
			}
			switch id {
			case "k4":
				if err := tx.AttachKey(ctx, "p1", id); err != nil {
					return err
				}
			case "k5":
				if err := tx.AttachKey(ctx, "p2", id); err != nil {
					return err
				}
			}
		}
		return nil
	})
	each := func(plans []string) []*keyward.APIKey {
		var got []*keyward.APIKey
		h.read(func(ctx context.Context, tx keyward.Tx) error {
			return tx.EachScheduledKey(ctx, plans, func(k *keyward.APIKey) error { got = append(got, k); return nil })
		})
		return got
	}
	ids := func(ks []*keyward.APIKey) string {
		var s []string
		for _, k := range ks {
			s = append(s, k.ID)
		}
		return strings.Join(s, " ")
	}
	if got := ids(each([]string{"p1"})); got != "k1 k2 k3 k4" {
		h.t.Errorf("with p1 rotating: %s, want k1 k2 k3 k4", got)
	}
	got := each(nil)
	if ids(got) != "k1 k2 k3" {
		h.t.Errorf("no rotating plan: %s, want k1 k2 k3", ids(got))
	}
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		for _, k := range got {
			want, err := tx.GetKey(ctx, k.ID)
			if err != nil {
				return err
			}
			h.equal("EachScheduledKey("+k.ID+")", k, want)
		}
		// GetKeys: the ones that exist, in ID order, as GetKey gives them.
		some, err := tx.GetKeys(ctx, []string{"k5", "nope", "k2"})
		if err != nil {
			return err
		}
		if ids(some) != "k2 k5" {
			h.t.Errorf("GetKeys: %s, want k2 k5", ids(some))
		}
		for _, k := range some {
			want, err := tx.GetKey(ctx, k.ID)
			if err != nil {
				return err
			}
			h.equal("GetKeys("+k.ID+")", k, want)
		}
		return nil
	})
}

// testEachGatewayKey: the gateway's streaming load gives every key, in ID
// order, with exactly the fields ListKeys gives for them that a gateway
// serves from: credentials (any number, none included) with their digests
// and grace, and plan attachments (any number, none included).
func testEachGatewayKey(h *harness) {
	ids := []string{"k3", "k1", "k5", "k2", "k4"}
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		for _, p := range []string{"p1", "p2"} {
			if err := tx.InsertPlan(ctx, newPlan(p, "plan "+p)); err != nil {
				return err
			}
		}
		for i, id := range ids {
			k := newKey(id)
			if i%2 == 1 {
				k.StageKeys, k.ExpiresAt, k.Scopes = nil, nil, keyward.Scopes{}
			}
			if err := tx.InsertKey(ctx, k); err != nil {
				return err
			}
			if id == "k4" {
				continue // no credential, no plan
			}
			if err := tx.InsertCredential(ctx, newCredential(id, keyward.LabelCurrent)); err != nil {
				return err
			}
			if id == "k1" || id == "k5" {
				prev := newCredential(id, keyward.LabelPrevious)
				prev.GraceUntil = ptr(at(time.Hour))
				if err := tx.InsertCredential(ctx, prev); err != nil {
					return err
				}
			}
			if err := tx.AttachKey(ctx, "p1", id); err != nil {
				return err
			}
			if id == "k2" || id == "k5" {
				if err := tx.AttachKey(ctx, "p2", id); err != nil {
					return err
				}
			}
		}
		return nil
	})
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		full, _, err := tx.ListKeys(ctx, keyward.KeyFilter{Page: keyward.Page{Limit: 100}})
		if err != nil {
			return err
		}
		var got []*keyward.APIKey
		if err := tx.EachGatewayKey(ctx, func(k *keyward.APIKey) error { got = append(got, k); return nil }); err != nil {
			return err
		}
		if len(got) != len(full) {
			h.t.Errorf("EachGatewayKey gave %d keys, ListKeys %d", len(got), len(full))
			return nil
		}
		for i, want := range full {
			// What the gateway does not need is not read.
			w := &keyward.APIKey{ID: want.ID, Enabled: want.Enabled, ExpiresAt: want.ExpiresAt, StageKeys: want.StageKeys,
				Scopes: want.Scopes, PlanIDs: want.PlanIDs}
			for _, c := range want.Credentials {
				w.Credentials = append(w.Credentials, keyward.Credential{KeyID: c.KeyID, Label: c.Label,
					GraceUntil: c.GraceUntil, Digest: c.Digest})
			}
			g := *got[i]
			sortCredentialsByLabel(g.Credentials)
			sortCredentialsByLabel(w.Credentials)
			h.equal(fmt.Sprintf("EachGatewayKey[%d]", i), &g, w)
		}
		stop := fmt.Errorf("stop")
		n := 0
		if err := tx.EachGatewayKey(ctx, func(*keyward.APIKey) error { n++; return stop }); err != stop || n != 1 {
			h.t.Errorf("an error from fn: %v after %d keys, want it returned after 1", err, n)
		}
		// GatewayKeys: the same keys, those asked for that exist, in ID order.
		last, first := got[len(got)-1], got[0]
		some, err := tx.GatewayKeys(ctx, []string{last.ID, "missing", first.ID, last.ID})
		if err != nil {
			return err
		}
		if len(some) != 2 {
			h.t.Fatalf("GatewayKeys(last, missing, first, last): %d keys, want 2", len(some))
		}
		for i, want := range []*keyward.APIKey{first, last} {
			g, w := *some[i], *want
			sortCredentialsByLabel(g.Credentials)
			sortCredentialsByLabel(w.Credentials)
			h.equal(fmt.Sprintf("GatewayKeys[%d]", i), &g, &w)
		}
		if none, err := tx.GatewayKeys(ctx, nil); err != nil || len(none) != 0 {
			h.t.Errorf("GatewayKeys(nil): %v, %v", none, err)
		}
		return nil
	})
}

// sortCredentialsByLabel orders credentials by label (unique within a
// key): the order within a key is not part of the contract.
func sortCredentialsByLabel(cs []keyward.Credential) {
	slices.SortFunc(cs, func(a, b keyward.Credential) int { return strings.Compare(string(a.Label), string(b.Label)) })
}

func testKeyInsertGet(h *harness) {
	k := newKey("k1")
	bare := &keyward.APIKey{ID: "k2", Name: "bare", Prefix: "kw", CreatedAt: t0, UpdatedAt: t0}
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertKey(ctx, k); err != nil {
			return err
		}
		return tx.InsertKey(ctx, bare)
	})
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, err := tx.GetKey(ctx, "k1")
		if err != nil {
			return err
		}
		h.equal("GetKey(k1)", got, k)
		got, err = tx.GetKey(ctx, "k2")
		if err != nil {
			return err
		}
		h.equal("GetKey(k2)", got, bare)
		return nil
	})
	dup := newKey("k1")
	dup.Name = "another"
	h.expect(keyward.ECONFLICT, "InsertKey(duplicate ID)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertKey(ctx, dup)
	})
	h.expect(keyward.ENOTFOUND, "GetKey(missing)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetKey(ctx, "nope")
		return err
	})
}

func testKeyUpdate(h *harness) {
	k := newKey("k1")
	c := newCredential("k1", keyward.LabelCurrent)
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertKey(ctx, k); err != nil {
			return err
		}
		return tx.InsertCredential(ctx, c)
	})

	u := *k
	u.Name = "renamed"
	u.Description = ""
	u.CustomerID = "customer-2"
	u.Enabled = false
	u.Prefix = "sk"
	u.ExpiresAt = nil
	u.StageKeys = []keyward.StageKey{{APIID: "api-3", Stage: "staging"}}
	u.Scopes = keyward.Scopes{Models: []string{"mistral-*"}}
	u.Tags = map[string]string{"owner": "me"}
	u.Recoverable = false
	u.Imported = true
	u.ValueSecret = ""
	u.Rotation = &keyward.RotationPolicy{Every: days(7)}
	u.UpdatedAt = at(time.Hour).In(paris)
	u.CreatedAt = at(99 * time.Hour) // not mutable: ignored
	u.Credentials = nil              // not stored by UpdateKey
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.UpdateKey(ctx, &u) })

	want := u
	want.CreatedAt = k.CreatedAt
	want.Credentials = []keyward.Credential{*c}
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, err := tx.GetKey(ctx, "k1")
		if err != nil {
			return err
		}
		h.equal("GetKey after UpdateKey", got, &want)
		return nil
	})

	// A policy taken off comes back as none.
	u.Rotation = nil
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.UpdateKey(ctx, &u) })
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, err := tx.GetKey(ctx, "k1")
		if err != nil {
			return err
		}
		h.equal("GetKey after UpdateKey(no rotation)", got.Rotation, (*keyward.RotationPolicy)(nil))
		return nil
	})
	h.expect(keyward.ENOTFOUND, "UpdateKey(missing)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.UpdateKey(ctx, newKey("nope"))
	})
}

func testCredentials(h *harness) {
	cur := newCredential("k1", keyward.LabelCurrent)
	pending := newCredential("k1", keyward.LabelPending)
	pending.SealedValue = nil
	pending.GraceUntil = ptr(at(time.Hour).In(paris))
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		for _, id := range []string{"k1", "k2"} {
			if err := tx.InsertKey(ctx, newKey(id)); err != nil {
				return err
			}
		}
		if err := tx.InsertCredential(ctx, cur); err != nil {
			return err
		}
		return tx.InsertCredential(ctx, pending)
	})
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, err := tx.GetKey(ctx, "k1")
		if err != nil {
			return err
		}
		h.equal("GetKey(k1).Credentials", got.Credentials, []keyward.Credential{*cur, *pending})
		found, err := tx.FindCredential(ctx, cur.Digest)
		if err != nil {
			return err
		}
		h.equal("FindCredential", found, cur)
		return nil
	})

	sameLabel := newCredential("k1", keyward.LabelCurrent)
	sameLabel.ID, sameLabel.Digest = "other", digest("other")
	h.expect(keyward.ECONFLICT, "InsertCredential(label taken on the key)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertCredential(ctx, sameLabel)
	})
	sameDigest := newCredential("k2", keyward.LabelCurrent)
	sameDigest.Digest = cur.Digest
	h.expect(keyward.ECONFLICT, "InsertCredential(digest used by another key)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertCredential(ctx, sameDigest)
	})
	h.expect("", "InsertCredential(same label, other key)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertCredential(ctx, newCredential("k2", keyward.LabelCurrent))
	})
	h.fails("InsertCredential(missing key)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertCredential(ctx, newCredential("nope", keyward.LabelCurrent))
	})
	h.expect(keyward.ENOTFOUND, "FindCredential(unknown digest)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.FindCredential(ctx, digest("unknown"))
		return err
	})
}

// testCredentialRotation walks a rotation: PENDING becomes CURRENT, CURRENT
// becomes PREVIOUS with a grace period, then PREVIOUS goes.
func testCredentialRotation(h *harness) {
	cur := newCredential("k1", keyward.LabelCurrent)
	next := newCredential("k1", keyward.LabelPending)
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertKey(ctx, newKey("k1")); err != nil {
			return err
		}
		if err := tx.InsertCredential(ctx, cur); err != nil {
			return err
		}
		return tx.InsertCredential(ctx, next)
	})

	early := *next
	early.Label = keyward.LabelCurrent
	h.expect(keyward.ECONFLICT, "UpdateCredential(label taken)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.UpdateCredential(ctx, &early)
	})

	old, now := *cur, *next
	old.Label, old.GraceUntil = keyward.LabelPrevious, ptr(at(24*time.Hour))
	now.Label = keyward.LabelCurrent
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.UpdateCredential(ctx, &old); err != nil {
			return err
		}
		return tx.UpdateCredential(ctx, &now)
	})
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, err := tx.GetKey(ctx, "k1")
		if err != nil {
			return err
		}
		labels := map[string]keyward.Credential{}
		for _, c := range got.Credentials {
			labels[c.ID] = c
		}
		h.equal("credentials after rotation", labels, map[string]keyward.Credential{old.ID: old, now.ID: now})
		return nil
	})

	// Only Label and GraceUntil are stored.
	changed := old
	changed.GraceUntil = nil
	changed.Hint = "changed"
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.UpdateCredential(ctx, &changed) })
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, err := tx.FindCredential(ctx, old.Digest)
		if err != nil {
			return err
		}
		want := old
		want.GraceUntil = nil
		h.equal("credential after UpdateCredential", got, &want)
		return nil
	})

	h.expect(keyward.ENOTFOUND, "UpdateCredential(missing)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.UpdateCredential(ctx, newCredential("k1", "NOPE"))
	})
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.DeleteCredential(ctx, old.ID) })
	h.expect(keyward.ENOTFOUND, "DeleteCredential(deleted)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.DeleteCredential(ctx, old.ID)
	})
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, err := tx.GetKey(ctx, "k1")
		if err != nil {
			return err
		}
		h.equal("credentials after delete", got.Credentials, []keyward.Credential{now})
		return nil
	})
}

func testKeyDeleteCascades(h *harness) {
	c1, c2 := newCredential("k1", keyward.LabelCurrent), newCredential("k1", keyward.LabelPrevious)
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		for _, id := range []string{"k1", "k2"} {
			if err := tx.InsertKey(ctx, newKey(id)); err != nil {
				return err
			}
		}
		for _, c := range []*keyward.Credential{c1, c2} {
			if err := tx.InsertCredential(ctx, c); err != nil {
				return err
			}
		}
		for _, p := range []string{"p1", "p2"} {
			if err := tx.InsertPlan(ctx, newPlan(p, "plan "+p)); err != nil {
				return err
			}
			for _, k := range []string{"k1", "k2"} {
				if err := tx.AttachKey(ctx, p, k); err != nil {
					return err
				}
			}
		}
		return nil
	})
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.DeleteKey(ctx, "k1") })

	h.expect(keyward.ENOTFOUND, "GetKey(deleted)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetKey(ctx, "k1")
		return err
	})
	h.expect(keyward.ENOTFOUND, "DeleteKey(deleted)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.DeleteKey(ctx, "k1")
	})
	for _, c := range []*keyward.Credential{c1, c2} {
		h.expect(keyward.ENOTFOUND, "FindCredential(credential of a deleted key)", func(ctx context.Context, tx keyward.Tx) error {
			_, err := tx.FindCredential(ctx, c.Digest)
			return err
		})
	}
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		for _, p := range []string{"p1", "p2"} {
			ids, _, err := tx.ListPlanKeyIDs(ctx, p, keyward.Page{})
			if err != nil {
				return err
			}
			h.equal("ListPlanKeyIDs("+p+") after DeleteKey(k1)", ids, []string{"k2"})
		}
		return nil
	})
	// Nothing of k1 is left to conflict with.
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertKey(ctx, newKey("k1")); err != nil {
			return err
		}
		if err := tx.InsertCredential(ctx, c1); err != nil {
			return err
		}
		return tx.AttachKey(ctx, "p1", "k1")
	})
}

func testKeyPagination(h *harness) {
	const n = 60
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("key-%03d", i))
	}
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertPlan(ctx, newPlan("p1", "plan")); err != nil {
			return err
		}
		for _, i := range rand.Perm(n) { // insertion order is not list order
			if err := tx.InsertKey(ctx, newKey(want[i])); err != nil {
				return err
			}
			if err := tx.InsertCredential(ctx, newCredential(want[i], keyward.LabelCurrent)); err != nil {
				return err
			}
			if i%2 == 0 {
				if err := tx.AttachKey(ctx, "p1", want[i]); err != nil {
					return err
				}
			}
		}
		return nil
	})

	var seen []string
	var sizes []int
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		pos := ""
		for range n {
			keys, next, err := tx.ListKeys(ctx, keyward.KeyFilter{Page: keyward.Page{Limit: 25, Position: pos}})
			if err != nil {
				return err
			}
			sizes = append(sizes, len(keys))
			for _, k := range keys {
				seen = append(seen, k.ID)
				if len(k.Credentials) != 1 || k.Credentials[0].Label != keyward.LabelCurrent {
					h.t.Errorf("ListKeys: key %s has credentials %+v, want its CURRENT one", k.ID, k.Credentials)
				}
				var wantPlans []string
				if k.ID[len(k.ID)-1]%2 == 0 {
					wantPlans = []string{"p1"}
				}
				h.equal("ListKeys: PlanIDs of "+k.ID, k.PlanIDs, wantPlans)
				h.equal("ListKeys: Rotation of "+k.ID, k.Rotation, newKey(k.ID).Rotation)
			}
			if next == "" {
				break
			}
			pos = next
		}
		return nil
	})
	h.equal("page sizes", sizes, []int{25, 25, 10})
	h.equal("keys seen over all pages", seen, want)

	h.read(func(ctx context.Context, tx keyward.Tx) error {
		keys, next, err := tx.ListKeys(ctx, keyward.KeyFilter{})
		if err != nil {
			return err
		}
		if len(keys) != 25 || next == "" {
			h.t.Errorf("ListKeys(default page): %d keys, next %q; want 25 and a next page", len(keys), next)
		}
		return nil
	})
}

func testKeyFilters(h *harness) {
	keys := []struct {
		id, name, customer string
		plan               bool
	}{
		{"k1", "alpha one", "acme", true},
		{"k2", "alpha two", "acme", false},
		{"k3", "beta", "acme", true},
		{"k4", "alpha three", "initech", true},
		{"k5", "alpha_four", "initech", false},
		{"k6", "alphabet", "initech", true},
		{"k7", "Alpha upper", "acme", true},
		{"k8", "alpha one", "initech", false}, // names need not be unique
	}
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertPlan(ctx, newPlan("p1", "plan")); err != nil {
			return err
		}
		for _, k := range keys {
			key := newKey(k.id)
			key.Name, key.CustomerID = k.name, k.customer
			if k.id == "k3" || k.id == "k6" {
				key.ValueSecret = "value/" + k.id
			}
			if err := tx.InsertKey(ctx, key); err != nil {
				return err
			}
			if k.plan {
				if err := tx.AttachKey(ctx, "p1", k.id); err != nil {
					return err
				}
			}
		}
		return nil
	})
	for _, tc := range []struct {
		f    keyward.KeyFilter
		want []string
	}{
		{keyward.KeyFilter{NamePrefix: "alpha "}, []string{"k1", "k2", "k4", "k8"}},
		{keyward.KeyFilter{NamePrefix: "alpha_"}, []string{"k5"}}, // "_" is not a wildcard
		{keyward.KeyFilter{Name: "alpha"}, nil},                   // exact, not a prefix
		{keyward.KeyFilter{Name: "alpha two"}, []string{"k2"}},
		{keyward.KeyFilter{Name: "alpha one", Page: keyward.Page{Limit: 1}}, []string{"k1", "k8"}},
		{keyward.KeyFilter{Name: "alpha one", CustomerID: "initech"}, []string{"k8"}},
		{keyward.KeyFilter{Name: "alpha%"}, nil}, // "%" is not a wildcard
		{keyward.KeyFilter{CustomerID: "acme"}, []string{"k1", "k2", "k3", "k7"}},
		{keyward.KeyFilter{PlanID: "p1"}, []string{"k1", "k3", "k4", "k6", "k7"}},
		{keyward.KeyFilter{PlanID: "p1", CustomerID: "initech"}, []string{"k4", "k6"}},
		{keyward.KeyFilter{PlanID: "p1", CustomerID: "acme", NamePrefix: "alpha"}, []string{"k1"}},
		{keyward.KeyFilter{PlanID: "nope"}, nil},
		{keyward.KeyFilter{ValueSecret: "value/k6"}, []string{"k6"}},
		{keyward.KeyFilter{ValueSecret: "value/k6", PlanID: "p1"}, []string{"k6"}},
		{keyward.KeyFilter{ValueSecret: "value/k"}, nil}, // exact, not a prefix
		{keyward.KeyFilter{ValueSecret: "value/k3", CustomerID: "initech"}, nil},
		{keyward.KeyFilter{CustomerID: "acme", Page: keyward.Page{Limit: 3}}, []string{"k1", "k2", "k3", "k7"}},
		{keyward.KeyFilter{PlanID: "p1", Page: keyward.Page{Limit: 1}}, []string{"k1", "k3", "k4", "k6", "k7"}},
	} {
		var got []string
		h.read(func(ctx context.Context, tx keyward.Tx) error {
			f := tc.f
			for {
				page, next, err := tx.ListKeys(ctx, f)
				if err != nil {
					return err
				}
				for _, k := range page {
					got = append(got, k.ID)
				}
				if next == "" {
					return nil
				}
				f.Position = next
			}
		})
		h.equal(fmt.Sprintf("ListKeys(%+v)", tc.f), got, tc.want)
	}
}

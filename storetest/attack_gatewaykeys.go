package storetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// attackGatewayKeys: GatewayKeys returns exactly what EachGatewayKey gives
// for the IDs asked that exist, in ID order, whatever the IDs hold and
// however many are asked (duplicates included).
func attackGatewayKeys(t *testing.T, s keyward.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	odd := []string{`key_'q"uote`, "key_ünïcødé", `key_back\slash`, "key_<>&", "key_空白 tab\t", "key_%_like", "key_emoji😀", "key_]}"}
	var ids []string
	ids = append(ids, odd...)
	for i := range 1300 {
		ids = append(ids, fmt.Sprintf("key_n%05d", i))
	}
	err := s.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
		for _, p := range []string{"p1", "p2", "p3"} {
			if err := tx.InsertPlan(ctx, &keyward.UsagePlan{ID: p, Name: "plan " + p, CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
		}
		for i, id := range ids {
			k := &keyward.APIKey{ID: id, Name: "n" + id, Enabled: i%3 != 0, CreatedAt: now, UpdatedAt: now,
				StageKeys: []keyward.StageKey{{APIID: "a", Stage: fmt.Sprint("s", i%4)}},
				Scopes:    keyward.Scopes{Models: []string{fmt.Sprint("m", i%5)}}}
			if i%7 == 0 {
				k.StageKeys = nil
				k.Scopes = keyward.Scopes{}
			}
			if i%2 == 0 {
				exp := now.Add(time.Duration(i) * time.Hour)
				k.ExpiresAt = &exp
			}
			if err := tx.InsertKey(ctx, k); err != nil {
				return err
			}
			labels := []keyward.CredentialLabel{keyward.LabelCurrent}
			if i%2 == 1 {
				labels = append(labels, keyward.LabelPrevious, keyward.LabelPending)
			}
			for _, l := range labels {
				d := sha256.Sum256([]byte(id + string(l)))
				c := &keyward.Credential{ID: fmt.Sprintf("cred_%d_%s", i, l), KeyID: id, Label: l, Hint: "h", CreatedAt: now, Digest: d[:]}
				if l == keyward.LabelPrevious {
					g := now.Add(time.Hour)
					c.GraceUntil = &g
				}
				if err := tx.InsertCredential(ctx, c); err != nil {
					return err
				}
			}
			for j, p := range []string{"p1", "p2", "p3"} {
				if (i+j)%2 == 0 {
					if err := tx.AttachKey(ctx, p, id); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	norm := func(k *keyward.APIKey) keyward.APIKey {
		c := *k
		c.Credentials = append([]keyward.Credential(nil), k.Credentials...)
		sort.Slice(c.Credentials, func(i, j int) bool { return c.Credentials[i].Label < c.Credentials[j].Label })
		c.PlanIDs = append([]string(nil), k.PlanIDs...)
		sort.Strings(c.PlanIDs)
		return c
	}
	err = s.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		all := map[string]*keyward.APIKey{}
		if err := tx.EachGatewayKey(ctx, func(k *keyward.APIKey) error { all[k.ID] = k; return nil }); err != nil {
			return err
		}
		if len(all) != len(ids) {
			t.Errorf("EachGatewayKey gave %d keys, want %d", len(all), len(ids))
		}
		r := rand.New(rand.NewPCG(1, 2))
		for _, tc := range []struct {
			name string
			ask  []string
		}{
			{"odd", odd},
			{"all shuffled with dups and missing", func() []string {
				a := append([]string(nil), ids...)
				a = append(a, ids[:50]...)
				a = append(a, "missing", "", `"`, "key_n99999")
				r.Shuffle(len(a), func(i, j int) { a[i], a[j] = a[j], a[i] })
				return a
			}()},
			{"one", []string{ids[3]}},
		} {
			got, err := tx.GatewayKeys(ctx, tc.ask)
			if err != nil {
				return err
			}
			want := map[string]bool{}
			for _, id := range tc.ask {
				if all[id] != nil {
					want[id] = true
				}
			}
			var wantIDs []string
			for id := range want {
				wantIDs = append(wantIDs, id)
			}
			sort.Strings(wantIDs)
			if len(got) != len(wantIDs) {
				t.Errorf("%s: %d keys, want %d", tc.name, len(got), len(wantIDs))
				continue
			}
			for i, k := range got {
				if k.ID != wantIDs[i] {
					t.Errorf("%s: [%d] is %q, want %q (ID order)", tc.name, i, k.ID, wantIDs[i])
					break
				}
				g, w := norm(k), norm(all[k.ID])
				if !reflect.DeepEqual(g, w) {
					t.Errorf("%s: key %q:\n got %+v\nwant %+v", tc.name, k.ID, g, w)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

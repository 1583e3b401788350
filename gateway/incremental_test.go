package gateway

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/changefeed"
	"github.com/keyward/keyward/keyvalue"
)

// manyKeysGateway is a gateway over n keys on one API stage and plan; it
// returns the value of key_0.
func manyKeysGateway(tb testing.TB, n int, feed keyward.ChangeFeed) (*Gateway, *fakeSource, string) {
	tb.Helper()
	hasher := testHasher(tb)
	snap := &keyward.DataPlaneSnapshot{
		APIs: []*keyward.API{{ID: "api_1", Name: "chat", OpenAICompatible: true,
			Stages: []keyward.Stage{{Name: "prod", UpstreamURL: "http://127.0.0.1:9"}}}},
		Plans: []*keyward.UsagePlan{{ID: "plan_1", Name: "p", Throttle: &keyward.Throttle{RateLimit: 10, BurstLimit: 10},
			APIStages: []keyward.PlanStage{{APIID: "api_1", Stage: "prod"}}}},
	}
	var first string
	for i := range n {
		id := fmt.Sprintf("key_%d", i)
		value, cred := currentValue(tb, hasher, id, "cred_"+id)
		if i == 0 {
			first = value
		}
		snap.Keys = append(snap.Keys, &keyward.APIKey{ID: id, Enabled: true, PlanIDs: []string{"plan_1"},
			Credentials: []keyward.Credential{cred}})
	}
	src := &fakeSource{snap: snap}
	g, err := New(context.Background(), Config{Source: src, Changes: feed, Hasher: hasher})
	if err != nil {
		tb.Fatal(err)
	}
	return g, src, first
}

// enabled reports how the current table answers value: found and enabled.
func enabled(g *Gateway, value string) (found, on bool) {
	d, res := g.cfg.Hasher.Screen(value)
	var v keyView
	if res != keyvalue.OK || !g.keys.lookup(&d, &v) {
		return false, false
	}
	return true, v.enabled
}

// TestKeyChangeCostDoesNotGrowWithKeys: applying one key's change touches
// that key's index entries only, and allocates the same at 5,000 keys as
// at 50,000 (a rebuild would allocate ten times more at the larger size).
func TestKeyChangeCostDoesNotGrowWithKeys(t *testing.T) {
	ctx := context.Background()
	allocs := map[int]float64{}
	for _, n := range []int{5_000, 50_000} {
		g, src, value := manyKeysGateway(t, n, &changefeed.Local{})
		before := g.table.Load()
		k := src.snap.Keys[0]
		i := 0
		allocs[n] = testing.AllocsPerRun(50, func() {
			i++
			k.Enabled = i%2 == 0 // disable, enable, ...
			if err := g.applyKeys(ctx, []string{k.ID}); err != nil {
				t.Fatal(err)
			}
		})
		if g.table.Load() != before {
			t.Fatal("a key change rebuilt the table")
		}
		if keys, creds := g.keys.len(); keys != n || creds != n {
			t.Fatalf("the key table holds %d keys and %d credentials, want %d", keys, creds, n)
		}
		k.Enabled = false
		if err := g.applyKeys(ctx, []string{k.ID}); err != nil {
			t.Fatal(err)
		}
		if found, on := enabled(g, value); !found || on {
			t.Fatalf("after disable: found %v enabled %v", found, on)
		}
	}
	if allocs[5_000] != allocs[50_000] {
		t.Errorf("one key change allocates %v at 5,000 keys and %v at 50,000", allocs[5_000], allocs[50_000])
	}
	t.Logf("allocations per key change: %v", allocs[5_000])
}

// TestKeyChangesThroughTheFeed: a rotation (new credential, old one kept
// in grace), a disable and a deletion announced on the change feed are
// enforced without a full reload; a plan change still reloads everything.
func TestKeyChangesThroughTheFeed(t *testing.T) {
	ctx := context.Background()
	feed := &changefeed.Local{}
	g, src, value := manyKeysGateway(t, 100, feed)
	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	go g.background(stop)
	table := g.table.Load()
	k := src.snap.Keys[0]

	// Rotation: a new CURRENT value; the old one PREVIOUS until its grace.
	newValue, newCred := currentValue(t, g.cfg.Hasher, k.ID, "cred_new")
	grace := time.Now().Add(time.Hour)
	k.Credentials[0].Label, k.Credentials[0].GraceUntil = keyward.LabelPrevious, &grace
	k.Credentials = append(k.Credentials, newCred)
	feed.Publish(ctx, keyward.Change{Kind: keyward.ChangeKey, ID: k.ID})
	eventuallyTrue(t, "the rotated value is accepted", func() bool { found, _ := enabled(g, newValue); return found })
	if found, _ := enabled(g, value); !found {
		t.Fatal("the previous value was dropped during its grace")
	}

	// Disable, then delete.
	k.Enabled = false
	feed.Publish(ctx, keyward.Change{Kind: keyward.ChangeKey, ID: k.ID})
	eventuallyTrue(t, "the disable is enforced", func() bool { _, on := enabled(g, newValue); return !on })
	src.snap.Keys = src.snap.Keys[1:]
	feed.Publish(ctx, keyward.Change{Kind: keyward.ChangeKey, ID: k.ID})
	eventuallyTrue(t, "the deleted key is gone", func() bool {
		f1, _ := enabled(g, newValue)
		f2, _ := enabled(g, value)
		return !f1 && !f2
	})
	if g.table.Load() != table {
		t.Fatal("key changes rebuilt the table")
	}
	if g.keys.has(k.ID) {
		t.Fatal("the deleted key is still listed")
	}

	// A change to a plan rebuilds.
	feed.Publish(ctx, keyward.Change{Kind: keyward.ChangePlan, ID: "plan_1"})
	eventuallyTrue(t, "a plan change rebuilds the table", func() bool { return g.table.Load() != table })
}

// TestBulkChangesAreAppliedKeyByKey: a bulk import announces a batch of
// a thousand keys every 50 ms; a gateway a few batches behind applies them
// key by key, however many, until reading them costs more than reading
// every key (a quarter of the table). With a fixed bound of 5,000 it
// reloaded everything instead, fell further behind meanwhile, and reloaded
// again, seven times in one import of a million keys.
func TestBulkChangesAreAppliedKeyByKey(t *testing.T) {
	ctx := context.Background()
	g, src, first := manyKeysGateway(t, 50_000, &changefeed.Local{})
	table := g.table.Load()
	g.applyChanges(ctx, disableNotices(src, 0, 12_000)) // more than 5,000, less than a quarter
	if g.table.Load() != table {
		t.Fatal("12,000 changed keys of 50,000 made a full reload")
	}
	if _, on := enabled(g, first); on {
		t.Fatal("a disabled key of the batch is still enabled")
	}
	for i, k := range src.snap.Keys[11_990:12_010] { // either side of the batch's end
		if want := 11_990+i >= 12_000; keyEnabled(t, g, k) != want {
			t.Errorf("key %s enabled %t, want %t", k.ID, !want, want)
		}
	}
	g.applyChanges(ctx, disableNotices(src, 12_000, 25_000)) // past a quarter: one read of everything is cheaper
	if g.table.Load() == table {
		t.Fatal("13,000 changed keys of 50,000 were applied key by key; a full reload is cheaper")
	}
}

func eventuallyTrue(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within 10 s", what)
}

// BenchmarkKeyChange is one disable applied at 50,000 keys, against a
// full reload of the same table.
func BenchmarkKeyChange(b *testing.B) {
	g, src, _ := manyKeysGateway(b, 50_000, &changefeed.Local{})
	k := src.snap.Keys[0]
	ctx := context.Background()
	b.Run("incremental", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			k.Enabled = i%2 == 0
			if err := g.applyKeys(ctx, []string{k.ID}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("full-reload", func(b *testing.B) {
		for b.Loop() {
			if err := g.reload(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestKeyNamingAnUnknownPlanIsNotAdmittedWithoutItsLimits: on a cluster,
// a key created on one node just after its plan was created on another
// can be announced here before the plan. Applied against this table, the
// key would call its stage with no limits at all (as the review found: a
// 100/DAY plan admitted 105 over three nodes). The gateway reloads instead,
// and the key carries the plan's quota from its first request.
func TestKeyNamingAnUnknownPlanIsNotAdmittedWithoutItsLimits(t *testing.T) {
	ctx := context.Background()
	feed := &changefeed.Local{}
	g, src, _ := manyKeysGateway(t, 1, feed)
	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	go g.background(stop)

	// The plan and the key are both in the store; only the key's notice
	// has arrived.
	src.snap.Plans = append(src.snap.Plans, &keyward.UsagePlan{ID: "plan_quota", Name: "q",
		Quota:     &keyward.Quota{Limit: 1, Period: keyward.PeriodDay},
		APIStages: []keyward.PlanStage{{APIID: "api_1", Stage: "prod"}}})
	value, cred := currentValue(t, g.cfg.Hasher, "key_new", "cred_new")
	src.snap.Keys = append(src.snap.Keys, &keyward.APIKey{ID: "key_new", Enabled: true, PlanIDs: []string{"plan_quota"},
		StageKeys:   []keyward.StageKey{{APIID: "api_1", Stage: "prod"}},
		Credentials: []keyward.Credential{cred}})
	feed.Publish(ctx, keyward.Change{Kind: keyward.ChangeKey, ID: "key_new"})
	eventuallyTrue(t, "the new key is known", func() bool { found, _ := enabled(g, value); return found })

	var v keyView
	dg, _ := g.cfg.Hasher.Screen(value)
	if !g.keys.lookup(&dg, &v) {
		t.Fatal("the key is gone")
	}
	tbl := g.table.Load()
	stages := tbl.access[v.access]
	if len(stages) != 1 {
		t.Fatalf("the key may call %d stages, want 1", len(stages))
	}
	for se, ks := range stages {
		if len(ks.plans) != 1 || ks.plans[0].quota == nil || ks.plans[0].quota.Limit != 1 {
			t.Fatalf("on %s the key carries %d plan rules, want the 1/DAY quota of plan_quota", se.ref, len(ks.plans))
		}
	}
}

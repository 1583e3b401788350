package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/changefeed"
)

// scriptedSource is fakeSource whose full load can fail after streaming
// every key, or park after streaming them until released.
type scriptedSource struct {
	fakeSource
	mu       sync.Mutex
	failLoad bool
	park     chan struct{} // non-nil: the load waits on it after the keys
	parked   chan struct{}
}

func (s *scriptedSource) LoadDataPlane(ctx context.Context, begin func(*keyward.DataPlaneSnapshot) (func(*keyward.APIKey) error, error)) error {
	s.mu.Lock()
	fail, park, parked := s.failLoad, s.park, s.parked
	s.mu.Unlock()
	head := *s.snap
	head.Keys = nil
	each, err := begin(&head)
	if err != nil {
		return err
	}
	for _, k := range s.snap.Keys {
		if err := each(k); err != nil {
			return err
		}
	}
	if park != nil {
		close(parked)
		<-park
	}
	if fail {
		return errors.New("connection to the store lost after the keys were read")
	}
	return nil
}

// planLimitsGateway: a gateway with api_1/prod, plan_1 and key_0; the
// store (only) also holds plan_quota (1 request a day on api_1/prod) and
// key_new on stage api_1/prod directly and on plan_quota.
func planLimitsGateway(t *testing.T, fillers int) (*Gateway, *scriptedSource, string) {
	t.Helper()
	g0, src0, _ := manyKeysGateway(t, 1, &changefeed.Local{})
	_ = g0
	src := &scriptedSource{fakeSource: fakeSource{snap: src0.snap}}
	g, err := New(context.Background(), Config{Source: src, Changes: &changefeed.Local{}, Hasher: g0.cfg.Hasher})
	if err != nil {
		t.Fatal(err)
	}
	// Now the cluster: plan_quota and key_new are committed on another node.
	snap := *src.snap
	snap.Plans = append(append([]*keyward.UsagePlan(nil), snap.Plans...), &keyward.UsagePlan{ID: "plan_quota", Name: "q",
		Quota:     &keyward.Quota{Limit: 1, Period: keyward.PeriodDay},
		APIStages: []keyward.PlanStage{{APIID: "api_1", Stage: "prod"}}})
	value, cred := currentValue(t, g.cfg.Hasher, "key_new", "cred_new")
	keys := []*keyward.APIKey{{ID: "key_new", Enabled: true, PlanIDs: []string{"plan_quota"},
		StageKeys:   []keyward.StageKey{{APIID: "api_1", Stage: "prod"}},
		Credentials: []keyward.Credential{cred}}}
	keys = append(keys, snap.Keys...)
	for i := range fillers {
		id := fmt.Sprintf("key_fill_%d", i)
		_, fc := currentValue(t, g.cfg.Hasher, id, "cred_"+id)
		keys = append(keys, &keyward.APIKey{ID: id, Enabled: true, PlanIDs: []string{"plan_1"},
			Credentials: []keyward.Credential{fc}})
	}
	snap.Keys = keys
	src.snap = &snap
	return g, src, value
}

// unlimitedStages returns, for the key with this value as the published
// table resolves it now, how many stages it may call without the 1/DAY
// quota of plan_quota; found is false when the key is not admitted at all.
func unlimitedStages(g *Gateway, value string) (found bool, unlimited int) {
	dg, _ := g.cfg.Hasher.Screen(value)
	var v keyView
	if !g.keys.lookup(&dg, &v) {
		return false, 0
	}
	tbl := g.table.Load()
	if int(v.access) >= len(tbl.access) {
		return true, 0
	}
	for _, ks := range tbl.access[v.access] {
		ok := false
		for _, r := range ks.plans {
			if r.quota != nil && r.quota.Limit == 1 {
				ok = true
			}
		}
		if !ok {
			unlimited++
		}
	}
	return true, unlimited
}

// The full reload that errPlanNotYetKnown asks for fails after the store
// has streamed its keys (a dropped connection, a cancelled context). The
// key must not be left admitted without its plan's limits.
func TestAttackFailedReloadDoesNotAdmitKeyWithoutPlan(t *testing.T) {
	g, src, value := planLimitsGateway(t, 0)
	src.failLoad = true
	g.applyChanges(context.Background(), []keyward.Change{{Kind: keyward.ChangeKey, ID: "key_new"}})
	if found, n := unlimitedStages(g, value); found && n > 0 {
		t.Fatalf("after a failed reload key_new is admitted on %d stage(s) without plan_quota's limits", n)
	}
}

// During a successful full reload, keys stream into the live key table
// before the new table (with the new plan) is published. A key on a plan
// the published table lacks must not be admitted in that window without
// the plan's limits.
func TestAttackReloadWindowDoesNotAdmitKeyWithoutPlan(t *testing.T) {
	g, src, value := planLimitsGateway(t, 2*fillBatch)
	src.park, src.parked = make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.applyChanges(context.Background(), []keyward.Change{{Kind: keyward.ChangeKey, ID: "key_new"}})
	}()
	select {
	case <-src.parked:
	case <-time.After(5 * time.Second):
		t.Fatal("the reload never reached the store")
	}
	time.Sleep(100 * time.Millisecond) // let the filler index the batches handed to it
	found, n := unlimitedStages(g, value)
	close(src.park)
	<-done
	if found && n > 0 {
		t.Fatalf("while the reload was under way key_new was admitted on %d stage(s) without plan_quota's limits", n)
	}
	if found, n := unlimitedStages(g, value); !found || n > 0 {
		t.Fatalf("after the reload: found=%v, stages without the plan's limits=%d", found, n)
	}
}

// A batch mixing a key notice (naming the unknown plan) with other kinds,
// in either order, and a key attached to a second, unknown plan: the key
// always ends up with the plan's limits.
func TestAttackMixedBatchesKeepPlanLimits(t *testing.T) {
	batches := map[string][]keyward.Change{
		"key then plan":   {{Kind: keyward.ChangeKey, ID: "key_new"}, {Kind: keyward.ChangePlan, ID: "plan_quota"}},
		"plan then key":   {{Kind: keyward.ChangePlan, ID: "plan_quota"}, {Kind: keyward.ChangeKey, ID: "key_new"}},
		"access then key": {{Kind: keyward.ChangeAccess}, {Kind: keyward.ChangeKey, IDs: []string{"key_0", "key_new"}}},
	}
	for name, batch := range batches {
		t.Run(name, func(t *testing.T) {
			g, _, value := planLimitsGateway(t, 0)
			g.applyChanges(context.Background(), batch)
			if found, n := unlimitedStages(g, value); !found || n > 0 {
				t.Fatalf("found=%v, stages without plan_quota's limits=%d", found, n)
			}
		})
	}
	t.Run("second plan", func(t *testing.T) {
		g, src, value := planLimitsGateway(t, 0)
		// key_new first known on plan_1 only...
		k := *src.snap.Keys[0]
		k.PlanIDs = []string{"plan_1"}
		plans := src.snap.Plans
		snapNoQ := *src.snap
		snapNoQ.Plans = plans[:len(plans)-1]
		snapNoQ.Keys = append([]*keyward.APIKey{&k}, src.snap.Keys[1:]...)
		full := src.snap
		src.snap = &snapNoQ
		if err := g.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		src.snap = full // ...then attached to plan_quota on another node
		g.applyChanges(context.Background(), []keyward.Change{{Kind: keyward.ChangeKey, ID: "key_new"}})
		if found, n := unlimitedStages(g, value); !found || n > 0 {
			t.Fatalf("found=%v, stages without plan_quota's limits=%d", found, n)
		}
	})
}

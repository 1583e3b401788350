package gateway

// Adversarial review of the bulk-change path (applyChanges applying up to
// a quarter of the table key by key, in reads of maxKeyUpdates, and the
// 1,024-notice feed buffer): a disable the gateway is told about must be
// enforced whatever happens between the reads.

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/changefeed"
	"github.com/keyward/keyward/keyvalue"
)

// indexedSource answers DataPlaneKeys from an index (fakeSource's scan is
// quadratic at these sizes), and fails the read numbered failOn (1-based;
// 0: never).
type indexedSource struct {
	*fakeSource
	reads  atomic.Int32
	failOn int32
	loads  atomic.Int32
}

func (s *indexedSource) DataPlaneKeys(_ context.Context, ids []string) ([]*keyward.APIKey, error) {
	if n := s.reads.Add(1); n == s.failOn {
		return nil, errors.New("read failed")
	}
	by := make(map[string]*keyward.APIKey, len(s.snap.Keys))
	for _, k := range s.snap.Keys {
		by[k.ID] = k
	}
	var out []*keyward.APIKey
	for _, id := range ids {
		if k, ok := by[id]; ok {
			out = append(out, k)
		}
	}
	return out, nil
}

func (s *indexedSource) LoadDataPlane(ctx context.Context, begin func(*keyward.DataPlaneSnapshot) (func(*keyward.APIKey) error, error)) error {
	s.loads.Add(1)
	return s.fakeSource.LoadDataPlane(ctx, begin)
}

func keyEnabled(t *testing.T, g *Gateway, k *keyward.APIKey) bool {
	t.Helper()
	var v keyView
	d := keyvalue.Digest(k.Credentials[0].Digest)
	if !g.keys.lookup(&d, &v) {
		t.Fatalf("key %s is not in the table", k.ID)
	}
	return v.enabled
}

// disableNotices disables keys [from, to) in src and returns notices of a
// thousand IDs each, as an import announces them.
func disableNotices(src *fakeSource, from, to int) []keyward.Change {
	var batch []keyward.Change
	for lo := from; lo < to; lo += 1000 {
		c := keyward.Change{Kind: keyward.ChangeKey}
		for i := lo; i < min(lo+1000, to); i++ {
			src.snap.Keys[i].Enabled = false
			c.IDs = append(c.IDs, src.snap.Keys[i].ID)
		}
		batch = append(batch, c)
	}
	return batch
}

// TestBulkAttackReadFailsMidway: 9,000 changed keys of 40,000 are read in
// two reads; the second fails. The gateway must fall back to a full load,
// and every disable (of both reads) must hold.
func TestBulkAttackReadFailsMidway(t *testing.T) {
	ctx := context.Background()
	g, src, _ := manyKeysGateway(t, 40_000, &changefeed.Local{})
	is := &indexedSource{fakeSource: src, failOn: 2}
	g.cfg.Source = is
	g.applyChanges(ctx, disableNotices(src, 0, 9_000))
	if is.reads.Load() != 2 {
		t.Errorf("%d reads of changed keys, want 2 (5,000 then the rest)", is.reads.Load())
	}
	if is.loads.Load() != 1 {
		t.Errorf("%d full loads after a failed read, want 1", is.loads.Load())
	}
	for _, i := range []int{0, 4_999, 5_000, 8_999} {
		if keyEnabled(t, g, src.snap.Keys[i]) {
			t.Errorf("key %d, disabled and announced, is still enabled", i)
		}
	}
	if !keyEnabled(t, g, src.snap.Keys[9_000]) {
		t.Error("a key nobody disabled is disabled")
	}
}

// TestBulkAttackPlanUnknownInLaterRead: the second read finds a key on a
// plan the table does not hold yet; the first read's keys were applied.
// The full load that follows must enforce every change, the plan's too.
func TestBulkAttackPlanUnknownInLaterRead(t *testing.T) {
	ctx := context.Background()
	g, src, _ := manyKeysGateway(t, 40_000, &changefeed.Local{})
	is := &indexedSource{fakeSource: src}
	g.cfg.Source = is
	batch := disableNotices(src, 0, 9_000)
	src.snap.Plans = append(src.snap.Plans, &keyward.UsagePlan{ID: "plan_2", Name: "p2",
		APIStages: []keyward.PlanStage{{APIID: "api_1", Stage: "prod"}}})
	moved := src.snap.Keys[7_000]
	moved.PlanIDs = []string{"plan_2"}
	g.applyChanges(ctx, batch)
	if is.loads.Load() != 1 {
		t.Errorf("%d full loads, want 1 (a plan not yet known)", is.loads.Load())
	}
	if t2 := g.table.Load(); t2.lacksPlan([]string{"plan_2"}) {
		t.Error("the plan the key moved to is not in the table")
	}
	for _, i := range []int{0, 4_999, 5_000, 7_000, 8_999} {
		if keyEnabled(t, g, src.snap.Keys[i]) {
			t.Errorf("key %d, disabled and announced, is still enabled", i)
		}
	}
}

// TestBulkAttackDroppedNotice: 1,025 notices reach a gateway that is busy;
// the feed holds 1,024 and drops the last, which alone disables key_0.
// What the gateway then reads must make it enforce that disable.
func TestBulkAttackDroppedNotice(t *testing.T) {
	ctx := context.Background()
	feed := &changefeed.Local{}
	g, src, value := manyKeysGateway(t, 20_000, feed)
	g.cfg.Source = &indexedSource{fakeSource: src}
	for i := 1; i <= 1024; i++ {
		feed.Publish(ctx, keyward.Change{Kind: keyward.ChangeKey, ID: src.snap.Keys[i].ID})
	}
	src.snap.Keys[0].Enabled = false
	feed.Publish(ctx, keyward.Change{Kind: keyward.ChangeKey, ID: src.snap.Keys[0].ID}) // dropped: the buffer is full
	c := <-g.changes
	g.applyChanges(ctx, g.drainChanges(c))
	if _, on := enabled(g, value); on {
		t.Fatal("a disable whose notice the feed dropped is not enforced")
	}
	// The same, with the notice dropped while the gateway had just taken
	// the first one off the buffer (it then holds 1,023 + 1 taken).
	src.snap.Keys[0].Enabled = true
	for i := 1; i <= 1024; i++ {
		feed.Publish(ctx, keyward.Change{Kind: keyward.ChangeKey, ID: src.snap.Keys[i].ID})
	}
	c = <-g.changes
	feed.Publish(ctx, keyward.Change{Kind: keyward.ChangeKey, ID: src.snap.Keys[1].ID}) // fills it again
	src.snap.Keys[0].Enabled = false
	feed.Publish(ctx, keyward.Change{Kind: keyward.ChangeKey, ID: src.snap.Keys[0].ID}) // dropped
	g.applyChanges(ctx, g.drainChanges(c))
	if _, on := enabled(g, value); on {
		t.Fatal("a disable whose notice the feed dropped (after one was taken) is not enforced")
	}
}

// TestBulkAttackEveryChunkBoundary: changed keys spread so that each read
// of 5,000 ends inside a notice; every key of every read is disabled, and
// keys not announced stay as they were; no full load.
func TestBulkAttackEveryChunkBoundary(t *testing.T) {
	ctx := context.Background()
	g, src, _ := manyKeysGateway(t, 60_000, &changefeed.Local{})
	is := &indexedSource{fakeSource: src}
	g.cfg.Source = is
	var batch []keyward.Change
	// 14,999 keys, every fourth key, in notices of 333 and single IDs.
	var ids []string
	for i := 0; i < 60_000 && len(ids) < 14_999; i += 4 {
		src.snap.Keys[i].Enabled = false
		ids = append(ids, src.snap.Keys[i].ID)
	}
	for len(ids) > 0 {
		n := min(333, len(ids))
		batch = append(batch, keyward.Change{Kind: keyward.ChangeKey, IDs: ids[:n:n]})
		ids = ids[n:]
		if len(ids) > 0 {
			batch = append(batch, keyward.Change{Kind: keyward.ChangeKey, ID: ids[0]})
			ids = ids[1:]
		}
	}
	if len(batch) >= cap(g.changes) {
		t.Fatalf("test batch of %d notices would be taken as an overflow", len(batch))
	}
	g.applyChanges(ctx, batch)
	if is.loads.Load() != 0 {
		t.Errorf("%d full loads for a quarter of the table less one key, want 0", is.loads.Load())
	}
	if want := int32(3); is.reads.Load() != want {
		t.Errorf("%d reads, want %d", is.reads.Load(), want)
	}
	for i, k := range src.snap.Keys {
		if got := keyEnabled(t, g, k); got != k.Enabled {
			t.Fatalf("key %d enabled %t in the gateway, %t in the store", i, got, k.Enabled)
		}
	}
}

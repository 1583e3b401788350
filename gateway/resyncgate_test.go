package gateway

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/changefeed"
	"github.com/keyward/keyward/limit"
)

// The resync runs on a quiet tick; a tick with notices since the last one
// is skipped, but never more than maxResyncSkips in a row, so a notice
// the feed lost is applied in bounded time even under constant change.
func TestTheResyncWaitsForAQuietTickButNotForever(t *testing.T) {
	var g resyncGate
	if !g.tick() {
		t.Fatal("a quiet tick: the resync must run")
	}
	g.ran()
	// Constant change: a notice before every tick.
	ran := 0
	for tick := 1; tick <= 3*(maxResyncSkips+1); tick++ {
		g.noticed()
		if g.tick() {
			g.ran()
			ran++
			if tick%(maxResyncSkips+1) != 0 {
				t.Fatalf("under constant change the resync ran at tick %d, want every %d ticks", tick, maxResyncSkips+1)
			}
		}
	}
	if ran != 3 {
		t.Fatalf("under constant change the resync ran %d times in %d ticks, want 3", ran, 3*(maxResyncSkips+1))
	}
	// Notices stop: the next tick runs it.
	g.noticed()
	if g.tick() {
		t.Fatal("a tick with notices after a resync must be skipped")
	}
	if !g.tick() {
		t.Fatal("the first quiet tick after notices must run the resync")
	}
	g.ran()
	// Several notices between two ticks count once.
	g.noticed()
	g.noticed()
	g.noticed()
	if g.tick() || !g.tick() {
		t.Fatal("three notices in one interval must skip one tick, not three")
	}
	g.ran()
	// A tick the gate allowed but that did not run (the rule spacing full
	// loads vetoed it) does not start the count again: the gate stays open.
	for range maxResyncSkips {
		g.noticed()
		g.tick()
	}
	g.noticed()
	if !g.tick() {
		t.Fatal("the 11th busy tick must be allowed")
	}
	g.noticed()
	if !g.tick() {
		t.Fatal("a resync allowed but vetoed must be allowed on the next tick too")
	}
}

// slowSource is fakeSource whose full load takes a fixed (fake) time and
// records when each one ended.
type slowSource struct {
	fakeSource
	took  time.Duration
	mu    sync.Mutex
	loads []time.Time
}

func (s *slowSource) LoadDataPlane(ctx context.Context, begin func(*keyward.DataPlaneSnapshot) (func(*keyward.APIKey) error, error)) error {
	time.Sleep(s.took)
	err := s.fakeSource.LoadDataPlane(ctx, begin)
	s.mu.Lock()
	s.loads = append(s.loads, time.Now())
	s.mu.Unlock()
	return err
}

// (From an attack review.) The gate was asked before the rule that spaces
// full loads (20 times the last one's duration): when that rule vetoed
// the forced tick, the gate had already started its count again, and the
// next ten busy ticks were skipped too. With a full load of 17 s (20x =
// 340 s, just over 11 ticks) and a key notice every 20 s, the first
// resync came at tick 22 (660 s), where the spacing rule alone would run
// it at tick 12. In fake time (testing/synctest): no timing in the test.
func TestTheResyncGateSurvivesTheLoadSpacingRule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hasher := testHasher(t)
		_, cred := currentValue(t, hasher, "key_1", "cred_1")
		src := &slowSource{took: 17 * time.Second, fakeSource: fakeSource{snap: &keyward.DataPlaneSnapshot{
			Keys: []*keyward.APIKey{{ID: "key_1", Enabled: true, Credentials: []keyward.Credential{cred}}},
		}}}
		feed := &changefeed.Local{}
		ctx, cancel := context.WithCancel(context.Background())
		g, err := New(ctx, Config{Source: src, Changes: feed, Hasher: hasher, Limiter: limit.NewLocal(nil),
			UsageFlushInterval: time.Hour, ResyncInterval: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		done := make(chan struct{})
		go func() { g.background(ctx); close(done) }()
		// Constant change: a key notice every 20 s, for 12 minutes.
		go func() {
			for range 36 {
				time.Sleep(20 * time.Second)
				feed.Publish(ctx, keyward.Change{Kind: keyward.ChangeKey, ID: "key_1"})
			}
		}()
		time.Sleep(12 * time.Minute)
		cancel()
		<-done
		g.stopSub()
		src.mu.Lock()
		loads := src.loads[1:] // after New's first load
		src.mu.Unlock()
		if len(loads) == 0 {
			t.Fatal("no resync in 12 minutes of constant change")
		}
		first := loads[0].Add(-src.took).Sub(start)
		if ticks := int(first / (30 * time.Second)); ticks != 12 {
			t.Fatalf("the resync first ran at tick %d (%v) under constant change, want 12 (the gate allows 11, the spacing rule 12)", ticks, first)
		}
	})
}

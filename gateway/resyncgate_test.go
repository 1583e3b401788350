package gateway

import "testing"

// The resync runs on a quiet tick; a tick with notices since the last one
// is skipped, but never more than maxResyncSkips in a row, so a notice
// the feed lost is applied in bounded time even under constant change.
func TestTheResyncWaitsForAQuietTickButNotForever(t *testing.T) {
	var g resyncGate
	if !g.due() {
		t.Fatal("a quiet tick: the resync must run")
	}
	// Constant change: a notice before every tick.
	ran := 0
	for tick := 1; tick <= 3*(maxResyncSkips+1); tick++ {
		g.noticed()
		if g.due() {
			ran++
			if tick%(maxResyncSkips+1) != 0 {
				t.Fatalf("under constant change the resync ran at tick %d, want every %d ticks", tick, maxResyncSkips+1)
			}
		}
	}
	if ran != 3 {
		t.Fatalf("under constant change the resync ran %d times in %d ticks, want 3", ran, 3*(maxResyncSkips+1))
	}
	// Notices stop: the next tick runs it, whatever was skipped before.
	g.noticed()
	if g.due() {
		t.Fatal("a tick with notices after a forced resync must be skipped")
	}
	if !g.due() {
		t.Fatal("the first quiet tick after notices must run the resync")
	}
	// Several notices between two ticks count once.
	g.noticed()
	g.noticed()
	g.noticed()
	if g.due() || !g.due() {
		t.Fatal("three notices in one interval must skip one tick, not three")
	}
}

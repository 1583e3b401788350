package gateway

// maxResyncSkips is how many resync ticks in a row may pass while change
// notices keep arriving: at the default 30 s a tick, a notice the feed
// lost is applied by the 11th tick (5½ minutes) even under constant
// change, or as soon after as a full load's own spacing allows.
const maxResyncSkips = 10

// resyncGate decides, at each tick of the resync timer, whether the full
// resync runs. The resync is a safety net for notices the feed lost; while
// notices arrive the feed is plainly working, and a full load then is the
// dearest thing the gateway can do: during a bulk import of a million keys
// it read several hundred thousand keys in one read transaction (which
// keeps SQLite from checkpointing its WAL) and, with the collector paced
// for the load (loadgc.go), left tens of MB of garbage heap behind. So a
// tick with notices since the last one is skipped, unless maxResyncSkips
// ticks have passed since the last resync, for whatever reason (notices,
// or the rule that spaces full loads): a tick that other rule vetoes does
// not start the count again. Used by the background goroutine only.
type resyncGate struct {
	notices bool // a notice was applied since the last tick
	since   int  // ticks since the last resync
}

// noticed records that a batch of change notices was applied.
func (r *resyncGate) noticed() { r.notices = true }

// tick records a tick of the timer and reports whether the gate lets the
// resync run on it: no notices since the last tick, or too many ticks
// without a resync.
func (r *resyncGate) tick() bool {
	busy := r.notices
	r.notices = false
	r.since++
	return !busy || r.since > maxResyncSkips
}

// ran records that the resync ran.
func (r *resyncGate) ran() { r.since = 0 }

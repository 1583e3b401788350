package gateway

// maxResyncSkips is how many resync ticks in a row may pass while change
// notices keep arriving: at the default 30 s a tick, a notice the feed
// lost is applied within 5 minutes even under constant change.
const maxResyncSkips = 10

// resyncGate decides, at each tick of the resync timer, whether the full
// resync runs. The resync is a safety net for notices the feed lost; while
// notices arrive the feed is plainly working, and a full load then is the
// dearest thing the gateway can do: during a bulk import of a million keys
// it read several hundred thousand keys in one read transaction (which
// keeps SQLite from checkpointing its WAL) and, with the collector paced
// for the load (loadgc.go), left up to 60 MB of garbage heap behind when
// the import ended. So a tick with notices since the last one is skipped,
// at most maxResyncSkips in a row. Used by the background goroutine only.
type resyncGate struct {
	notices bool // a notice was applied since the last tick
	skipped int  // ticks skipped in a row
}

// noticed records that a batch of change notices was applied.
func (r *resyncGate) noticed() { r.notices = true }

// due reports whether this tick's resync runs.
func (r *resyncGate) due() bool {
	busy := r.notices
	r.notices = false
	if busy && r.skipped < maxResyncSkips {
		r.skipped++
		return false
	}
	r.skipped = 0
	return true
}

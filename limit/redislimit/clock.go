package redislimit

import (
	"sync/atomic"
	"time"
)

// clock is Redis's clock as this node reads it: the local clock plus the
// offset measured at the last heartbeat (Redis's TIME against the middle
// of the round trip). Every node then charges buckets and windows on the
// same clock, within half a round trip, whatever its own clock says; the
// scripts never let a counter's time go backwards.
type clock struct{ offset atomic.Int64 }

func (c *clock) set(offset int64) { c.offset.Store(offset) }

func (c *clock) now() int64 { return time.Now().UnixNano() + c.offset.Load() }

package gateway

// LoopHandoffs reports whether g serves its listener with the event loop,
// and how many connections the loop has handed to fasthttp so far.
func LoopHandoffs(g *Gateway) (handoffs int64, loop bool) {
	grp := g.loops.Load()
	if grp == nil {
		return 0, false
	}
	return loopHandoffs(grp), true
}

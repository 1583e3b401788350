package limittest

import (
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/limit"
)

var settleTests = []test{
	{"Refunds", func(h *harness) {
		m := tokens(limit.TokensPerMinute, 100)
		c, d := h.charge(base, "k1", withCost(m, 80))
		h.want("reserve 80", d, true, 0, 0, 0)
		h.settle(base.Add(30*time.Second), c, 30)
		if got := h.remaining(base.Add(30*time.Second), "k1", m, 128); got != 70 {
			h.t.Errorf("reserved 80, used 30: %d left, want 70", got)
		}
	}},
	{"AddsBeyondLimit", func(h *harness) {
		m := tokens(limit.TokensPerMinute, 100)
		c, _ := h.charge(base, "k1", withCost(m, 50))
		h.settle(base, c, 120)
		_, d := h.charge(base.Add(20*time.Second), "k1", withCost(m, 1))
		h.want("after using 120 of 100", d, false, limit.TokensPerMinute, 0, 40*time.Second)
		_, d = h.charge(base.Add(time.Minute), "k1", withCost(m, 100))
		h.want("next minute", d, true, 0, 0, 0)
	}},
	{"BothTokenWindows", func(h *harness) {
		m, dd := tokens(limit.TokensPerMinute, 100), tokens(limit.TokensPerDay, 1000)
		c, _ := h.charge(base, "k1", withCost(m, 90), withCost(dd, 90))
		h.settle(base, c, 10)
		if got := h.remaining(base, "k1", m, 128); got != 90 {
			h.t.Errorf("minute: %d left, want 90", got)
		}
		if got := h.remaining(base.Add(time.Minute), "k1", dd, 1024); got != 990 {
			h.t.Errorf("day: %d left, want 990", got)
		}
	}},
	{"OnlyTokenWindows", func(h *harness) {
		th, q := throttle(0, 10), quota(10, keyward.PeriodDay, 0)
		m := tokens(limit.TokensPerMinute, 100)
		c, _ := h.charge(base, "k1", withCost(th, 1), withCost(q, 1), withCost(m, 50))
		h.settle(base, c, 0)
		if got := h.remaining(base, "k1", th, 16); got != 9 {
			h.t.Errorf("throttle: %d left, want 9", got)
		}
		if got := h.remaining(base, "k1", q, 16); got != 9 {
			h.t.Errorf("quota: %d left, want 9", got)
		}
		if got := h.remaining(base, "k1", m, 128); got != 100 {
			h.t.Errorf("tokens: %d left, want 100", got)
		}
	}},
	{"WindowOverLeavesNewWindowAlone", func(h *harness) {
		dd := tokens(limit.TokensPerDay, 100)
		c1, _ := h.charge(base, "k1", withCost(dd, 80))
		tomorrow := base.Add(14 * time.Hour)
		h.charge(tomorrow, "k1", withCost(dd, 50))
		h.settle(tomorrow, c1, 0)
		if got := h.remaining(tomorrow, "k1", dd, 128); got != 50 {
			h.t.Errorf("settling yesterday's charge today: %d left today, want 50", got)
		}
	}},
	{"WindowOverBeforeAnyCharge", func(h *harness) {
		dd := tokens(limit.TokensPerDay, 100)
		c, _ := h.charge(base, "k1", withCost(dd, 80))
		h.settle(base.Add(14*time.Hour), c, 0) // no Charge since: the window is still yesterday's
		if got := h.remaining(base.Add(14*time.Hour), "k1", dd, 128); got != 100 {
			h.t.Errorf("%d left, want 100", got)
		}
	}},
	{"OnceOnly", func(h *harness) {
		m := tokens(limit.TokensPerMinute, 100)
		c, _ := h.charge(base, "k1", withCost(m, 80))
		h.settle(base, c, 20)
		h.settle(base, c, 0)
		if got := h.remaining(base, "k1", m, 128); got != 80 {
			h.t.Errorf("settled 20 then again 0: %d left, want 80", got)
		}
	}},
	{"NotAfterRefusal", func(h *harness) {
		m := tokens(limit.TokensPerMinute, 100)
		h.charge(base, "k1", withCost(m, 80))
		c, d := h.charge(base, "k1", withCost(m, 30))
		h.want("reserve 30 more", d, false, limit.TokensPerMinute, 0, time.Minute)
		h.settle(base, c, 0)
		if got := h.remaining(base, "k1", m, 128); got != 20 {
			h.t.Errorf("settled a refused charge: %d left, want 20", got)
		}
	}},
	{"NegativeTokensAsZero", func(h *harness) {
		m := tokens(limit.TokensPerMinute, 100)
		h.charge(base, "k1", withCost(m, 10))
		c, _ := h.charge(base, "k1", withCost(m, 80))
		h.settle(base, c, -50)
		if got := h.remaining(base, "k1", m, 128); got != 90 {
			h.t.Errorf("%d left, want 90", got)
		}
	}},
	{"AfterForget", func(h *harness) {
		m := tokens(limit.TokensPerMinute, 100)
		c, _ := h.charge(base, "k1", withCost(m, 80))
		h.l.Forget("k1")
		h.settle(base, c, 0)
		if got := h.remaining(base, "k1", m, 128); got != 100 {
			h.t.Errorf("%d left, want 100", got)
		}
	}},
}

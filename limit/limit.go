// Package limit enforces usage-plan limits (throttles, quotas and LLM token
// budgets) for the gateway, on every request.
//
// A request is usually subject to several counters at once: a token-bucket
// throttle, a calendar quota and, for LLM APIs, tokens per minute and per
// day. Charging them one by one would let concurrent requests overrun a
// budget (each sees room, all take it) or leave a quota charged for a request
// that the throttle then refused. So a Charge names every counter of one
// request and a Limiter charges them all-or-nothing: each counter is checked,
// and only if all admit the request is every one of them charged. LLM tokens
// are not known until the upstream answers, so the request reserves its
// worst case (max_tokens plus its prompt) and Settle later replaces that
// reservation by what the upstream reported.
//
// Quotas and token budgets count in fixed UTC calendar windows (minute, day,
// week or month, as API Gateway does), not sliding ones: a window's count is
// one number, cheap to keep, to persist per day for reporting and to restore
// after a restart. History is how a restarted process learns what a key
// already used in the current window.
//
// Local keeps the counters in memory, for a single node. A key's counters
// sit together behind one mutex, found with one read-locked map lookup, so
// a Charge costs well under a microsecond, allocates nothing once the key has
// been seen, and different keys do not contend. With several gateway nodes,
// per-node limits would let callers use N times their plan; a Redis version
// of Limiter (atomic scripts) will keep the counters shared. Limiter is
// therefore kept small and free of in-process assumptions: time is always an
// argument, and everything Settle needs travels in the Charge.
package limit

import (
	"context"
	"math"
	"time"

	"github.com/keyward/keyward"
)

// Kind is the kind of a counter.
type Kind uint8

// Counter kinds. The zero Kind is not a valid kind.
const (
	Throttle        Kind = iota + 1 // token bucket: Rate per second up to Burst
	Quota                           // Limit per calendar DAY, WEEK or MONTH (UTC)
	TokensPerMinute                 // Limit LLM tokens per UTC minute
	TokensPerDay                    // Limit LLM tokens per UTC day
)

// String returns the kind's name as used in metric labels.
func (k Kind) String() string {
	switch k {
	case Throttle:
		return "throttle"
	case Quota:
		return "quota"
	case TokensPerMinute:
		return "tokens_minute"
	case TokensPerDay:
		return "tokens_day"
	}
	return "invalid"
}

func (k Kind) valid() bool { return k >= Throttle && k <= TokensPerDay }

// windowed reports whether counters of kind k count per calendar window.
func (k Kind) windowed() bool { return k >= Quota && k <= TokensPerDay }

// tokens reports whether counters of kind k count LLM tokens, which Settle
// corrects after the fact.
func (k Kind) tokens() bool { return k == TokensPerMinute || k == TokensPerDay }

// MaxCounters is how many counters one Charge may hold.
const MaxCounters = 8

// Never is the RetryAfter of a request that cannot pass under the current
// limits however long it waits: a cost above a throttle's Burst or a window's
// Limit, a spent allowance that never refills (Rate 0), or an invalid
// counter. It is not a wait to show to a client: answer such a request
// without a Retry-After (or with a capped one).
const Never = time.Duration(math.MaxInt64)

// Counter is one limit that applies to a request, and what the request
// takes from it. A counter's identity is its key (Charge.Key), Kind and
// Scope; its limit values are read afresh on every Charge, so a changed plan
// applies from the next request on while what was already used is kept
// (tokens left in a bucket are capped at a smaller Burst; a changed quota
// Period or Offset may restart the count, as the window itself changes).
//
// Values out of range are read as the nearest valid one: a negative Rate,
// Burst, Limit or Cost as 0 (a NaN Rate too), a WEEK Offset modulo 7, a
// MONTH Offset clamped to 0-27. A Quota whose Period is none of DAY, WEEK
// and MONTH refuses every request (with RetryAfter Never), as does a counter
// of an invalid Kind: a misconfigured limit fails closed.
type Counter struct {
	Kind Kind
	// Scope tells apart counters of one Kind for one key, for instance
	// a plan ID, or plan ID, stage and route for a route's throttle. The
	// caller chooses it; building it once per plan rather than per
	// request keeps Charge free of allocations.
	Scope string
	// Rate is a Throttle's refill, in tokens per second. With Rate 0 a
	// throttle is a fixed allowance of Burst that never refills.
	Rate float64
	// Burst is a Throttle's bucket size; a new bucket starts full.
	Burst int64
	// Limit is what a Quota or token window allows per window.
	Limit int64
	// Period is a Quota's window: DAY, WEEK or MONTH.
	Period keyward.QuotaPeriod
	// Offset shifts a Quota's window as API Gateway does: a WEEK window
	// starts on Sunday 00:00 UTC plus Offset days (1 = Monday), a MONTH
	// window on day 1+Offset of the month. DAY windows ignore it.
	Offset int
	// Cost is what the request takes: usually 1 for a Throttle or Quota,
	// the reserved LLM tokens for a token window. A Cost of 0 always
	// passes and charges nothing.
	Cost int64
}

// Charge is the set of counters one request is charged against, for one
// key. Fill it with Add (or Counters and N directly) and pass it to
// Limiter.Charge, then, for LLM requests, to Limiter.Settle. A Charge may be
// reused for another request after Reset.
type Charge struct {
	// Key is the key ID. A Limiter serialises charges per key.
	Key      string
	Counters [MaxCounters]Counter
	N        int // Counters[:N] are in use

	// The fields below are written by Limiter.Charge for Limiter.Settle;
	// callers leave them alone. They are exported so that Limiters
	// outside this package can fill them.

	// Pending is true from an admitted Charge until its Settle.
	Pending bool
	// Windows holds, for each windowed counter, the start (Unix
	// nanoseconds) of the window it was charged in.
	Windows [MaxCounters]int64
	// Ticket is a shared limiter's handle on the reservation an admitted
	// Charge holds in its store (0: none), for Settle.
	Ticket uint64
}

// Add appends ct to c. It returns false, leaving c unchanged, when c
// already holds MaxCounters counters or ct's Kind is not valid.
func (c *Charge) Add(ct Counter) bool {
	if c.N >= MaxCounters || c.N < 0 || !ct.Kind.valid() {
		return false
	}
	c.Counters[c.N] = ct
	c.N++
	return true
}

// Reset empties c for reuse, keeping its Key.
func (c *Charge) Reset() {
	c.N = 0
	c.Pending = false
	c.Ticket = 0
}

// Decision is the outcome of Limiter.Charge.
type Decision struct {
	OK bool
	// When the request is refused: Refused is the Kind of the counter
	// that keeps it waiting longest (the first such if several tie),
	// Index its position in Charge.Counters, and RetryAfter how long
	// until that counter could admit the request's cost: for a throttle,
	// until enough tokens have refilled; for a quota or token window,
	// until the window ends; Never if it cannot be admitted at all. As
	// every refusing counter is consulted, a client that waits RetryAfter
	// is not refused again by one of the others (unless others spend the
	// budget first).
	Refused    Kind
	Index      int
	RetryAfter time.Duration
}

// Limiter charges requests against their counters.
//
// A Limiter may keep its counters elsewhere (limit/redislimit shares them
// between the nodes of a cluster), so Charge and Settle take a context and
// may fail: an error means the limiter could not decide, not that the
// request is refused, and the caller chooses what to answer (the gateway
// answers 503 with a Retry-After). A failed Charge charged nothing.
type Limiter interface {
	// Charge charges every counter of c with its Cost, or none: if any
	// counter refuses, nothing is charged. Counters never exceed their
	// limits, however many Charges run concurrently: a throttle's bucket
	// never goes below zero and a window's use plus a cost never exceeds
	// its Limit. now is the request's time; a now earlier than one
	// already seen for a counter counts as that later time.
	Charge(ctx context.Context, now time.Time, c *Charge) (Decision, error)
	// Settle replaces the Cost reserved on each token-window counter of
	// c by tokens, the tokens the request actually used: it refunds the
	// difference, or adds it when the upstream used more than reserved
	// (so the window may end above its Limit, refusing what follows). A
	// counter is left alone when the window it was charged in has ended
	// by now; its use never goes below 0. Settle does nothing unless c
	// was admitted by Charge and not yet settled. After an error the
	// charge counts as settled by this caller; a shared limiter releases
	// the reservation itself when it expires.
	Settle(ctx context.Context, now time.Time, c *Charge, tokens int64) error
	// Forget drops the counters of a key, once the key is deleted.
	Forget(key string)
}

// History reports what key used in [from, to) before this process
// started: requests for kind Quota, LLM tokens for TokensPerDay. A Limiter
// consults it once when it creates a Quota or TokensPerDay counter's state
// (never for each request), so that a restart does not hand out a window's
// budget twice. It is called with the key's counters locked: it must answer
// from memory, quickly, and must not call the Limiter. from and to are UTC
// midnights for those kinds.
type History func(key string, kind Kind, from, to time.Time) int64

// Package redislimit is a limit.Limiter whose counters live in Redis, so
// that every gateway node of a cluster charges the same throttles, quotas
// and token budgets: a plan's limit holds for the cluster, not per node.
//
// Each decision that touches shared counters is one Lua script (loaded
// once, run by its SHA): all of a request's counters are checked and
// charged together or not at all, on Redis's clock (see clock.go).
//
// Most requests need not wait for Redis. With leasing on (Options.MaxLease
// above 1), a node that charges a throttle or a quota takes a small slice
// of it from Redis beyond the request's cost, and admits the following
// requests from that slice in memory. Tokens are conserved: a slice is
// taken out of the shared bucket or window, so what all nodes admit
// together never exceeds what one shared counter would have admitted, and a
// slice not used within Options.LeaseFor goes back. Slices adapt to each
// node's rate (doubling while a slice lasts less than a quarter of
// LeaseFor, halving when one outlives it) and are never more than an
// eighth of what the counter has left, so nodes share what remains and
// the last units of a quota go one request at a time. LLM token budgets are
// always charged in Redis: their costs are reservations that vary with each
// request and are settled afterwards, and an LLM request is slow enough
// that one round trip does not matter.
//
// When Redis cannot be reached the limiter fails closed (Charge returns an
// error: the gateway answers 503) or open (it charges an in-memory limiter
// with each limit divided by the number of nodes last seen alive), as
// configured, and switches back by itself once Redis answers a probe.
package redislimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/internal/shardmap"
	"github.com/keyward/keyward/limit"
)

// Mode is what the limiter does while Redis cannot be reached.
type Mode string

const (
	// FailClosed refuses every request that has limits (Charge errors).
	FailClosed Mode = "closed"
	// FailOpen charges an in-memory limiter with each limit divided by
	// the nodes last seen alive.
	FailOpen Mode = "open"
)

// Metrics receives what the limiter does; nil methods are fine to leave
// empty. Call is made once per Redis call, Mode on every change of mode:
// "redis", "fallback" (fail open) or "refusing" (fail closed).
type Metrics interface {
	Call(op string, took time.Duration, err error)
	Mode(mode string)
}

// Options configures a Limiter. The zero value is usable: fail closed,
// leasing off.
type Options struct {
	// Prefix starts every key the limiter writes ("keyward:limits:" by
	// default); tests give each limiter its own.
	Prefix string
	// MaxLease is the largest slice a node takes of one counter. 0 or 1:
	// no leasing, every Charge runs in Redis.
	MaxLease int64
	// LeaseFor is how long a node keeps an unused slice before giving it
	// back (default 1 s).
	LeaseFor time.Duration
	// ReservationTTL is how long a token reservation waits for its Settle
	// before Redis releases it (default 15 min): a node that died while a
	// request ran does not hold the budget for ever.
	ReservationTTL time.Duration
	// Unavailable is what to do while Redis cannot be reached.
	Unavailable Mode
	// CallTimeout bounds each Redis call (default 250 ms).
	CallTimeout time.Duration
	// ProbeEvery is how often an unreachable Redis is tried again
	// (default 500 ms).
	ProbeEvery time.Duration
	// RefuseLocally lets a node refuse, for up to this long, requests
	// that Redis just refused for a counter (as large a cost, the same
	// limits), without asking again: an overloaded key then costs Redis
	// one call per node per interval instead of one per request. The
	// RetryAfter given is the one Redis gave. 0: always ask.
	RefuseLocally time.Duration
	// CallerTime makes the limiter use the now passed to Charge and
	// Settle instead of Redis's clock: for tests that drive time.
	CallerTime bool
	Metrics    Metrics
	Logger     *slog.Logger
}

// ErrUnavailable is what Charge returns while Redis cannot be reached and
// the limiter fails closed.
var ErrUnavailable = errors.New("usage limits unavailable: the limits store cannot be reached")

// Limiter is a limit.Limiter on Redis. Close it to give leases back.
type Limiter struct {
	rdb  redis.UniversalClient
	opt  Options
	node string // this process's name in the node registry and in tickets
	log  *slog.Logger

	clock   clock
	leases  shardmap.Map[keyLeases]
	tickets atomic.Uint64

	down    atomic.Bool
	probing atomic.Bool
	nodes   atomic.Int64 // nodes seen alive at the last heartbeat, at least 1
	// peak is the most nodes seen alive within peakFor, and when: the
	// fail-open share divides by it, so that a node that lost sight of
	// the others just before Redis died does not take their shares.
	peakMu   sync.Mutex
	peak     int64
	peakAt   time.Time
	fallback *limit.Local

	stop chan struct{}
	wg   sync.WaitGroup
}

var _ limit.Limiter = (*Limiter)(nil)

// New returns a Limiter on rdb. It does not fail when Redis is down: it
// starts in the unavailable mode and probes.
func New(ctx context.Context, rdb redis.UniversalClient, opt Options) *Limiter {
	if opt.Prefix == "" {
		opt.Prefix = "keyward:limits:"
	}
	if opt.LeaseFor <= 0 {
		opt.LeaseFor = time.Second
	}
	if opt.ReservationTTL <= 0 {
		opt.ReservationTTL = 15 * time.Minute
	}
	if opt.Unavailable == "" {
		opt.Unavailable = FailClosed
	}
	if opt.CallTimeout <= 0 {
		opt.CallTimeout = 250 * time.Millisecond
	}
	if opt.ProbeEvery <= 0 {
		opt.ProbeEvery = 500 * time.Millisecond
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	l := &Limiter{rdb: rdb, opt: opt, node: hex.EncodeToString(id[:]), log: opt.Logger,
		fallback: limit.NewLocal(nil), stop: make(chan struct{})}
	l.nodes.Store(1)
	if err := l.heartbeat(ctx); err != nil {
		l.markDown(err)
	} else {
		l.mode("redis")
	}
	l.wg.Add(1)
	go l.background()
	return l
}

// Close stops the background work and gives the leases back.
func (l *Limiter) Close() error {
	close(l.stop)
	l.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	l.returnLeases(ctx, l.clock.now(), true)
	return nil
}

// Nodes returns how many nodes were alive at the last heartbeat (a node
// counts as alive for three heartbeats, 6 s, after its last).
func (l *Limiter) Nodes() int64 { return l.nodes.Load() }

// Available reports whether Redis answered the last call.
func (l *Limiter) Available() bool { return !l.down.Load() }

// maxExact is the largest integer a Lua number holds exactly; amounts
// are clamped to it (a limit that large is no limit).
const maxExact = 1<<53 - 1

func exact(v int64) int64 { return min(max(v, 0), maxExact) }

// now is the time decisions are made at, in Unix ns.
func (l *Limiter) now(caller time.Time) int64 {
	if l.opt.CallerTime {
		return caller.UnixNano()
	}
	return l.clock.now()
}

// scriptNow is the now the scripts get: the caller's with CallerTime,
// otherwise 0, for Redis's own clock.
func (l *Limiter) scriptNow(t int64) int64 {
	if l.opt.CallerTime {
		return t / 1000
	}
	return 0
}

// Charge implements limit.Limiter.
// WaitsOnNetwork reports that a charge may wait for Redis: the gateway
// then serves requests on goroutines, never on its event loop.
func (l *Limiter) WaitsOnNetwork() bool { return true }

func (l *Limiter) Charge(ctx context.Context, now time.Time, c *limit.Charge) (limit.Decision, error) {
	c.Pending, c.Ticket = false, 0
	n := min(max(c.N, 0), limit.MaxCounters)
	for i := range n {
		if k := c.Counters[i].Kind; k < limit.Throttle || k > limit.TokensPerDay {
			return limit.Decision{Refused: k, Index: i, RetryAfter: limit.Never}, nil
		}
	}
	if n == 0 {
		c.Pending = true
		return limit.Decision{OK: true}, nil
	}
	if !validKey(c.Key) {
		return limit.Decision{}, errBadKey
	}
	if l.down.Load() {
		return l.unavailable(now, c)
	}
	t := l.now(now)
	var win [limit.MaxCounters][2]int64 // window start and end, ns
	for i := range n {
		ct := c.Counters[i]
		if ct.Kind == limit.Throttle {
			continue
		}
		s, e, ok := limit.Window(ct, time.Unix(0, t))
		if !ok {
			return limit.Decision{Refused: ct.Kind, Index: i, RetryAfter: limit.Never}, nil
		}
		win[i] = [2]int64{s.UnixNano(), e.UnixNano()}
	}
	var d limit.Decision
	var err error
	if l.opt.MaxLease <= 1 {
		d, err = l.chargeRemote(ctx, t, c, n, &win, nil, nil)
	} else {
		kl := l.lockLeases(c.Key)
		d, err = l.chargeLeased(ctx, t, c, n, &win, kl)
		kl.mu.Unlock()
	}
	var rerr redis.Error
	switch {
	case err == nil:
		return d, nil
	case errors.As(err, &rerr) || errors.Is(err, errBadReply):
		// Redis answered, with an error (a script refused its input):
		// Redis is up, and what the script wrote is nothing (it checks
		// before it writes). This request fails alone.
		return limit.Decision{}, err
	}
	l.markDown(err)
	return l.unavailable(now, c)
}

// unavailable answers a Charge while Redis cannot be reached.
func (l *Limiter) unavailable(now time.Time, c *limit.Charge) (limit.Decision, error) {
	if l.opt.Unavailable != FailOpen {
		return limit.Decision{}, ErrUnavailable
	}
	share := l.peakNodes()
	sc := *c
	for i := range min(max(c.N, 0), limit.MaxCounters) {
		// Rounded down: the shares together never pass the limit (a
		// limit smaller than the nodes admits nothing while Redis is
		// down).
		ct := &sc.Counters[i]
		ct.Rate /= float64(share)
		ct.Burst = max(ct.Burst, 0) / share
		ct.Limit = max(ct.Limit, 0) / share
	}
	d := l.fallback.ChargeAt(now, &sc)
	c.Pending, c.Windows, c.Ticket = sc.Pending, sc.Windows, 0
	return d, nil
}

// peakFor is how long the most nodes seen alive counts for the share.
const peakFor = 30 * time.Second

// seeNodes records a heartbeat's count of live nodes.
func (l *Limiter) seeNodes(n int64) {
	l.nodes.Store(n)
	l.peakMu.Lock()
	defer l.peakMu.Unlock()
	if now := time.Now(); n >= l.peak || now.Sub(l.peakAt) > peakFor {
		l.peak, l.peakAt = n, now
	}
}

// peakNodes returns the most nodes seen alive lately, at least 1.
func (l *Limiter) peakNodes() int64 {
	l.peakMu.Lock()
	defer l.peakMu.Unlock()
	return max(l.peak, 1)
}

// chargeRemote charges c's counters in one script: all of them when lease
// is nil; otherwise lease says, for each counter, what of its cost this
// node's lease pays (-1: all of it, the counter is not sent), how much
// more to ask for as the next lease, and what the lease still holds. got, when not nil, receives what each
// counter sent gave.
func (l *Limiter) chargeRemote(ctx context.Context, t int64, c *limit.Charge, n int,
	win *[limit.MaxCounters][2]int64, lease func(i int) (paid, extra, held int64), got *[limit.MaxCounters]granted) (limit.Decision, error) {
	var idx [limit.MaxCounters]int // script position -> counter index
	m := 0
	keys := make([]string, 1, 1+2*n)
	keys[0] = l.indexKey(c.Key)
	args := make([]any, 6, 6+14*n)
	ticket := l.tickets.Add(1)
	tk := l.node + "." + strconv.FormatUint(ticket, 36)
	args[0], args[2], args[3] = l.scriptNow(t), tk, (t+int64(l.opt.ReservationTTL))/1000
	args[4], args[5] = l.node, int64(l.opt.LeaseFor/time.Microsecond)
	reserves := false
	for i := range n {
		ct := &c.Counters[i]
		whole := exact(ct.Cost)
		cost, take, held := whole, whole, int64(0)
		if lease != nil {
			paid, extra, h := lease(i)
			held = h
			if paid < 0 {
				continue // paid from this node's lease
			}
			cost = whole - paid
			take = exact(cost + extra)
		}
		idx[m] = i
		m++
		keys = append(keys, l.counterKey(c.Key, ct))
		if ct.Kind == limit.TokensPerMinute || ct.Kind == limit.TokensPerDay {
			keys = append(keys, l.reservationKey(c.Key, ct))
			reserves = true
		}
		rate := ct.Rate
		if !(rate > 0) {
			rate = 0
		}
		args = append(args, int(ct.Kind), rate, exact(ct.Burst), exact(ct.Limit), cost, take,
			win[i][0]/1000, win[i][1]/1000, quotaDef(ct), whole, i+1, win[i][1]/1000, nextEnd(ct, win[i][1])/1000, held)
	}
	args[1] = m
	if m == 0 {
		return limit.Decision{OK: true}, nil
	}
	res, err := l.call(ctx, "charge", chargeScript, keys, args...)
	if err != nil {
		return limit.Decision{}, err
	}
	out, ok := res.([]any)
	if !ok || len(out) < 4 || (num(out[0]) == 0 && len(out) != 5) {
		return limit.Decision{}, errBadReply
	}
	if num(out[0]) == 0 {
		at := idx[min(max(int(num(out[2]))-1, 0), m-1)]
		wait := num(out[3])
		d := limit.Decision{Refused: c.Counters[at].Kind, Index: at, RetryAfter: limit.Never}
		switch {
		case wait < 0:
		case c.Counters[at].Kind == limit.Throttle || num(out[4]) == 0:
			d.RetryAfter = time.Duration(wait) * time.Microsecond
		default:
			// A window waits until its end, known to the nanosecond.
			d.RetryAfter = time.Duration(max(num(out[4])*1000-t, 0))
		}
		return d, nil
	}
	if len(out) != 2+2*m {
		return limit.Decision{}, errBadReply
	}
	for j := range m {
		i := idx[j]
		c.Windows[i] = num(out[2+2*j]) * 1000
		if got != nil {
			got[i].took = num(out[3+2*j])
		}
	}
	if reserves {
		c.Ticket = ticket
	}
	c.Pending = true
	return limit.Decision{OK: true}, nil
}

// nextEnd is the end (ns) of a windowed counter's window after the one
// ending at end, or 0; only a charge sent to Redis needs it, so a charge
// paid from leases does not compute it.
func nextEnd(ct *limit.Counter, end int64) int64 {
	if ct.Kind == limit.Throttle {
		return 0
	}
	_, e, _ := limit.Window(*ct, time.Unix(0, end))
	return e.UnixNano()
}

// granted is what one counter gave a charge sent to Redis.
type granted struct {
	took int64 // the cost and the lease beyond it
}

func num(v any) int64 {
	switch v := v.(type) {
	case int64:
		return v
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return 0
}

// quotaDef names a Quota's window definition, so that the script can tell
// when a plan changed it.
func quotaDef(ct *limit.Counter) string {
	if ct.Kind != limit.Quota {
		return ""
	}
	return string(ct.Period) + ":" + strconv.Itoa(ct.Offset)
}

// counterKey is where counter ct of key lives: the key ID in braces is the
// hash tag that keeps a key's counters in one Redis Cluster slot, and the
// scope is length-prefixed, so that no key ID or scope can name another's
// counter (key IDs with braces are refused: see validKey).
func (l *Limiter) counterKey(key string, ct *limit.Counter) string {
	return l.opt.Prefix + "{" + key + "}:" + strconv.Itoa(int(ct.Kind)) + ":" + strconv.Itoa(len(ct.Scope)) + ":" + ct.Scope
}

// reservationKey is the set of a token counter's open reservations; ":r:"
// never follows the braces of a counter's key, which a digit does.
func (l *Limiter) reservationKey(key string, ct *limit.Counter) string {
	return l.opt.Prefix + "{" + key + "}:r:" + strconv.Itoa(int(ct.Kind)) + ":" + strconv.Itoa(len(ct.Scope)) + ":" + ct.Scope
}

// validKey refuses key IDs that would break the key layout. The gateway's
// key IDs never hold braces.
func validKey(key string) bool { return !strings.ContainsAny(key, "{}") }

// errBadKey is Charge's answer for a key ID with braces.
var errBadKey = errors.New("redislimit: a key ID may not contain { or }")

// Settle implements limit.Limiter.
func (l *Limiter) Settle(ctx context.Context, now time.Time, c *limit.Charge, tokens int64) error {
	if !c.Pending {
		return nil
	}
	c.Pending = false
	if c.Ticket == 0 {
		// Charged by the fallback (or nothing reserved in Redis).
		l.fallback.SettleAt(now, c, tokens)
		return nil
	}
	t := l.now(now)
	tk := l.node + "." + strconv.FormatUint(c.Ticket, 36)
	var keys []string
	args := []any{l.scriptNow(t), tk, exact(tokens)}
	for i := range min(max(c.N, 0), limit.MaxCounters) {
		ct := &c.Counters[i]
		if ct.Kind != limit.TokensPerMinute && ct.Kind != limit.TokensPerDay {
			continue
		}
		keys = append(keys, l.counterKey(c.Key, ct), l.reservationKey(c.Key, ct))
		args = append(args, i+1, exact(ct.Cost), c.Windows[i]/1000)
	}
	if len(keys) == 0 {
		return nil
	}
	_, err := l.call(ctx, "settle", settleScript, keys, args...)
	return err
}

// indexKey is the set of key's counters' keys.
func (l *Limiter) indexKey(key string) string { return l.opt.Prefix + "{" + key + "}:index" }

// errBadReply is a script's reply of the wrong shape.
var errBadReply = errors.New("redislimit: unexpected charge reply")

// Forget implements limit.Limiter: it deletes the key's counters in Redis
// and drops its leases here. Should Redis be unreachable, the counters
// expire by themselves.
func (l *Limiter) Forget(key string) {
	if !l.down.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), l.opt.CallTimeout)
		_, _ = l.call(ctx, "forget", forgetScript, []string{l.indexKey(key)})
		cancel()
	}
	if kl := l.leases.Remove(key); kl != nil {
		kl.mu.Lock()
		kl.dead = true
		kl.mu.Unlock()
	}
	l.fallback.Forget(key)
}

// call runs one script with the call timeout and reports it.
func (l *Limiter) call(ctx context.Context, op string, s *redis.Script, keys []string, args ...any) (any, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.opt.CallTimeout)
	defer cancel()
	start := time.Now()
	res, err := s.Run(ctx, l.rdb, keys, args...).Result()
	if l.opt.Metrics != nil {
		l.opt.Metrics.Call(op, time.Since(start), err)
	}
	return res, err
}

// markDown switches to the unavailable mode and starts probing.
func (l *Limiter) markDown(err error) {
	if l.down.Swap(true) {
		return
	}
	l.log.Error("redis unreachable: usage limits now "+string(l.opt.Unavailable)+
		map[Mode]string{FailOpen: " (each node enforces its share)", FailClosed: " (requests with limits are refused)"}[l.opt.Unavailable],
		"err", err)
	if l.opt.Unavailable == FailOpen {
		l.mode("fallback")
	} else {
		l.mode("refusing")
	}
	if l.probing.CompareAndSwap(false, true) {
		l.wg.Add(1)
		go l.probe()
	}
}

func (l *Limiter) mode(m string) {
	if l.opt.Metrics != nil {
		l.opt.Metrics.Mode(m)
	}
}

// probe tries Redis until it answers, then switches back.
func (l *Limiter) probe() {
	defer l.wg.Done()
	defer l.probing.Store(false)
	t := time.NewTicker(l.opt.ProbeEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.opt.CallTimeout)
		err := l.heartbeat(ctx)
		cancel()
		if err == nil {
			l.down.Store(false)
			l.mode("redis")
			l.log.Info("redis reachable again: usage limits are shared by the cluster again")
			return
		}
	}
}

// background keeps the heartbeat and gives idle leases back.
func (l *Limiter) background() {
	defer l.wg.Done()
	beat := time.NewTicker(heartbeatEvery)
	defer beat.Stop()
	ret := time.NewTicker(max(l.opt.LeaseFor/2, 10*time.Millisecond))
	defer ret.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-beat.C:
			if l.down.Load() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), l.opt.CallTimeout)
			if err := l.heartbeat(ctx); err != nil {
				l.markDown(err)
			}
			cancel()
		case <-ret.C:
			if l.opt.MaxLease > 1 && !l.down.Load() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				l.returnLeases(ctx, l.clock.now(), false)
				cancel()
			}
		}
	}
}

// heartbeatEvery is how often a node says it is alive and reads Redis's
// clock; a node is counted alive for three beats.
const heartbeatEvery = 2 * time.Second

// heartbeat registers this node, counts the live ones and reads Redis's
// clock.
func (l *Limiter) heartbeat(ctx context.Context) error {
	start := time.Now()
	key := l.opt.Prefix + "nodes"
	var card *redis.IntCmd
	var tm *redis.TimeCmd
	t0 := time.Now()
	_, err := l.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		tm = p.Time(ctx)
		return nil
	})
	t1 := time.Now()
	if err == nil {
		rt := tm.Val()
		l.clock.set(rt.UnixNano() - (t0.UnixNano()+t1.UnixNano())/2)
		nowMs := rt.UnixMilli()
		_, err = l.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.ZAdd(ctx, key, redis.Z{Score: float64(nowMs + 3*heartbeatEvery.Milliseconds()), Member: l.node})
			p.ZRemRangeByScore(ctx, key, "-inf", strconv.FormatInt(nowMs, 10))
			card = p.ZCard(ctx, key)
			return nil
		})
		if err == nil {
			l.seeNodes(max(card.Val(), 1))
		}
	}
	if l.opt.Metrics != nil {
		l.opt.Metrics.Call("heartbeat", time.Since(start), err)
	}
	return err
}

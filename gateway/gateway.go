// Package gateway is keyward's data plane: it sits in front of AI APIs and
// checks every request against its key, the key's stage and scopes and its
// usage plans, then proxies it upstream with the stage's own credentials.
//
// The hot path never touches the database: the configuration lives in an
// immutable table (keys indexed by the HMAC digest of their values), rebuilt
// whenever the change feed says something changed and swapped in
// atomically. Limits are charged through a limit.Limiter, all counters of a
// request or none. HTTP is fasthttp on both sides: the standard library's
// reverse proxy spends about four times nginx's CPU per request, and a
// gateway slower than the API it protects does not get deployed.
package gateway

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/keyvalue"
	"github.com/keyward/keyward/limit"
	"github.com/valyala/fasthttp"
)

// Config is what a Gateway is built from. Source, Changes and Hasher are
// required.
type Config struct {
	Source  keyward.DataPlaneSource
	Changes keyward.ChangeFeed
	Hasher  *keyvalue.Hasher
	// Limiter charges usage-plan limits; default an in-process limit.Local
	// seeded from recorded usage.
	Limiter limit.Limiter
	Metrics Metrics       // default NopMetrics
	Clock   keyward.Clock // default keyward.SystemClock
	Logger  *slog.Logger
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	MaxBodyBytes   int           // default 8 MiB; larger requests get 413
	Timeout        time.Duration // whole upstream exchange, streams included; default 10 min
	// ResyncInterval rebuilds the table even without a change notice, as a
	// safety net; default 30 s.
	ResyncInterval     time.Duration
	UsageFlushInterval time.Duration // default 1 s
	AuthFailureWindow  time.Duration // default 1 min
	// SweepInterval is how often the limiter drops the state of keys whose
	// counters are all at rest, so that its memory follows the keys in use
	// rather than every key seen since the start; default 1 min.
	SweepInterval time.Duration
	// UpstreamRootCAs verify HTTPS upstreams; nil: the system's roots.
	UpstreamRootCAs *x509.CertPool
	// NoEventLoop serves every connection on fasthttp's goroutines, even
	// where the event loop could (loop_linux.go).
	NoEventLoop bool
}

func (c Config) defaults() Config {
	if c.Metrics == nil {
		c.Metrics = NopMetrics{}
	}
	if c.Clock == nil {
		c.Clock = keyward.SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 8 << 20
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Minute
	}
	if c.ResyncInterval <= 0 {
		c.ResyncInterval = 30 * time.Second
	}
	if c.UsageFlushInterval <= 0 {
		c.UsageFlushInterval = time.Second
	}
	if c.AuthFailureWindow <= 0 {
		c.AuthFailureWindow = time.Minute
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = time.Minute
	}
	return c
}

// Gateway serves the data plane.
type Gateway struct {
	cfg         Config
	systemClock bool // cfg.Clock is the system clock: one time.Now per request serves both
	table       atomic.Pointer[table]
	keys        *keyTable // every key; changed in place under its lock
	builder     builder
	limiter     limit.Limiter
	usage       *usageRecorder
	fails       *failureCounter
	server      *fasthttp.Server
	reloadMu    sync.Mutex
	pool        sync.Pool // *exchange

	changes      <-chan keyward.Change
	stopSub      func()
	wg           sync.WaitGroup
	ctx          context.Context // the background loops' lifetime, ended by Shutdown
	cancel       context.CancelFunc
	lastFullLoad atomic.Pointer[fullLoad]
	loops        atomic.Pointer[loopGroup] // the event loops, when Serve runs them
	shutMu       sync.Mutex                // orders Serve's start of the loops and Shutdown
	shut         bool
}

// New builds a Gateway and loads its first table, so that it serves the
// current configuration from its first request.
func New(ctx context.Context, cfg Config) (*Gateway, error) {
	if cfg.Source == nil || cfg.Changes == nil || cfg.Hasher == nil {
		return nil, errors.New("gateway: Source, Changes and Hasher are required")
	}
	cfg = cfg.defaults()
	g := &Gateway{cfg: cfg}
	g.ctx, g.cancel = context.WithCancel(context.WithoutCancel(ctx))
	_, g.systemClock = cfg.Clock.(keyward.SystemClock)
	g.keys = newKeyTable()
	g.builder = builder{hasher: cfg.Hasher, upstreams: &upstreams{roots: cfg.UpstreamRootCAs}, metrics: cfg.Metrics}
	g.usage = newUsageRecorder()
	g.fails = &failureCounter{}
	g.limiter = cfg.Limiter
	if g.limiter == nil {
		hist, err := loadHistory(ctx, cfg.Source, cfg.Clock.Now())
		if err != nil {
			return nil, err
		}
		g.limiter = limit.NewLocal(hist.lookup)
	}
	g.pool.New = func() any { return new(exchange) }
	// Subscribe before the first load: a change committed in between is
	// then seen as a notice and reloaded.
	g.changes, g.stopSub = cfg.Changes.Subscribe()
	if err := g.reload(ctx); err != nil {
		g.stopSub()
		return nil, err
	}
	g.server = &fasthttp.Server{
		Handler:               g.serve,
		ErrorHandler:          replyUnreadable,
		Name:                  "keyward",
		NoDefaultServerHeader: true,
		MaxRequestBodySize:    cfg.MaxBodyBytes,
		ReadTimeout:           time.Minute,
		WriteTimeout:          cfg.Timeout,
		IdleTimeout:           2 * time.Minute,
		ReadBufferSize:        16 << 10,
		// A response up to 16 KiB goes out in one write: fasthttp sends a
		// larger one's header and body in one writev only on a
		// *net.TCPConn, which the raw-call connections (rawconn.go) are not.
		WriteBufferSize:               16 << 10,
		DisableHeaderNamesNormalizing: false,
		NoDefaultContentType:          true,
		CloseOnShutdown:               true,
		Logger:                        quietLogger{},
	}
	return g, nil
}

// Serve accepts connections on ln until Shutdown, and runs the reload and
// usage-flush loops meanwhile.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	// Under shutMu: a Shutdown that came first finds nothing to wait for
	// (and Serve then serves nothing); one that comes later waits for the
	// background loops (wg.Add before its wg.Wait).
	g.shutMu.Lock()
	if g.shut {
		g.shutMu.Unlock()
		return nil
	}
	g.wg.Add(1)
	g.shutMu.Unlock()
	go func() {
		defer g.wg.Done()
		stop := context.AfterFunc(ctx, g.cancel)
		defer stop()
		g.background(g.ctx)
	}()
	if tl, ok := g.loopable(ln); ok {
		return g.serveLoops(tl)
	}
	return g.server.Serve(rawListener{ln})
}

// Shutdown stops accepting requests, waits for those in flight (streams
// included) until ctx ends, and writes the usage counted so far.
func (g *Gateway) Shutdown(ctx context.Context) error {
	var err error
	g.shutMu.Lock()
	g.shut = true
	grp := g.loops.Load()
	g.shutMu.Unlock()
	if grp != nil {
		err = grp.shutdown(ctx)
	}
	err = errors.Join(err, g.server.ShutdownWithContext(ctx))
	g.cancel()
	g.wg.Wait()
	g.stopSub()
	g.flush(context.WithoutCancel(ctx))
	return err
}

// background reloads on change notices (coalescing bursts) and on a
// timer, flushes usage and authentication failures, and sweeps the
// limiter.
func (g *Gateway) background(ctx context.Context) {
	resync := time.NewTicker(g.cfg.ResyncInterval)
	var gate resyncGate // whether a resync tick runs (resyncgate.go)
	usage := time.NewTicker(g.cfg.UsageFlushInterval)
	fails := time.NewTicker(g.cfg.AuthFailureWindow)
	sweep := time.NewTicker(g.cfg.SweepInterval)
	defer resync.Stop()
	defer usage.Stop()
	defer fails.Stop()
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case c, ok := <-g.changes:
			if !ok {
				return
			}
			g.applyChanges(ctx, g.drainChanges(c))
			gate.noticed()
		case <-resync.C:
			// The resync is a safety net, not the way changes arrive: it
			// reads every key in one read transaction, which at a million
			// keys lasts seconds and keeps SQLite from starting its WAL
			// over. It waits at least 20 times as long as the last full
			// load took, and for a tick without notices (resyncGate).
			if !gate.tick() || time.Since(g.lastFullLoad.Load().at) < 20*g.lastFullLoad.Load().took {
				continue
			}
			gate.ran()
			g.reloadLogged(ctx)
		case <-usage.C:
			g.flushUsage(ctx)
		case <-fails.C:
			g.flushFailures(ctx)
		case <-sweep.C:
			g.sweepLimiter()
		}
	}
}

// sweeper is a Limiter that holds per-key state in this process and can
// drop what is at rest (limit.Local); a shared limiter need not be one.
type sweeper interface {
	Sweep(now time.Time) int
}

// sweepLimiter drops the limiter state of keys at rest at the gateway's
// clock's now. Keys still in the table lose nothing: a swept key's
// counters were indistinguishable from new ones.
func (g *Gateway) sweepLimiter() {
	if s, ok := g.limiter.(sweeper); ok {
		if n := s.Sweep(g.cfg.Clock.Now()); n > 0 {
			g.cfg.Logger.Debug("limiter swept", "keys", n)
		}
	}
}

// drainChanges returns first and the notices already queued behind it,
// to be applied together.
func (g *Gateway) drainChanges(first keyward.Change) []keyward.Change {
	batch := []keyward.Change{first}
	for {
		select {
		case c, ok := <-g.changes:
			if !ok {
				return batch
			}
			batch = append(batch, c)
		default:
			return batch
		}
	}
}

// maxKeyUpdates is the most keys one read of changed keys asks for; more
// are applied in several such reads.
const maxKeyUpdates = 5000

// reloadIsCheaper reports whether one full reload costs less than reading
// n changed keys by ID: a full load reads a key in about a third of the
// time (2.8 s for a million keys, against 8.5 µs a key by ID), so it does
// past a quarter of the table. A bound that did not grow with the table
// (it was 5,000 keys) turned a bulk import into a loop: the gateway fell a
// few batches behind, reloaded a million keys, fell further behind during
// the reload, and reloaded again, seven times in one import, each time
// holding a read transaction that kept SQLite from checkpointing its WAL.
func (g *Gateway) reloadIsCheaper(n int) bool {
	keys, _ := g.keys.len()
	return n > max(maxKeyUpdates, keys/4)
}

// applyChanges brings the table up to date with a batch of notices. Key
// changes are applied one key at a time (one read, a few index entries);
// anything else, a notice without a key ID, or a batch that filled the
// feed's buffer (the feed may then have dropped notices: the contract is
// only that one arrives after the last change) makes a full reload.
func (g *Gateway) applyChanges(ctx context.Context, batch []keyward.Change) {
	if len(batch) >= cap(g.changes) {
		g.reloadLogged(ctx)
		return
	}
	var ids []string
	for _, c := range batch {
		switch {
		case c.Kind == keyward.ChangeAccess:
			continue // admin tokens and policies: nothing the gateway holds
		case c.Kind != keyward.ChangeKey:
		case len(c.IDs) > 0:
			ids = append(ids, c.IDs...)
			continue
		case strings.HasPrefix(c.ID, keyward.ResourceAPIKey.IDPrefix()):
			ids = append(ids, c.ID)
			continue
		}
		g.reloadLogged(ctx)
		return
	}
	if g.reloadIsCheaper(len(ids)) {
		g.reloadLogged(ctx)
		return
	}
	for len(ids) > 0 {
		n := min(len(ids), maxKeyUpdates)
		switch err := g.applyKeys(ctx, ids[:n]); {
		case errors.Is(err, errPlanNotYetKnown):
			g.cfg.Logger.Debug("a changed key names a plan this node has not loaded yet; reloading everything")
			g.reloadLogged(ctx)
			return
		case err != nil:
			if ctx.Err() == nil {
				g.cfg.Logger.Warn("applying a key change failed; reloading everything", "err", err)
			}
			g.reloadLogged(ctx)
			return
		}
		ids = ids[n:]
	}
}

// errPlanNotYetKnown: a changed key is attached to a plan the table does
// not hold. On a cluster, notices from different nodes arrive in any
// order: a key created on one node just after its plan was created on
// another can be announced here first. Resolved against this table, the
// key may call nothing (table.resolve, table.lacksPlan); a full reload
// reads the plan along with the key.
var errPlanNotYetKnown = errors.New("gateway: a key names a plan not loaded yet")

// applyKeys re-reads the keys ids and puts them into the key table in
// place: the cost of a disable, rotation or scope edit is that key's, not
// every key's.
func (g *Gateway) applyKeys(ctx context.Context, ids []string) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	if g.table.Load() == nil {
		return errors.New("gateway: no table yet")
	}
	keys, err := g.cfg.Source.DataPlaneKeys(ctx, ids)
	if err != nil {
		return err
	}
	t := g.table.Load()
	for _, k := range keys {
		if t.lacksPlan(k.PlanIDs) {
			return errPlanNotYetKnown
		}
	}
	found := make(map[string]bool, len(keys))
	for _, k := range keys {
		found[k.ID] = true
		g.putKey(nil, k)
	}
	for _, id := range ids {
		if !found[id] && g.keys.remove(id) { // deleted
			g.limiter.Forget(id)
		}
	}
	return nil
}

// putKey stores k in the key table. A combination of stages and plans no
// key named before is resolved first: in the table being built (when a
// full load is under way) and in the published one, so that no request
// finds the key before its combination. Under reloadMu.
func (g *Gateway) putKey(building *table, k *keyward.APIKey) {
	a, fresh := g.keys.internAccess(k)
	if fresh {
		sig := &g.keys.access[a]
		if building != nil {
			building.access = append(building.access, building.resolve(sig))
		}
		if t := g.table.Load(); t != nil {
			g.publishAccess(t, t.resolve(sig))
		}
	}
	g.keys.put(k, a, g.cfg.Metrics.Key(k.ID))
}

// publishAccess swaps in a copy of t with one more resolved combination.
// The copy appends to t's access slice in place when it has room: readers
// of t never index past their own length, so they do not see it.
func (g *Gateway) publishAccess(t *table, m map[*stageEntry]*keyStage) {
	nt := *t
	nt.access = append(t.access, m)
	g.table.Store(&nt)
}

func (g *Gateway) reloadLogged(ctx context.Context) {
	if err := g.reload(ctx); err != nil && ctx.Err() == nil {
		// Keep serving the last good table: failing open to "no keys" or
		// closed to "everything" would both be worse than slightly stale.
		g.cfg.Logger.Error("gateway reload failed; serving the previous configuration", "err", err)
	}
}

// reload reads a snapshot and swaps in a table built from it. Keys that
// disappeared have their limit state dropped.
// fullLoad is when the last full load ended and how long it took.
type fullLoad struct {
	at   time.Time
	took time.Duration
}

func (g *Gateway) reload(ctx context.Context) error {
	start := time.Now()
	defer func() { g.lastFullLoad.Store(&fullLoad{at: time.Now(), took: time.Since(start)}) }()
	// One reload at a time: two interleaved ones could swap in the older
	// snapshot last and undo a change.
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	// Keys are put into the key table as they stream in, where they are
	// (no second table: at a million keys it would double the memory).
	// Each key changes at once; what a request sees of it is always one
	// state of it, this load's or the one before. Keys this load did not
	// see are gone from the store and leave once it has succeeded.
	g.keys.beginGen()
	defer g.keys.endGen()
	defer loadGC.relax()()
	var t *table
	var fill *filler
	err := g.cfg.Source.LoadDataPlane(ctx, func(snap *keyward.DataPlaneSnapshot) (func(*keyward.APIKey) error, error) {
		var err error
		if t, err = g.builder.begin(snap); err != nil {
			return nil, err
		}
		for i := range g.keys.access {
			t.access = append(t.access, t.resolve(&g.keys.access[i]))
		}
		fill = g.startFiller(t)
		return fill.add, nil
	})
	if fill != nil {
		fill.wait()
	}
	if err != nil {
		return err
	}
	g.table.Store(t)
	for _, id := range g.keys.sweep() {
		g.limiter.Forget(id)
	}
	return nil
}

// filler puts the keys of a full load into the key table on a goroutine of
// its own, in batches, while the store reads on: on two cores reading and
// indexing a million keys overlap instead of adding up.
type filler struct {
	batch []*keyward.APIKey
	ch    chan []*keyward.APIKey
	done  chan struct{}
}

const fillBatch = 256

func (g *Gateway) startFiller(t *table) *filler {
	f := &filler{ch: make(chan []*keyward.APIKey, 8), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		for batch := range f.ch {
			for _, k := range batch {
				g.putKey(t, k)
			}
			loadGC.adjust() // what the load keeps may grow the live heap
		}
	}()
	return f
}

func (f *filler) add(k *keyward.APIKey) error {
	if f.batch = append(f.batch, k); len(f.batch) == fillBatch {
		f.ch <- f.batch
		f.batch = make([]*keyward.APIKey, 0, fillBatch)
	}
	return nil
}

// wait hands over the last batch and waits until every key is in.
func (f *filler) wait() {
	if len(f.batch) > 0 {
		f.ch <- f.batch
	}
	close(f.ch)
	<-f.done
}

// Reload rebuilds the table now. Tests and the admin side use it when they
// need the gateway current without waiting for the feed.
func (g *Gateway) Reload(ctx context.Context) error { return g.reload(ctx) }

func (g *Gateway) flush(ctx context.Context) {
	g.flushUsage(ctx)
	g.flushFailures(ctx)
}

func (g *Gateway) flushUsage(ctx context.Context) {
	rows := g.usage.take()
	if len(rows) == 0 {
		return
	}
	if err := g.cfg.Source.RecordUsage(ctx, rows); err != nil {
		g.usage.putBack(rows) // try again next time rather than lose counts
		if ctx.Err() == nil {
			g.cfg.Logger.Warn("recording usage failed; will retry", "err", err)
		}
	}
}

func (g *Gateway) flushFailures(ctx context.Context) {
	counts := g.fails.take()
	if len(counts) == 0 {
		return
	}
	if err := g.cfg.Source.RecordAuthFailures(ctx, counts); err != nil && ctx.Err() == nil {
		g.cfg.Logger.Warn("auditing gateway authentication failures failed", "err", err)
	}
}

// quietLogger drops fasthttp's own log lines: they can quote request
// bytes, and a request's bytes may hold a key.
type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

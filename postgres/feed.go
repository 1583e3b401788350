package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keyward/keyward"
	"github.com/keyward/keyward/changefeed"
)

// channel is the LISTEN/NOTIFY channel of change notices.
const channel = "keyward_changes"

// maxNoticeIDs is how many IDs one NOTIFY carries: PostgreSQL caps a
// payload at 8,000 bytes, and a change to many keys (an import batch of a
// thousand) goes out as several notices.
const maxNoticeIDs = 200

// Feed is the change feed of a cluster: a change published on one node
// reaches the subscribers of every node, through PostgreSQL's
// LISTEN/NOTIFY. Each node listens on a connection of its own. When that
// connection is lost, notices sent meanwhile are lost with it, so once it
// is back the feed tells its subscribers that everything may have changed
// (a notice without IDs for every kind), and they reload in full before
// trusting the feed again.
type Feed struct {
	db     *DB
	local  changefeed.Local
	node   string // this node's name in its notices, to skip its own
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	listening atomic.Bool  // the listener's connection is up
	resyncs   atomic.Int64 // times the listener came back after a loss
	ready     chan struct{}
	readyOnce sync.Once

	// Notices to send: while one NOTIFY is on its way, the changes
	// published meanwhile wait here and go out merged, so that a burst
	// of writes (a batch of key creates) costs the other nodes one reload
	// of many IDs rather than one reload per change.
	sendMu  sync.Mutex
	queue   []keyward.Change
	sending bool
	sent    sync.WaitGroup
}

var _ keyward.ChangeFeed = (*Feed)(nil)

type notice struct {
	Node string         `json:"node"`
	C    keyward.Change `json:"c"`
}

// Feed starts the cluster's change feed on this store; Close stops it.
func (s *DB) Feed(log *slog.Logger) *Feed {
	var b [8]byte
	_, _ = rand.Read(b[:])
	ctx, cancel := context.WithCancel(context.Background())
	f := &Feed{db: s, node: hex.EncodeToString(b[:]), log: log, cancel: cancel, done: make(chan struct{}), ready: make(chan struct{})}
	go f.listen(ctx)
	return f
}

// Close sends what is queued and stops listening.
func (f *Feed) Close() {
	f.sent.Wait()
	f.cancel()
	<-f.done
}

// Listening reports whether the feed's connection is up (readiness).
func (f *Feed) Listening() bool { return f.listening.Load() }

// Resyncs is how many times the feed lost its connection and, once back,
// had its subscribers reload everything.
func (f *Feed) Resyncs() int64 { return f.resyncs.Load() }

// WaitListening waits until the feed listens for the first time, or ctx
// ends.
func (f *Feed) WaitListening(ctx context.Context) error {
	select {
	case <-f.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Publish hands c to this node's subscribers at once and sends it to the
// other nodes: at once when no notice is on its way, merged with the
// changes published meanwhile otherwise. A notice that cannot be sent is
// logged: the other nodes then see the change at their next full reload.
func (f *Feed) Publish(ctx context.Context, c keyward.Change) {
	f.local.Publish(ctx, c)
	f.sendMu.Lock()
	f.queue = append(f.queue, c)
	if f.sending {
		f.sendMu.Unlock()
		return
	}
	f.sending = true
	f.sent.Add(1)
	f.sendMu.Unlock()
	go f.send()
}

// send sends what is queued, merged, until the queue stays empty.
func (f *Feed) send() {
	defer f.sent.Done()
	for {
		f.sendMu.Lock()
		q := f.queue
		f.queue = nil
		if len(q) == 0 {
			f.sending = false
			f.sendMu.Unlock()
			return
		}
		f.sendMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for _, c := range merge(q) {
			for _, part := range split(c) {
				payload, _ := json.Marshal(notice{Node: f.node, C: part}) // cannot fail
				if _, err := f.db.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, channel, string(payload)); err != nil {
					f.log.Warn("a change notice did not reach the other nodes; they see it at their next full reload", "err", err)
				}
			}
		}
		cancel()
	}
}

// merge joins the changes of one kind into one change naming all their
// objects (a change naming none, "something of this kind", absorbs the
// others). Receivers reload what a notice names as it is now, so the order
// of changes does not matter.
func merge(q []keyward.Change) []keyward.Change {
	if len(q) == 1 {
		return q
	}
	var out []keyward.Change
	all := map[keyward.ChangeKind]bool{} // kinds with a change naming nothing
	at := map[keyward.ChangeKind]int{}
	for _, c := range q {
		i, ok := at[c.Kind]
		if !ok {
			i = len(out)
			at[c.Kind] = i
			out = append(out, keyward.Change{Kind: c.Kind})
		}
		if c.ID == "" && len(c.IDs) == 0 {
			all[c.Kind] = true
		}
		if c.ID != "" {
			out[i].IDs = append(out[i].IDs, c.ID)
		}
		out[i].IDs = append(out[i].IDs, c.IDs...)
	}
	for i := range out {
		if all[out[i].Kind] {
			out[i].IDs = nil
		} else if len(out[i].IDs) == 1 {
			out[i] = keyward.Change{Kind: out[i].Kind, ID: out[i].IDs[0]}
		}
	}
	return out
}

// split cuts a change to many objects into notices that fit a payload.
func split(c keyward.Change) []keyward.Change {
	if len(c.IDs) <= maxNoticeIDs {
		return []keyward.Change{c}
	}
	var parts []keyward.Change
	for i := 0; i < len(c.IDs); i += maxNoticeIDs {
		parts = append(parts, keyward.Change{Kind: c.Kind, IDs: c.IDs[i:min(i+maxNoticeIDs, len(c.IDs))]})
	}
	return parts
}

// Subscribe returns this node's subscription to every node's changes.
func (f *Feed) Subscribe() (<-chan keyward.Change, func()) { return f.local.Subscribe() }

// listen holds a LISTEN connection until ctx ends, reconnecting after a
// loss.
func (f *Feed) listen(ctx context.Context) {
	defer close(f.done)
	lost := false
	for backoff := 100 * time.Millisecond; ctx.Err() == nil; {
		err := f.session(ctx, lost)
		f.listening.Store(false)
		if ctx.Err() != nil {
			return
		}
		lost = true
		f.log.Warn("change feed connection lost; reconnecting", "err", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// session listens on one connection until it fails. After a loss
// (resync), once listening again, it tells subscribers to reload all.
func (f *Feed) session(ctx context.Context, resync bool) error {
	conn, err := pgx.ConnectConfig(ctx, f.db.cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return err
	}
	f.listening.Store(true)
	f.readyOnce.Do(func() { close(f.ready) })
	if resync {
		f.resyncs.Add(1)
		for _, k := range []keyward.ChangeKind{keyward.ChangeKey, keyward.ChangeAPI, keyward.ChangePlan, keyward.ChangeSecret} {
			f.local.Publish(ctx, keyward.Change{Kind: k})
		}
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var nt notice
		if json.Unmarshal([]byte(n.Payload), &nt) != nil {
			// Not ours to understand: reload rather than miss something.
			f.local.Publish(ctx, keyward.Change{Kind: keyward.ChangeAPI})
			continue
		}
		if nt.Node != f.node {
			f.local.Publish(ctx, nt.C)
		}
	}
}

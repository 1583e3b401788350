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

// Close stops listening.
func (f *Feed) Close() {
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
// other nodes. A notice that cannot be sent is logged: the other nodes
// then see the change at their next full reload.
func (f *Feed) Publish(ctx context.Context, c keyward.Change) {
	f.local.Publish(ctx, c)
	for _, part := range split(c) {
		payload, _ := json.Marshal(notice{Node: f.node, C: part}) // cannot fail
		if _, err := f.db.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, channel, string(payload)); err != nil {
			f.log.Warn("a change notice did not reach the other nodes; they see it at their next full reload", "err", err)
			return
		}
	}
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

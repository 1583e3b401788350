package postgres

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// leaderLock is the session advisory lock the cluster's leader holds.
const leaderLock = migrationLock + 2

// Leadership runs background work (the rotation scheduler, the webhook
// dispatcher, the audit checkpointer) on one node of the cluster at a
// time: the node holding a session advisory lock on a connection of its
// own. PostgreSQL releases the lock when that connection ends, a killed
// node's included, and another node takes it within the retry interval.
type Leadership struct {
	db      *DB
	log     *slog.Logger
	retry   time.Duration
	leading atomic.Bool
	changes atomic.Int64
}

// Leadership returns the cluster's leadership as seen from this node;
// retry is how often a follower tries to take the lock, and how often
// the leader checks it still holds its connection.
func (s *DB) Leadership(log *slog.Logger, retry time.Duration) *Leadership {
	return &Leadership{db: s, log: log, retry: retry}
}

// Leading reports whether this node leads now.
func (l *Leadership) Leading() bool { return l.leading.Load() }

// Changes is how many times this node became leader.
func (l *Leadership) Changes() int64 { return l.changes.Load() }

// Run calls lead each time this node becomes leader, with a context that
// ends when it stops being leader (its lock connection failed) or ctx
// ends; Run waits for lead to return before trying again, and returns when
// ctx ends.
func (l *Leadership) Run(ctx context.Context, lead func(ctx context.Context)) {
	for ctx.Err() == nil {
		if err := l.term(ctx, lead); err != nil && ctx.Err() == nil {
			l.log.Debug("leadership: not leading", "err", err)
		}
		select {
		case <-time.After(l.retry):
		case <-ctx.Done():
		}
	}
}

// term tries the lock once and, holding it, leads until the connection
// fails or ctx ends.
func (l *Leadership) term(ctx context.Context, lead func(ctx context.Context)) error {
	conn, err := pgx.ConnectConfig(ctx, l.db.cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var got bool
	err = conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+lockKey+`)`, int64(leaderLock)).Scan(&got)
	if err != nil || !got {
		return err
	}
	l.leading.Store(true)
	l.changes.Add(1)
	l.log.Info("this node leads the cluster's background work")
	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); lead(lctx) }()
	tick := time.NewTicker(l.retry)
	defer tick.Stop()
	for lctx.Err() == nil {
		select {
		case <-tick.C:
			pctx, cancel := context.WithTimeout(ctx, l.retry)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				l.log.Warn("leadership lost: its connection failed", "err", err)
				stop()
			}
		case <-lctx.Done():
		}
	}
	stop()
	<-done
	l.leading.Store(false)
	return err
}

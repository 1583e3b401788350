package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"github.com/keyward/keyward/sqlstore"
	"sync"

	"github.com/keyward/keyward"
)

// Group commit. SQLite serializes writers, and most of a small write
// transaction's cost is its COMMIT (writing the WAL frames). When several
// Update calls wait at once, the first becomes the leader and runs them all
// in one transaction, each inside its own SAVEPOINT: a call that fails is
// rolled back to its savepoint alone, the others commit together. Every
// caller still returns only after the commit that holds its work, so the
// durability of each Update is unchanged; only the commits are shared.

type batchReq struct {
	ctx      context.Context
	fn       func(context.Context, keyward.Tx) error
	err      error
	panicked bool
	panicVal any
	done     chan struct{}
}

type batcher struct {
	p       *pool
	mu      sync.Mutex
	pending []*batchReq
	leading bool
}

// maxBatch bounds how much work one commit carries, so that a failed commit
// (which fails every call in it) stays small.
const maxBatch = 64

func (b *batcher) update(ctx context.Context, fn func(context.Context, keyward.Tx) error) error {
	req := &batchReq{ctx: ctx, fn: fn, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, req)
	lead := !b.leading
	b.leading = true
	b.mu.Unlock()
	if lead {
		b.lead()
	}
	<-req.done
	if req.panicked {
		panic(req.panicVal)
	}
	return req.err
}

// lead runs one batch (which holds the leader's own call: the queue was
// empty when it became leader), then hands leadership to a new goroutine if
// more calls are waiting, so that no caller waits on other callers' work
// for longer than one batch.
func (b *batcher) lead() {
	b.mu.Lock()
	n := min(len(b.pending), maxBatch)
	batch := b.pending[:n:n]
	b.pending = b.pending[n:]
	b.mu.Unlock()
	b.run(batch)
	for _, r := range batch {
		close(r.done)
	}
	b.mu.Lock()
	more := len(b.pending) > 0
	b.leading = more
	b.mu.Unlock()
	if more {
		go b.lead()
	}
}

func (b *batcher) run(batch []*batchReq) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	// The transaction outlives any one caller's context: cancelling a
	// statement inside a shared transaction would roll back the others.
	sqlTx, err := b.p.db.BeginTx(context.Background(), nil)
	if err != nil {
		failAll(live, fmt.Errorf("sqlite: begin: %w", err))
		return
	}
	var committed []*batchReq
	for _, r := range live {
		ok, err := runInSavepoint(sqlTx, b.p.stmts, r)
		if err != nil { // the savepoint machinery itself failed
			_ = sqlTx.Rollback()
			failAll(append(committed, r), err)
			failAll(remaining(live, r), err)
			return
		}
		if ok {
			committed = append(committed, r)
		}
	}
	if err := sqlTx.Commit(); err != nil {
		failAll(committed, fmt.Errorf("sqlite: commit: %w", err))
	}
}

// runInSavepoint runs one caller's fn; ok reports whether its work stays.
func runInSavepoint(sqlTx *sql.Tx, stmts *sqlstore.Statements, r *batchReq) (ok bool, err error) {
	ctx := context.WithoutCancel(r.ctx)
	if _, err := sqlTx.ExecContext(ctx, "SAVEPOINT kw"); err != nil {
		return false, fmt.Errorf("sqlite: savepoint: %w", err)
	}
	func() {
		defer func() {
			if v := recover(); v != nil {
				r.panicked, r.panicVal = true, v
			}
		}()
		r.err = r.fn(ctx, sqlstore.NewTx(sqlTx, stmts))
	}()
	if r.err != nil || r.panicked {
		if _, err := sqlTx.ExecContext(ctx, "ROLLBACK TO kw; RELEASE kw"); err != nil {
			return false, fmt.Errorf("sqlite: rollback to savepoint: %w", err)
		}
		return false, nil
	}
	if _, err := sqlTx.ExecContext(ctx, "RELEASE kw"); err != nil {
		return false, fmt.Errorf("sqlite: release savepoint: %w", err)
	}
	return true, nil
}

func remaining(live []*batchReq, after *batchReq) []*batchReq {
	for i, r := range live {
		if r == after {
			return live[i+1:]
		}
	}
	return nil
}

func failAll(reqs []*batchReq, err error) {
	for _, r := range reqs {
		if !r.panicked {
			r.err = err
		}
	}
}

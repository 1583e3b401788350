package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"

	"github.com/keyward/keyward"
)

// Group commit. Both stores serialize writers (SQLite has one; PostgreSQL
// takes one lock for the cluster's), and much of a small write
// transaction's cost is what surrounds it: BEGIN, the lock, COMMIT and its
// flush to disk. When several Update calls wait at once, the first becomes
// the leader and runs them all in one transaction. They run without
// savepoints first: when every call succeeds (the common case) the batch
// commits having spent nothing on savepoints (on PostgreSQL each is a round
// trip inside the write lock; on SQLite a journal of every page the call
// touches). When one fails or panics, the transaction is rolled back and
// the batch runs again, each call in its own SAVEPOINT: a call that fails
// is rolled back to its savepoint alone, the others commit together. That
// relies on the Store contract: a backend may run fn again, and fn keeps
// no effect of an attempt that failed. Savepoints are left nested rather
// than released one by one; the commit releases them all. Every caller
// still returns only after the commit that holds its work, so the
// durability of each Update is unchanged; only the commits are shared.

type batchReq struct {
	ctx      context.Context
	fn       func(context.Context, keyward.Tx) error
	err      error
	panicked bool
	panicVal any
	// heldFailed: a write the call kept back failed; its pass is thrown
	// away and it runs again with nothing kept back (combine.go).
	heldFailed bool
	done       chan struct{}
}

// Batcher runs Update calls in shared transactions. Begin opens a batch's
// read-write transaction (and takes whatever lock the store's writers
// take), and may tell the head of the audit log then (-1: it did not
// read it); Name prefixes errors.
type Batcher struct {
	Begin func(ctx context.Context) (tx *sql.Tx, auditHead int64, err error)
	Stmts *Statements
	Name  string
	// Committed, if set, is called after each commit (SQLite's WAL
	// checkpointer listens).
	Committed func()
	// Aborted, if set, reports whether err says the transaction was
	// aborted by an earlier failed statement (PostgreSQL aborts it until a
	// rollback; SQLite goes on). A call that swallows such a failure and
	// returns nil is then found out and fails alone, rolled back to its
	// savepoint, instead of failing every call after it in the batch.
	Aborted func(error) bool

	mu      sync.Mutex
	pending []*batchReq
	leading bool
}

// maxBatch bounds how much work one commit carries, so that a failed commit
// (which fails every call in it) stays small.
const maxBatch = 64

// Update runs fn in the next batch and returns once that batch committed
// (or fn failed alone). A caller whose ctx ends while its call is still
// queued (behind a running batch, or while the writers' lock is awaited)
// leaves at once with ctx's error, and its fn never runs; once its call
// is in a batch, it waits for that batch's outcome.
func (b *Batcher) Update(ctx context.Context, fn func(context.Context, keyward.Tx) error) error {
	req := &batchReq{ctx: ctx, fn: fn, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, req)
	lead := !b.leading
	b.leading = true
	b.mu.Unlock()
	if lead {
		go b.lead()
	}
	select {
	case <-req.done:
	case <-ctx.Done():
		if b.withdraw(req) {
			return ctx.Err()
		}
		<-req.done // in a batch already: its outcome is on its way
	}
	if req.panicked {
		panic(req.panicVal)
	}
	return req.err
}

// withdraw takes req out of the queue, reporting whether it was still
// there (not yet in a batch).
func (b *Batcher) withdraw(req *batchReq) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i := slices.Index(b.pending, req); i >= 0 {
		b.pending = slices.Delete(b.pending, i, i+1)
		return true
	}
	return false
}

// lead runs one batch of the calls queued, on a goroutine of its own, then
// goes on to the next while calls are waiting, so that no caller waits on
// other callers' work for longer than one batch.
//
// The transaction, and with it the writers' lock, is taken before the
// batch is: the calls that arrive while the leader waits for the lock (on
// a cluster, while another node holds it) join the batch it then runs.
func (b *Batcher) lead() {
	for {
		// The transaction outlives any one caller's context: cancelling a
		// statement inside a shared transaction would roll back the others.
		sqlTx, head, err := b.Begin(context.Background())
		b.mu.Lock()
		n := min(len(b.pending), maxBatch)
		batch := b.pending[:n:n]
		b.pending = b.pending[n:]
		b.mu.Unlock()
		b.run(sqlTx, head, err, batch)
		for _, r := range batch {
			close(r.done)
		}
		b.mu.Lock()
		more := len(b.pending) > 0
		b.leading = more
		b.mu.Unlock()
		if !more {
			return
		}
	}
}

func (b *Batcher) run(sqlTx *sql.Tx, head int64, beginErr error, batch []*batchReq) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		live = append(live, r)
	}
	if beginErr != nil {
		failAll(live, beginErr)
		return
	}
	if len(live) == 0 {
		_ = sqlTx.Rollback()
		return
	}
	st := b.newState(head)
	if len(live) == 1 {
		b.runAlone(sqlTx, st, live[0])
		return
	}
	if b.runTogether(sqlTx, st, live) {
		return
	}
	// One call failed: the batch runs again, each call in a savepoint, in
	// a transaction of its own.
	var err error
	if sqlTx, head, err = b.Begin(context.Background()); err != nil {
		failAll(live, err)
		return
	}
	st = b.newState(head)
	var committed []*batchReq
	for _, r := range live {
		ok, err := b.runInSavepoint(sqlTx, st, r)
		if err != nil && b.blameLast(sqlTx, st, err, &committed) {
			ok, err = b.runInSavepoint(sqlTx, st, r) // again, on a sound transaction
		}
		if err != nil { // the savepoint machinery itself failed
			_ = sqlTx.Rollback()
			st.digests.rolledBack()
			failAll(append(committed, r), err)
			failAll(remaining(live, r), err)
			return
		}
		if ok {
			committed = append(committed, r)
		}
	}
	if b.Aborted != nil && len(committed) > 0 {
		// The last call may have left the transaction aborted too; a
		// savepoint tells (this pass runs only after a call failed).
		if _, err := sqlTx.ExecContext(context.Background(), "SAVEPOINT kw"); err != nil && !b.blameLast(sqlTx, st, err, &committed) {
			_ = sqlTx.Rollback()
			st.digests.rolledBack()
			failAll(committed, fmt.Errorf("%s: savepoint: %w", b.Name, err))
			return
		}
	}
	if err := sqlTx.Commit(); err != nil {
		failAll(committed, fmt.Errorf("%s: commit: %w", b.Name, err))
		return
	}
	b.committed(st)
}

// blameLast handles err, met as a call's savepoint was taken: when it says
// the transaction was already aborted, the last call that returned nil
// had swallowed a failed statement. That call is rolled back to its
// savepoint (the newest: savepoints nest) and fails; the transaction is
// sound again. It reports whether it did so.
func (b *Batcher) blameLast(sqlTx *sql.Tx, st *batchState, err error, committed *[]*batchReq) bool {
	if b.Aborted == nil || !b.Aborted(err) || len(*committed) == 0 {
		return false
	}
	if _, rerr := sqlTx.ExecContext(context.Background(), "ROLLBACK TO SAVEPOINT kw"); rerr != nil {
		return false
	}
	st.forget()
	st.digests.rollbackTo()
	last := (*committed)[len(*committed)-1]
	*committed = (*committed)[:len(*committed)-1]
	last.err = fmt.Errorf("%s: a statement of this call failed and the call went on as if it had not; its work was rolled back", b.Name)
	return true
}

// committed follows a commit of st's transaction. (A commit that failed
// tells nothing: the next transaction's begin decides, digests.go.)
func (b *Batcher) committed(st *batchState) {
	st.digests.committed()
	if b.Committed != nil {
		b.Committed()
	}
}

// runTogether runs every call of a batch in the transaction with no
// savepoint and commits. It reports false, having rolled back and reset
// the calls' outcomes, as soon as one fails or panics.
func (b *Batcher) runTogether(sqlTx *sql.Tx, st *batchState, live []*batchReq) bool {
	st.hold = true
	again := func() bool {
		_ = sqlTx.Rollback()
		st.digests.rolledBack()
		for _, r := range live {
			r.reset()
		}
		return false
	}
	for _, r := range live {
		b.call(sqlTx, st, r)
		if r.err != nil || r.panicked {
			return again()
		}
	}
	retry, err := commitHeld(context.Background(), sqlTx, b.Stmts, st)
	if retry {
		return again()
	}
	if err != nil {
		if b.Aborted != nil && b.Aborted(err) {
			// A call went on over a failed statement: find it, a
			// savepoint per call.
			for _, r := range live {
				r.reset()
			}
			return false
		}
		failAll(live, fmt.Errorf("%s: commit: %w", b.Name, err))
		return true
	}
	b.committed(st)
	return true
}

// runAlone runs the only call of a batch without a savepoint: its failure
// rolls back the whole transaction. A savepoint journals the original of
// every page the call touches, which for a thousand-key import written
// alone was a tenth of its time. Where the store combines writes, the call
// keeps them back; if one of them fails, it runs again in a transaction
// of its own with nothing kept back.
func (b *Batcher) runAlone(sqlTx *sql.Tx, st *batchState, r *batchReq) {
	st.hold = b.Stmts.d.CommitWith != nil
	b.call(sqlTx, st, r)
	if st.hold && (r.err != nil || r.panicked) && len(st.pending) > 0 {
		// The call failed while writes it was told had succeeded were
		// still kept back. Had one of them failed, it would have been
		// told so and might have done otherwise: then its outcome is that
		// of a run with nothing kept back.
		t := &tx{tx: sqlTx, stmts: b.Stmts.stmts, d: b.Stmts.d, batch: st}
		if t.flush(context.Background()) != nil {
			r.reset()
			r.heldFailed = true
		}
	}
	if st.hold && !r.heldFailed && r.err == nil && !r.panicked {
		retry, err := commitHeld(context.Background(), sqlTx, b.Stmts, st)
		switch {
		case retry:
			r.heldFailed = true
		case err != nil:
			r.err = fmt.Errorf("%s: commit: %w", b.Name, err)
			return
		default:
			b.committed(st)
			return
		}
	}
	if r.heldFailed {
		_ = sqlTx.Rollback()
		st.digests.rolledBack()
		r.reset()
		var head int64
		var err error
		if sqlTx, head, err = b.Begin(context.Background()); err != nil {
			r.err = err
			return
		}
		st = b.newState(head)
		b.call(sqlTx, st, r)
	}
	if r.err != nil || r.panicked {
		_ = sqlTx.Rollback()
		st.digests.rolledBack()
		return
	}
	if err := sqlTx.Commit(); err != nil {
		r.err = fmt.Errorf("%s: commit: %w", b.Name, err)
		return
	}
	b.committed(st)
}

// runInSavepoint runs one caller's fn; ok reports whether its work stays.
func (b *Batcher) runInSavepoint(sqlTx *sql.Tx, st *batchState, r *batchReq) (ok bool, err error) {
	ctx := context.WithoutCancel(r.ctx)
	if _, err := sqlTx.ExecContext(ctx, "SAVEPOINT kw"); err != nil {
		return false, fmt.Errorf("%s: savepoint: %w", b.Name, err)
	}
	st.digests.savepoint()
	b.call(sqlTx, st, r)
	if r.err != nil || r.panicked {
		st.forget() // what the call read or wrote is undone
		for _, q := range []string{"ROLLBACK TO SAVEPOINT kw", "RELEASE SAVEPOINT kw"} {
			if _, err := sqlTx.ExecContext(ctx, q); err != nil {
				return false, fmt.Errorf("%s: rollback to savepoint: %w", b.Name, err)
			}
		}
		st.digests.rollbackTo()
		st.digests.release()
		return false, nil
	}
	return true, nil // the savepoint stays, nested: the commit releases it
}

// reset forgets the outcome of a pass thrown away.
func (r *batchReq) reset() {
	r.err, r.panicked, r.panicVal, r.heldFailed = nil, false, nil, false
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

// batchState is what the calls of one batch, one after the other in its
// transaction, may know without asking the database again: the head of
// the audit log, which no other writer can move while the batch holds the
// writers' lock. A call rolled back to its savepoint forgets it.
type batchState struct {
	auditHead int64
	headKnown bool

	// hold: the optimistic pass, whose calls keep writes back (pending)
	// to be written together (combine.go); heldFrom is the first audit
	// record among them (0: none).
	hold     bool
	pending  []pendingWrite
	heldFrom int64

	// digests: the credentials this transaction inserted, for a store
	// that keeps digests unique itself (digests.go); nil otherwise.
	digests *txDigests
}

// newBatchState is the state of a batch that began with the audit log's
// head at head (-1: not known yet).
func newBatchState(head int64) *batchState {
	return &batchState{auditHead: max(head, 0), headKnown: head >= 0}
}

// newState is the state of a transaction b just began.
func (b *Batcher) newState(head int64) *batchState {
	st := newBatchState(head)
	st.digests = b.Stmts.digests.begin()
	return st
}

func (st *batchState) forget() { st.headKnown = false }

// call runs r's fn in sqlTx, keeping its error or panic in r. The
// transaction outlives r's context: cancelling a statement inside a shared
// transaction would roll back the others.
func (b *Batcher) call(sqlTx *sql.Tx, st *batchState, r *batchReq) {
	t := &tx{tx: sqlTx, stmts: b.Stmts.stmts, d: b.Stmts.d, batch: st}
	defer func() {
		if v := recover(); v != nil {
			r.panicked, r.panicVal = true, v
		}
		if t.failed != nil {
			// The pass is over (the call was stopped by passOver, or
			// went on when told it was, or the write failed at the end).
			r.err, r.heldFailed, r.panicked, r.panicVal = t.failed, true, false, nil
		}
	}()
	r.err = r.fn(context.WithoutCancel(r.ctx), t)
}

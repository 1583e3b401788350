package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/keyward/keyward"
)

// Combined writes (Dialect.CommitWith). On a cluster every write holds
// the writers' lock, and under load most of a batch's time under it was
// the wait for each reply before the next statement: a key create made
// three (key row, credential, audit record). So a batch's first pass runs
// its calls with the inserts nothing reads back at once kept back: key
// rows, credentials, and the calls' audit records (numbered from the head
// the batch holds). They are written by one statement, as multi-row
// inserts: with the COMMIT where the dialect can send both at once
// (CommitWith), else just before it, or before the next statement that
// reads.
//
// A write kept back answers nil at once, and a caller may act on that
// answer (the core reports an import's bad row by its line, and remaps
// conflicts). So the pass is optimistic: if a write kept back fails, the
// pass is thrown away and the batch runs again with every statement run
// when it is made, each call in a savepoint (Batcher), so that each call
// sees its own failures where they happen, as on SQLite. A write kept back
// changes how many round trips a call costs, never what it is told.

// pendingWrite is a write kept back: its statement (an INSERT ... VALUES
// of one row) and its arguments.
type pendingWrite struct {
	q    query
	args []any
}

// maxPending bounds how many writes wait, and so the size of the
// statement that carries them.
const maxPending = 256

// Run runs fn in sqlTx with s's statements, every statement when it is
// made: a read-only transaction, or one whose writes the store need not
// follow (see Update).
func Run(ctx context.Context, sqlTx *sql.Tx, s *Statements, fn func(context.Context, keyward.Tx) error) error {
	return fn(ctx, &tx{tx: sqlTx, stmts: s.stmts, d: s.d})
}

// Update is a read-write transaction of a store that does not batch
// (SQLite in memory): Run, then Commit or Rollback, so that the store
// learns what the transaction inserted once it has ended (digests.go).
type Update struct{ t *tx }

// BeginUpdate starts an Update on sqlTx with s's statements, every
// statement run when it is made.
func BeginUpdate(sqlTx *sql.Tx, s *Statements) *Update {
	return &Update{t: &tx{tx: sqlTx, stmts: s.stmts, d: s.d, digests: s.digests.begin()}}
}

// Run runs fn in the transaction.
func (u *Update) Run(ctx context.Context, fn func(context.Context, keyward.Tx) error) error {
	return fn(ctx, u.t)
}

// Commit commits the transaction.
func (u *Update) Commit() error {
	if err := u.t.tx.Commit(); err != nil {
		return err // committed or not: the next transaction's begin decides
	}
	u.t.digests.committed()
	return nil
}

// Rollback rolls the transaction back.
func (u *Update) Rollback() {
	_ = u.t.tx.Rollback()
	u.t.digests.rolledBack()
}

// holding reports whether t keeps writes back: in the optimistic pass of
// a batch, on a database that combines writes.
func (t *tx) holding() bool { return t.d.CommitWith != nil && t.batch != nil && t.batch.hold }

// execLater runs q, an INSERT whose failure its caller only reports (as
// fail(err)), or keeps it back while t is holding.
func (t *tx) execLater(ctx context.Context, q query, fail func(error) error, args ...any) error {
	if !t.holding() {
		if _, err := t.exec(ctx, q, args...); err != nil {
			return fail(err)
		}
		return nil
	}
	t.keepBack(ctx, q, args...)
	return nil
}

// keepBack adds q to what the batch keeps back. A failure is never the
// caller's to report: it throws the pass away (see sync).
func (t *tx) keepBack(ctx context.Context, q query, args ...any) {
	st := t.batch
	st.pending = append(st.pending, pendingWrite{q: q, args: args})
	if len(st.pending) >= maxPending {
		t.sync(ctx)
	}
}

// passOver stops a call whose pass is over: a write kept back failed, and
// what the call would be told next (PostgreSQL refuses every statement of
// the transaction) is not what it is told when nothing is kept back.
// Batcher.call recovers it; the batch runs again.
type passOver struct{}

// sync writes what the batch keeps back before a statement of the call's
// own, and stops the call (passOver) if that fails: the call is never
// answered by a transaction its kept-back writes left aborted.
func (t *tx) sync(ctx context.Context) {
	if t.flush(ctx) != nil {
		panic(passOver{})
	}
}

// holdsAudit reports whether the audit record seq may be kept back: it
// follows the head the batch knows.
func (t *tx) holdsAudit(seq int64) bool {
	return t.holding() && t.batch.headKnown && seq == t.batch.auditHead+1
}

// flush writes what the batch keeps back, in one statement. When audit
// records are among it, the statement also reads the head they follow, as
// it was before them, and fails unless it is the one they were numbered
// from. A failure is the pass's (see Batcher.call).
func (t *tx) flush(ctx context.Context) error {
	if t.failed != nil || t.batch == nil || len(t.batch.pending) == 0 {
		return t.failed
	}
	st := t.batch
	writes := st.pending
	st.pending = nil
	held := st.heldFrom > 0
	follows := st.heldFrom - 1 // the head the audit records kept back follow
	st.heldFrom = 0
	text, args := withWrites(t.d, writes, queries[qAuditHead])
	var head int64
	if err := t.tx.QueryRowContext(ctx, text, args...).Scan(&head); err != nil {
		t.failed = fmt.Errorf("writes kept back: %w", err)
	} else if held && head != follows {
		t.failed = conflict("audit records kept back follow record %d, but the log's head was %d", follows, head)
	}
	return t.failed
}

// commitHeld writes what the pass kept back and commits. retry reports
// that nothing was committed and the pass must run again without keeping
// writes back (a write, or the check of the audit head, failed); err is a
// commit that failed otherwise.
//
// Where the dialect can (CommitWith), the writes, the check and the
// COMMIT go in one round trip: the lock is released when the database
// gets there, not one reply and one wake-up of this node later.
func commitHeld(ctx context.Context, sqlTx *sql.Tx, s *Statements, st *batchState) (retry bool, err error) {
	t := &tx{tx: sqlTx, stmts: s.stmts, d: s.d, batch: st}
	if s.d.CommitWith == nil || len(st.pending) == 0 {
		if t.flush(ctx) != nil {
			return true, nil
		}
		return false, sqlTx.Commit()
	}
	writes := st.pending
	st.pending = nil
	check, checkArgs := "SELECT 1", []any(nil)
	if st.heldFrom > 0 {
		check, checkArgs = s.d.CheckAuditHead, []any{st.heldFrom - 1}
	}
	text, args := withWrites(s.d, writes, check)
	return s.d.CommitWith(ctx, sqlTx, text, append(args, checkArgs...))
}

// withWrites is the statement that runs main after writes, each statement
// of writes a WITH clause inserting all its rows, and the writes'
// arguments (main's own, if any, go after them). PostgreSQL runs every clause, whatever main reads, and
// checks foreign keys at the end of the statement, so a credential may
// refer to a key row inserted beside it.
func withWrites(d *Dialect, writes []pendingWrite, main string) (string, []any) {
	var order []query
	rows := map[query][]pendingWrite{}
	for _, w := range writes {
		if rows[w.q] == nil {
			order = append(order, w.q)
		}
		rows[w.q] = append(rows[w.q], w)
	}
	var key strings.Builder
	var args []any
	for _, q := range order {
		fmt.Fprintf(&key, "%d×%d,", q, len(rows[q]))
		for _, w := range rows[q] {
			args = append(args, w.args...)
		}
	}
	key.WriteString(main)
	if s, ok := combinedSQL.Load(key.String()); ok {
		return s.(string), args
	}
	var b strings.Builder
	for i, q := range order {
		head, tuple, _ := strings.Cut(queries[q], " VALUES ")
		if i == 0 {
			b.WriteString("WITH ")
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "w%d AS (%s VALUES %s", i, head, tuple)
		for range len(rows[q]) - 1 {
			b.WriteString(", ")
			b.WriteString(tuple)
		}
		b.WriteString(")")
	}
	b.WriteString(" ")
	b.WriteString(main)
	s := d.Rewrite(b.String())
	combinedSQL.Store(key.String(), s)
	return s, args
}

// combinedSQL caches the dialect's text of each combination of writes and
// main statement.
var combinedSQL sync.Map

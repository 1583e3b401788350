package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/keyward/keyward"
)

// Combined writes (Dialect.CombineWrites). On a cluster every write holds
// the writers' lock, and a round trip to PostgreSQL under load lasts longer
// than the inserts it carries: a key create made three (key row,
// credential, audit record), and the lock was held for them one after the
// other. So an INSERT that nothing reads back at once is kept back
// (execLater) and sent with the transaction's next statement, as a WITH
// clause of it. Inserts of the same statement go as one multi-row INSERT.
//
// Within a batch that runs its calls without savepoints (the common case,
// Batcher.runTogether), the writes kept back are the batch's, and so are
// its calls' audit records (their sequence numbers are known: the batch
// holds the lock and knows the head): a batch of key creates is written by
// one statement before its commit. Should it fail, the batch runs again,
// each call in a savepoint with writes kept back for its own next
// statement only, so that the failure is its call's alone.
//
// A write kept back returns nil to its caller; its failure is the failure
// of the call that made it (see Run), or of the batch that held it.

// pendingWrite is a write kept back: its statement (an INSERT ... VALUES
// of one row), its arguments, and what the method that made it returns for
// its failure.
type pendingWrite struct {
	q    query
	args []any
	fail func(error) error
}

// maxPending bounds how many writes wait, and so the size of the
// statement that carries them.
const maxPending = 256

// Run runs fn in sqlTx with s's statements. It returns fn's error, or the
// error of a write fn made that waited to be combined with a later
// statement and failed: that is the call's failure even when fn went on,
// or returned another error because of it.
func Run(ctx context.Context, sqlTx *sql.Tx, s *Statements, fn func(context.Context, keyward.Tx) error) error {
	return (&tx{tx: sqlTx, stmts: s.stmts, d: s.d}).run(ctx, fn)
}

// runBatched is Run for one call of a batch, sharing st with the others.
func runBatched(ctx context.Context, sqlTx *sql.Tx, s *Statements, st *batchState, fn func(context.Context, keyward.Tx) error) error {
	return (&tx{tx: sqlTx, stmts: s.stmts, d: s.d, batch: st}).run(ctx, fn)
}

func (t *tx) run(ctx context.Context, fn func(context.Context, keyward.Tx) error) error {
	err := fn(ctx, t)
	switch {
	case t.failed != nil:
		return t.failed
	case err != nil:
		// The call's work is rolled back: in a shared batch, with the
		// whole batch, which then runs again.
		t.own = nil
		return err
	case t.shared():
		return nil // written before the batch commits (flushBatch)
	}
	return t.flush(ctx)
}

// shared reports whether the writes t keeps back are its batch's.
func (t *tx) shared() bool { return t.batch != nil && t.batch.share }

func (t *tx) pending() *[]pendingWrite {
	if t.shared() {
		return &t.batch.pending
	}
	return &t.own
}

// execLater runs q, an INSERT whose failure its caller only reports (as
// fail(err)), now, or with the transaction's next statement where the
// dialect combines writes.
func (t *tx) execLater(ctx context.Context, q query, fail func(error) error, args ...any) error {
	if t.failed != nil {
		return t.failed
	}
	if !t.d.CombineWrites {
		if _, err := t.exec(ctx, q, args...); err != nil {
			return fail(err)
		}
		return nil
	}
	p := t.pending()
	*p = append(*p, pendingWrite{q: q, args: args, fail: fail})
	if len(*p) >= maxPending {
		return t.flush(ctx)
	}
	return nil
}

// holdsAudit reports whether the audit record seq may be kept back: only
// in a shared batch that knows the head it follows.
func (t *tx) holdsAudit(seq int64) bool {
	return t.d.CombineWrites && t.shared() && t.batch.headKnown && seq == t.batch.auditHead+1
}

// flush writes what is kept back, in one statement. When audit records
// are among it, the statement also reads the head they follow, as it was
// before them, and fails unless it is the one they were numbered from.
func (t *tx) flush(ctx context.Context) error {
	if t.failed != nil {
		return t.failed
	}
	p := t.pending()
	if len(*p) == 0 {
		return nil
	}
	writes := *p
	*p = nil
	held := t.shared() && t.batch.heldFrom > 0
	var follows int64 // the head the audit records kept back follow
	if held {
		follows = t.batch.heldFrom - 1
		t.batch.heldFrom = 0
	}
	text, args := withWrites(t.d, writes, nil, queries[qAuditHead])
	var head int64
	if err := t.tx.QueryRowContext(ctx, text, args...).Scan(&head); err != nil {
		t.failed = t.blame(writes, "", err)
	} else if held && head != follows {
		t.failed = conflict("audit records kept back follow record %d, but the log's head was %d", follows, head)
	}
	return t.failed
}

// flushBatch writes what the calls of a shared batch kept back, before
// the batch commits.
func flushBatch(ctx context.Context, sqlTx *sql.Tx, s *Statements, st *batchState) error {
	return (&tx{tx: sqlTx, stmts: s.stmts, d: s.d, batch: st}).flush(ctx)
}

// execWith runs q with the writes kept back before it, in one statement
// (when q is an INSERT that can carry them: combinable). The result is
// q's own. When one of the writes kept back failed, the error is its
// caller's (fail), and stays the transaction's.
func (t *tx) execWith(ctx context.Context, q query, args []any) (sql.Result, error) {
	p := t.pending()
	if len(*p) == 0 || t.shared() || !combinable(q, *p) {
		return t.stmt(ctx, q).ExecContext(ctx, args...)
	}
	writes := *p
	*p = nil
	text, all := withWrites(t.d, writes, args, queries[q])
	res, err := t.tx.ExecContext(ctx, text, all...)
	if err != nil {
		if failed := t.blame(writes, insertsInto(q), err); failed != nil {
			t.failed = failed
			return nil, failed
		}
		return nil, err
	}
	return res, nil
}

// blame is the error of a statement carrying writes that failed with err:
// the failure of the write kept back whose table failed (its caller's
// error), else err itself unless err is own's (the table of the statement
// that carried them), which its caller handles.
func (t *tx) blame(writes []pendingWrite, own string, err error) error {
	table := ""
	if t.d.FailedTable != nil {
		table = t.d.FailedTable(err)
	}
	for _, w := range writes {
		if table != "" && insertsInto(w.q) == table {
			return w.fail(err)
		}
	}
	if own != "" && table == own {
		return nil
	}
	return err
}

// withWrites is the statement that runs main after writes, each statement
// of writes a WITH clause inserting all its rows, and its arguments
// (mainArgs last). PostgreSQL runs every clause, whatever main reads, and
// checks foreign keys at the end of the statement, so a credential may
// refer to a key row inserted beside it.
func withWrites(d *Dialect, writes []pendingWrite, mainArgs []any, main string) (string, []any) {
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
		return s.(string), append(args, mainArgs...)
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
	return s, append(args, mainArgs...)
}

// combinedSQL caches the dialect's text of each combination of writes and
// main statement.
var combinedSQL sync.Map

// combinable reports whether q can carry the writes pending as WITH
// clauses: the parts of one statement do not see one another's rows, so q
// must be an INSERT that reads none of the tables they write (an UPDATE
// of a key inserted beside it would find no row).
func combinable(q query, pending []pendingWrite) bool {
	table := insertsInto(q)
	if table == "" {
		return false
	}
	rest := queries[q][len("INSERT INTO "+table):]
	for _, p := range pending {
		if into := insertsInto(p.q); into == table || strings.Contains(rest, into) {
			return false
		}
	}
	return true
}

// insertsInto is the table q inserts into ("" for another statement).
func insertsInto(q query) string {
	rest, ok := strings.CutPrefix(queries[q], "INSERT INTO ")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, " \t\n("); i >= 0 {
		return rest[:i]
	}
	return rest
}

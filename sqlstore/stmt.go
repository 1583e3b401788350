package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/keyward/keyward"
)

// query names one of the store's fixed SQL statements. Every statement is
// declared at package level with register, prepared on each pool by
// Prepare and then reused by every transaction: preparing a statement
// costs more than running a small one, and key creation has to stay cheap.
//
// Statements are prepared up front rather than on first use because
// SQLite's write pool has one connection: preparing on the pool from
// inside an Update would wait for the connection the Update holds.
//
// They are written once, in the SQL both SQLite and PostgreSQL accept,
// with ? placeholders; a Dialect rewrites what differs (placeholders,
// json_each) when they are prepared.
type query int

var queries []string

func register(sql string) query {
	queries = append(queries, sql)
	return query(len(queries) - 1)
}

// Dialect is what differs between the databases the store runs on.
type Dialect struct {
	// Rewrite turns a statement as registered into the database's SQL.
	Rewrite func(sql string) string
	// IsDuplicate reports a UNIQUE or PRIMARY KEY violation. Which one it
	// was is read from the error's text, which names the constraint as
	// "table.column" (SQLite's messages do; PostgreSQL's schema names its
	// constraints so).
	IsDuplicate func(error) bool
	// IsMissingParent reports a FOREIGN KEY violation: the row refers to
	// one that does not exist.
	IsMissingParent func(error) bool
	// OneResultAtATime: a connection cannot step through two result sets
	// at once (PostgreSQL's protocol), so the streaming reads page
	// instead of merging open cursors.
	OneResultAtATime bool
	// ErrorAbortsTx: a failed statement aborts the whole transaction
	// (PostgreSQL), so a statement whose failure the store goes on from
	// (to find out which parent row is missing, say) runs under a
	// savepoint.
	ErrorAbortsTx bool
	// CombineWrites: a round trip to the database costs more than the
	// statements it carries (PostgreSQL over a network), so inserts that
	// nothing reads back at once wait and go with the transaction's next
	// statement, as one (see execLater).
	CombineWrites bool
	// FailedTable names the table of the statement that failed with err
	// ("" when it does not tell); it says which of combined writes failed.
	FailedTable func(err error) string
}

// Statements are the store's statements prepared on one *sql.DB.
type Statements struct {
	d     *Dialect
	stmts []*sql.Stmt // indexed by query
}

// Prepare prepares every statement on db in d's SQL.
func Prepare(ctx context.Context, db *sql.DB, d *Dialect) (*Statements, error) {
	s := &Statements{d: d, stmts: make([]*sql.Stmt, len(queries))}
	for i, q := range queries {
		st, err := db.PrepareContext(ctx, d.Rewrite(q))
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("prepare %q: %w", q, err)
		}
		s.stmts[i] = st
	}
	return s, nil
}

// Close closes the prepared statements.
func (s *Statements) Close() {
	for _, st := range s.stmts {
		if st != nil {
			_ = st.Close()
		}
	}
}

// Run runs fn in sqlTx with s's statements. It returns fn's error, or the
// error of a write fn made that waited to be combined with a later
// statement (Dialect.CombineWrites) and failed: that is the call's failure
// even when fn went on, or returned another error because of it.
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
		t.pending = nil // rolled back with the rest of the call
		return err
	}
	return t.flush(ctx)
}

// tx implements keyward.Tx on a *sql.Tx.
type tx struct {
	tx    *sql.Tx
	stmts []*sql.Stmt
	d     *Dialect
	batch *batchState // nil outside a batch

	pending []pendingWrite // writes waiting for the next statement
	failed  error          // the first of them that failed
}

// pendingWrite is a write execLater kept back: its statement, its
// arguments, and what the method that made it returns for its failure.
type pendingWrite struct {
	q    query
	args []any
	fail func(error) error
}

// maxPending bounds how many writes wait, and so the size of the
// statement that carries them.
const maxPending = 16

// execLater runs q, an INSERT whose failure its caller only reports (as
// fail(err)), with the transaction's next statement where the dialect
// combines writes: a key create's key row, credential and audit record go
// in one round trip instead of three, which on a cluster is most of the
// time the writers' lock is held. The failure of a write kept back is the
// failure of the whole call (see Run); until then it returns nil.
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
	t.pending = append(t.pending, pendingWrite{q: q, args: args, fail: fail})
	if len(t.pending) >= maxPending {
		return t.flush(ctx)
	}
	return nil
}

// flush runs the writes kept back, as one statement.
func (t *tx) flush(ctx context.Context) error {
	if t.failed != nil || len(t.pending) == 0 {
		return t.failed
	}
	last := t.pending[len(t.pending)-1]
	t.pending = t.pending[:len(t.pending)-1]
	_, err := t.execWith(ctx, last.q, last.args)
	if err != nil && t.failed == nil {
		t.failed = last.fail(err)
	}
	return t.failed
}

// execWith runs q with the writes kept back before it, in one statement:
// each a data-modifying WITH clause of q (PostgreSQL runs them all, and
// checks foreign keys at the end of the statement, so a credential may
// refer to a key row inserted beside it). The result is q's own. When one
// of the writes kept back failed, the error is its caller's (fail), and
// stays the transaction's.
func (t *tx) execWith(ctx context.Context, q query, args []any) (sql.Result, error) {
	if len(t.pending) == 0 || !combinable(q, t.pending) {
		return t.stmt(ctx, q).ExecContext(ctx, args...)
	}
	pending := t.pending
	t.pending = nil
	var b strings.Builder
	var all []any
	for i, p := range pending {
		if i == 0 {
			b.WriteString("WITH ")
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "w%d AS (%s)", i, queries[p.q])
		all = append(all, p.args...)
	}
	b.WriteString(" ")
	b.WriteString(queries[q])
	all = append(all, args...)
	res, err := t.tx.ExecContext(ctx, combined(t.d, b.String()), all...)
	if err == nil {
		return res, nil
	}
	table := ""
	if t.d.FailedTable != nil {
		table = t.d.FailedTable(err)
	}
	for _, p := range pending {
		if table != "" && insertsInto(p.q) == table {
			t.failed = p.fail(err)
			return nil, t.failed
		}
	}
	if table != insertsInto(q) {
		t.failed = err // not q's own failure: the call's, whatever its caller does
	}
	return nil, err
}

// combinedSQL caches the dialect's text of each combination of statements.
var combinedSQL sync.Map // registered text → rewritten text

func combined(d *Dialect, sqlText string) string {
	if s, ok := combinedSQL.Load(sqlText); ok {
		return s.(string)
	}
	s := d.Rewrite(sqlText)
	combinedSQL.Store(sqlText, s)
	return s
}

// combinable reports whether q can carry the writes pending as WITH
// clauses: the parts of one statement do not see one another's rows, so q
// must be an INSERT that reads none of the tables they write (an UPDATE
// of a key inserted beside it would find no row).
func combinable(q query, pending []pendingWrite) bool {
	table := insertsInto(q)
	if table == "" {
		return false
	}
	rest := strings.TrimPrefix(queries[q], "INSERT INTO "+table)
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
	name, _, _ := strings.Cut(rest, " ")
	return name
}

var _ keyward.Tx = (*tx)(nil)

// stmt returns q bound to the transaction. database/sql reuses the statement
// already prepared on the transaction's connection, or prepares it there once.
//
// Writes kept back by execLater run first: whatever q reads then sees
// them. Their failure stays the transaction's (see Run), and q, which
// PostgreSQL then refuses, fails too.
func (t *tx) stmt(ctx context.Context, q query) *sql.Stmt {
	_ = t.flush(ctx)
	return t.tx.StmtContext(ctx, t.stmts[q])
}

// direct is the transaction for a statement the store builds at run time,
// after the writes kept back (as stmt).
func (t *tx) direct(ctx context.Context) *sql.Tx {
	_ = t.flush(ctx)
	return t.tx
}

// execProbe is exec for a statement whose failure the caller inspects and
// then goes on in the same transaction.
func (t *tx) execProbe(ctx context.Context, q query, args ...any) (sql.Result, error) {
	if !t.d.ErrorAbortsTx {
		return t.exec(ctx, q, args...)
	}
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	if _, err := t.tx.ExecContext(ctx, "SAVEPOINT probe"); err != nil {
		return nil, err
	}
	res, err := t.exec(ctx, q, args...)
	if err != nil {
		if _, rerr := t.tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT probe"); rerr != nil {
			return nil, rerr
		}
	}
	if _, rerr := t.tx.ExecContext(ctx, "RELEASE SAVEPOINT probe"); rerr != nil {
		return nil, rerr
	}
	return res, err
}

// exec runs q, together with the writes kept back before it.
func (t *tx) exec(ctx context.Context, q query, args ...any) (sql.Result, error) {
	if t.failed != nil {
		return nil, t.failed
	}
	return t.execWith(ctx, q, args)
}

func (t *tx) query(ctx context.Context, q query, args ...any) (*sql.Rows, error) {
	return t.stmt(ctx, q).QueryContext(ctx, args...)
}

func (t *tx) queryRow(ctx context.Context, q query, args ...any) *sql.Row {
	return t.stmt(ctx, q).QueryRowContext(ctx, args...)
}

// execOne runs q and reports whether it changed a row.
func (t *tx) execOne(ctx context.Context, q query, args ...any) (bool, error) {
	res, err := t.exec(ctx, q, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// exists reports whether q, a "SELECT EXISTS (...)", is true.
func (t *tx) exists(ctx context.Context, q query, args ...any) (bool, error) {
	var ok bool
	err := t.queryRow(ctx, q, args...).Scan(&ok)
	return ok, err
}

// each runs q and, for each row, scans it into dest and calls fn.
func (t *tx) each(ctx context.Context, q query, args []any, dest []any, fn func()) error {
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		fn()
	}
	return rows.Err()
}

// textList is the argument of the queries that read the rows belonging to
// several parents at once: a JSON array, read back with json_each.
func textList(items []string) string {
	b, _ := json.Marshal(items) // cannot fail for strings
	return string(b)
}

// scanText scans a single text column.
func scanText(s scanner) (string, error) {
	var v string
	err := s.Scan(&v)
	return v, err
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// collect scans every row of rows with scan.
func collect[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// deleteOne deletes the row keyed by id. ENOTFOUND when there is none; kind
// names the resource in that error.
func (t *tx) deleteOne(ctx context.Context, q query, kind, id string) error {
	return t.changeOne(ctx, q, kind, id, nil, id)
}

// changeOne runs a statement that must change exactly one row: the row of
// kind id. ENOTFOUND when none did; dup (when not nil) is returned for a
// uniqueness violation, such as a name already taken.
func (t *tx) changeOne(ctx context.Context, q query, kind, id string, dup error, args ...any) error {
	ok, err := t.execOne(ctx, q, args...)
	switch {
	case dup != nil && t.d.IsDuplicate(err):
		return dup
	case err != nil:
		return internal("change "+kind, err)
	case !ok:
		return notFound(kind, id)
	}
	return nil
}

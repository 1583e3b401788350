package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
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
	// CommitWith, if set, runs sql (writes kept back, then a check) with
	// args and commits sqlTx in one round trip; it is what makes a batch
	// keep writes back at all (combine.go), for a round trip to this
	// database costs more than the statements it carries. retry: the database
	// refused sql, nothing was committed; err: the commit may or may not
	// have happened (the connection failed).
	CommitWith func(ctx context.Context, sqlTx *sql.Tx, sql string, args []any) (retry bool, err error)
	// CheckAuditHead is a SELECT taking one argument that fails unless the
	// audit log's head, as the statement starts, is that argument.
	CheckAuditHead string
}

// Statements are the store's statements prepared on one *sql.DB.
type Statements struct {
	d     *Dialect
	stmts []*sql.Stmt // indexed by query
	// digests, if set, keeps credential digests unique (digests.go): on a
	// database with one writer and no unique index on them.
	digests *DigestSet
}

// KeepDigestsUnique makes the store check credential digests itself, in
// set, for a database whose schema has no unique index on them and that
// has one writer, in this process.
func (s *Statements) KeepDigestsUnique(set *DigestSet) { s.digests = set }

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

// tx implements keyward.Tx on a *sql.Tx.
type tx struct {
	tx    *sql.Tx
	stmts []*sql.Stmt
	d     *Dialect
	batch *batchState // nil outside a batch
	// digests: a write transaction's record of the credentials it
	// inserted, outside a batch (RunUpdate); in a batch, batch.digests.
	digests *txDigests

	failed error // set when writes kept back failed: the pass is over
}

// stmt returns q bound to the transaction. database/sql reuses the statement
// already prepared on the transaction's connection, or prepares it there once.
//
// Writes the batch keeps back (execLater) are written first: whatever q
// reads then sees them. If they fail, the call is stopped (sync).
func (t *tx) stmt(ctx context.Context, q query) *sql.Stmt {
	t.sync(ctx)
	return t.tx.StmtContext(ctx, t.stmts[q])
}

// direct is the transaction for a statement the store builds at run time,
// after the writes kept back (as stmt).
func (t *tx) direct(ctx context.Context) *sql.Tx {
	t.sync(ctx)
	return t.tx
}

// execProbe is exec for a statement whose failure the caller inspects and
// then goes on in the same transaction.
func (t *tx) execProbe(ctx context.Context, q query, args ...any) (sql.Result, error) {
	if !t.d.ErrorAbortsTx {
		return t.exec(ctx, q, args...)
	}
	t.sync(ctx)
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

func (t *tx) exec(ctx context.Context, q query, args ...any) (sql.Result, error) {
	return t.stmt(ctx, q).ExecContext(ctx, args...)
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

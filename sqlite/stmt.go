package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/keyward/keyward"
)

// query names one of the store's fixed SQL statements. Every statement is
// declared at package level with register, prepared on both pools by Open and
// then reused by every transaction: preparing a statement costs more than
// running a small one, and key creation has to stay cheap.
//
// Statements are prepared up front rather than on first use because the
// write pool has one connection: preparing on the pool from inside an Update
// would wait for the connection the Update holds.
type query int

var queries []string

func register(sql string) query {
	queries = append(queries, sql)
	return query(len(queries) - 1)
}

func (p *pool) prepare(ctx context.Context) error {
	p.stmts = make([]*sql.Stmt, len(queries))
	for i, q := range queries {
		s, err := p.db.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("sqlite: prepare %q: %w", q, err)
		}
		p.stmts[i] = s
	}
	return nil
}

// tx implements keyward.Tx on a *sql.Tx.
type tx struct {
	tx    *sql.Tx
	stmts []*sql.Stmt
}

var _ keyward.Tx = (*tx)(nil)

// stmt returns q bound to the transaction. database/sql reuses the statement
// already prepared on the transaction's connection, or prepares it there once.
func (t *tx) stmt(ctx context.Context, q query) *sql.Stmt {
	return t.tx.StmtContext(ctx, t.stmts[q])
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
	case dup != nil && isDuplicate(err):
		return dup
	case err != nil:
		return internal("change "+kind, err)
	case !ok:
		return notFound(kind, id)
	}
	return nil
}

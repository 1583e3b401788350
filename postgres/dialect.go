package postgres

import (
	"context"
	"database/sql"
	"errors"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/keyward/keyward/sqlstore"
)

var dialect = &sqlstore.Dialect{
	Rewrite:          rewrite,
	IsDuplicate:      func(err error) bool { return pgCode(err) == "23505" }, // unique_violation
	IsMissingParent:  func(err error) bool { return pgCode(err) == "23503" }, // foreign_key_violation
	OneResultAtATime: true,
	ErrorAbortsTx:    true,
	CommitWith:       commitWith,
	CheckAuditHead:   `SELECT keyward_audit_follows(?)`,
}

// commitWith sends sql, COMMIT and BEGIN as one simple-protocol query
// (pgx writes the arguments into it as literals): PostgreSQL runs them in
// order and stops at the first failure, so the batch's writes and their
// check commit together or not at all, in one round trip. BEGIN leaves the
// connection in a transaction for database/sql to commit, empty: without
// it, database/sql's own COMMIT would draw a warning in the server's log
// every batch.
//
// An error PostgreSQL reported (a constraint, the audit head check, a
// transaction already aborted) means nothing was committed: the pass runs
// again. Any other (the connection failed) leaves the commit unknown, as a
// failed COMMIT does.
func commitWith(ctx context.Context, sqlTx *sql.Tx, q string, args []any) (retry bool, err error) {
	_, err = sqlTx.ExecContext(ctx, q+"; COMMIT; BEGIN", append([]any{pgx.QueryExecModeSimpleProtocol}, args...)...)
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		_ = sqlTx.Rollback()
		return true, nil
	}
	if err != nil {
		_ = sqlTx.Rollback()
		return false, err
	}
	// Committed. What is left is the empty transaction BEGIN opened.
	_ = sqlTx.Commit()
	return false, nil
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// rewrite turns a statement written for SQLite into PostgreSQL's: a JSON
// array parameter read with json_each becomes json_array_elements_text
// (whose column is also named value), json_each over an object column
// json_each_text (key and value), SQLite's rowid the ord column that
// PostgreSQL's schema adds where a statement orders by it, and ?
// placeholders $1, $2, ... (the statements hold no ? in literals).
// inJSONList is how a statement filters a column by a JSON array parameter.
// PostgreSQL plans IN over a set-returning function as a hash semi join
// against a sequential scan of the whole table (it guesses the function
// returns 100 rows), so a change feed reading the one key that changed
// read every key; = ANY over an array is looked up in the column's index.
const (
	inJSONList = "IN (SELECT value FROM json_each(?))"
	inArray    = "= ANY(ARRAY(SELECT json_array_elements_text(?::json)))"
)

// jsonEachColumn is json_each over a JSON object column (its key and value).
var jsonEachColumn = regexp.MustCompile(`json_each\(([a-z_]+\.[a-z_]+)\)`)

func rewrite(sql string) string {
	sql = strings.ReplaceAll(sql, inJSONList, inArray)
	sql = strings.ReplaceAll(sql, "json_each(?)", "json_array_elements_text(?::json)")
	sql = jsonEachColumn.ReplaceAllString(sql, "json_each_text($1::json)")
	sql = strings.ReplaceAll(sql, "rowid", "ord")
	var b strings.Builder
	n := 0
	for _, r := range sql {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

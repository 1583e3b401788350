package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/keyward/keyward/sqlstore"
)

// copyTables are the tables a store holds, parents before children.
var copyTables = []string{
	"api_keys", "credentials", "apis", "usage_plans", "plan_keys",
	"secrets", "secret_versions", "secret_version_stages",
	"principals", "admin_tokens", "policies", "policy_attachments",
	"audit_records", "audit_chain_checkpoints", "audit_tree_hashes", "audit_tree_checkpoints", "audit_legacy",
	"idempotency", "key_usage", "key_last_used", "rotations",
	"webhooks", "webhook_deliveries", "notices",
}

// CopyFrom copies every row of a SQLite store (src, migrated to the same
// schema version, opened read-only) into this store, in one transaction:
// keys, credentials, secrets (still sealed), principals, policies, usage,
// rotations, webhooks and the audit log with its tree and checkpoints,
// as they are. It refuses a store that holds any row already.
//
// keys are the cluster's shared keys (name to sealed bytes, as SharedKey
// keeps them), stored in the same transaction.
func (s *DB) CopyFrom(ctx context.Context, src *sql.DB, keys map[string][]byte) (map[string]int, error) {
	counts := map[string]int{}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, unavailable(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(`+lockKey+`)`, int64(writeLock)); err != nil {
		return nil, unavailable(err)
	}
	for _, t := range append([]string{"cluster_keys"}, copyTables...) {
		var any bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+t+`)`).Scan(&any); err != nil {
			return nil, fmt.Errorf("postgres: %s: %w", t, err)
		}
		if any {
			return nil, fmt.Errorf("postgres: the target database is not empty (table %s has rows): copy into a new, empty database", t)
		}
	}
	for _, t := range copyTables {
		n, err := copyTable(ctx, src, tx, t)
		if err != nil {
			return nil, fmt.Errorf("postgres: copying %s: %w", t, err)
		}
		counts[t] = n
	}
	for name, sealed := range keys {
		if _, err := tx.ExecContext(ctx, `INSERT INTO cluster_keys (name, sealed, created_at) VALUES ($1, $2, $3)`,
			name, sealed, sqlstore.FormatTime(s.clock.Now())); err != nil {
			return nil, fmt.Errorf("postgres: storing the %s: %w", name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, unavailable(err)
	}
	return counts, nil
}

// copyTable copies table t's rows, column by column as PostgreSQL's schema
// names them (but ord, which PostgreSQL numbers itself in the order rows
// come, and rows come in SQLite's rowid order where it has one).
func copyTable(ctx context.Context, src *sql.DB, dst *sql.Tx, t string) (int, error) {
	rows, err := dst.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 AND column_name <> 'ord' ORDER BY ordinal_position`, t)
	if err != nil {
		return 0, err
	}
	var cols []string
	var boolCol []bool
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			rows.Close()
			return 0, err
		}
		cols = append(cols, `"`+name+`"`)
		boolCol = append(boolCol, typ == "boolean")
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	order := ""
	if t == "secret_versions" {
		order = " ORDER BY rowid" // insertion order, which ord keeps
	}
	in, err := src.QueryContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+t+order)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	marks := make([]string, len(cols))
	for i := range marks {
		marks[i] = fmt.Sprintf("$%d", i+1)
	}
	insert, err := dst.PrepareContext(ctx, `INSERT INTO `+t+` (`+strings.Join(cols, ", ")+`) VALUES (`+strings.Join(marks, ", ")+`)`)
	if err != nil {
		return 0, err
	}
	defer insert.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for in.Next() {
		if err := in.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, b := range boolCol {
			if v, ok := vals[i].(int64); ok && b {
				vals[i] = v != 0
			}
		}
		if _, err := insert.ExecContext(ctx, vals...); err != nil {
			return n, err
		}
		n++
	}
	return n, in.Err()
}

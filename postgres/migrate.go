package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/keyward/keyward/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
	// minNode: nodes that know fewer migrations than this cannot run on
	// the schema once this one is applied (it contracts: drops or renames
	// what they use). 0: it only expands, and older nodes run on.
	minNode int
}

// minNodeMark is how a migration file says it contracts the schema:
// "-- keyward:min-node-version N".
var minNodeMark = regexp.MustCompile(`(?m)^-- keyward:min-node-version (\d+)$`)

func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, n := range names {
		base := strings.TrimPrefix(n, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: no version number", base)
		}
		b, err := migrationFiles.ReadFile(n)
		if err != nil {
			return nil, err
		}
		m := migration{version: v, name: base, sql: string(b)}
		if mm := minNodeMark.FindStringSubmatch(m.sql); mm != nil {
			m.minNode, _ = strconv.Atoi(mm[1])
		}
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// migrationLock is the advisory lock key nodes take while migrating
// ("keyward" in ASCII, as an int64).
const migrationLock = 0x6b6579776172_64

// migrate applies the migrations the database lacks, holding a session
// advisory lock meanwhile: nodes starting together take turns, and each
// migration is applied once, in its own transaction.
//
// Rolling upgrades. Migrations expand the schema (add tables, columns,
// indexes) so that nodes of the previous version run on it while the
// others are upgraded one at a time; a migration that contracts it (drops
// or renames what older nodes use) says so with a line
// "-- keyward:min-node-version N", and comes in a later release than the
// code that stopped using what it drops. A node finding the schema newer
// than the migrations it knows runs on it, unless such a line asks for
// nodes newer than it, when it refuses to start.
func (s *DB) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+lockKey+`)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("postgres: migration lock: %w", err)
	}
	defer func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+lockKey+`)`, int64(migrationLock))
	}()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT PRIMARY KEY,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("postgres: create schema_migrations: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_compat (
		id               BIGINT PRIMARY KEY CHECK (id = 1),
		min_node_version BIGINT NOT NULL
	)`); err != nil {
		return fmt.Errorf("postgres: create schema_compat: %w", err)
	}
	known := int64(ms[len(ms)-1].version)
	var newest, minNode sql.NullInt64
	if err := conn.QueryRowContext(ctx, `SELECT (SELECT max(version) FROM schema_migrations), (SELECT min_node_version FROM schema_compat WHERE id = 1)`).Scan(&newest, &minNode); err != nil {
		return fmt.Errorf("postgres: read the schema version: %w", err)
	}
	if newest.Valid && newest.Int64 > known {
		// A newer node migrated the database (a rolling upgrade). Its
		// migrations only added (expand) unless one said otherwise.
		if minNode.Valid && minNode.Int64 > known {
			return fmt.Errorf("postgres: the database's schema is at version %d and needs nodes that know version %d or later; this node knows %d: upgrade it", newest.Int64, minNode.Int64, known)
		}
		return nil
	}
	for _, m := range ms {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("postgres: migration %s: %w", m.name, err)
		}
		var applied bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.version).Scan(&applied); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("postgres: migration %s: %w", m.name, err)
		}
		if applied {
			_ = tx.Rollback()
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("postgres: migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
			m.version, sqlstore.FormatTime(s.clock.Now())); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("postgres: migration %s: %w", m.name, err)
		}
		if m.minNode > 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_compat (id, min_node_version) VALUES (1, $1)
				ON CONFLICT (id) DO UPDATE SET min_node_version = greatest(schema_compat.min_node_version, excluded.min_node_version)`, m.minNode); err != nil {
				_ = tx.Rollback()
				return fmt.Errorf("postgres: migration %s: %w", m.name, err)
			}
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("postgres: migration %s: %w", m.name, err)
		}
	}
	return nil
}

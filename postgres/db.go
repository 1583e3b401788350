// Package postgres is keyward's store for a cluster: keyward.Store on one
// PostgreSQL database shared by every node, through pgx.
//
// It runs the same statements as the embedded SQLite store (package
// sqlstore), rewritten for PostgreSQL where the two differ, and is held
// to the same conformance suite (storetest).
//
// Isolation. Read-write transactions take one transaction-scoped advisory
// lock first, so that they run one after another across every node, as
// SQLite's single writer does (the Update calls waiting together on one
// node share one transaction, each in a savepoint: see beginWrite): the Store contract promises serialized
// writers, and every write appends to the one audit log, whose head all
// of them read. Under that lock READ COMMITTED is serial: each statement
// sees everything committed before it, and nothing else commits
// meanwhile. This caps writes at what one database session does in turn;
// sequencing the audit log apart from the writes is how the cluster is to
// go past that. View runs REPEATABLE READ READ ONLY: one snapshot for all
// its statements, which the gateway's load and the audit verifier rely
// on, and it never waits for the lock.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/keyward/keyward"
	"github.com/keyward/keyward/sqlstore"
)

// DB is a keyward.Store on a PostgreSQL database.
type DB struct {
	cfg   *pgx.ConnConfig // for the feed's own connection
	db    *sql.DB
	stmts *sqlstore.Statements
	clock keyward.Clock
	batch *sqlstore.Batcher // Update's group commit
}

var _ keyward.Store = (*DB)(nil)

type options struct {
	schema   string
	clock    keyward.Clock
	maxConns int
}

// Option configures Open.
type Option func(*options)

// WithSchema puts the store's tables in schema (which must exist) instead
// of the connection's default search path: several stores, tests for
// instance, can then share one database.
func WithSchema(schema string) Option { return func(o *options) { o.schema = schema } }

// WithClock sets the clock the store reads (for schema_migrations).
func WithClock(c keyward.Clock) Option { return func(o *options) { o.clock = c } }

// WithMaxConns caps the connections the store opens (default 16).
func WithMaxConns(n int) Option { return func(o *options) { o.maxConns = n } }

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string), applies the migrations it lacks, under an advisory
// lock so that nodes starting together apply each once, and prepares the
// store's statements. Errors never quote the URL: it may hold a password.
func Open(ctx context.Context, url string, opts ...Option) (*DB, error) {
	o := options{clock: keyward.SystemClock{}, maxConns: 16}
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, errors.New("postgres: the database URL cannot be parsed (it is not repeated here: it may hold a password)")
	}
	if o.schema != "" {
		cfg.RuntimeParams["search_path"] = o.schema
	}
	// A batch commits in one simple-protocol query (commitWith), whose
	// values pgx can only write into it safely with these two: a server
	// configured otherwise must not fail every write.
	cfg.RuntimeParams["standard_conforming_strings"] = "on"
	cfg.RuntimeParams["client_encoding"] = "UTF8"
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(o.maxConns)
	db.SetMaxIdleConns(o.maxConns)
	s := &DB{cfg: cfg, db: db, clock: o.clock}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if s.stmts, err = sqlstore.Prepare(ctx, db, dialect); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s.batch = &sqlstore.Batcher{Begin: s.beginWrite, Stmts: s.stmts, Name: "postgres", Aborted: txAborted}
	return s, nil
}

// Close closes the store's connections.
func (s *DB) Close() error {
	if s.stmts != nil {
		s.stmts.Close()
	}
	return s.db.Close()
}

// Ping reports whether the database answers.
func (s *DB) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return unavailable(fmt.Errorf("postgres: ping: %w", err))
	}
	return nil
}

// maxAttempts is how many times Update runs a transaction PostgreSQL
// aborted.
const maxAttempts = 10

// lockKey is the SQL of an advisory lock's key: the lock's number ($1)
// mixed with the schema the store's tables are in, so that deployments in
// different schemas of one database (tests do that) do not share a writer
// lock or a leader.
const lockKey = `hashtextextended(coalesce(current_schema(), ''), $1)`

// writeLock is the advisory lock every read-write transaction holds
// ("keyward" in ASCII, plus one).
const writeLock = migrationLock + 1

// Update runs fn in a read-write transaction under the write lock,
// committed when fn returns nil and rolled back otherwise. Should
// PostgreSQL still abort it (a deadlock, a serialization failure), fn runs
// again from the start (so fn must not keep effects of a failed attempt),
// after a short random pause.
func (s *DB) Update(ctx context.Context, fn func(context.Context, keyward.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := unavailable(s.batch.Update(ctx, fn))
		if err == nil || !retryable(err) || attempt == maxAttempts || ctx.Err() != nil {
			return err
		}
		pause := time.Duration(rand.Int64N(int64(min(attempt*attempt, 50)) * int64(time.Millisecond)))
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return err
		}
	}
}

// beginWrite opens a batch's read-write transaction, takes the write lock
// and reads the head of the audit log, in one round trip (migration
// 0004): the calls that waited together share it (sqlstore.Batcher), so
// that a burst of writes from one node costs one lock, one commit and one
// flush, not one each.
func (s *DB) beginWrite(ctx context.Context) (*sql.Tx, int64, error) {
	sqlTx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return nil, 0, fmt.Errorf("postgres: begin: %w", err)
	}
	var head int64
	if err := sqlTx.QueryRowContext(ctx, `SELECT keyward_write_lock(`+lockKey+`)`, int64(writeLock)).Scan(&head); err != nil {
		_ = sqlTx.Rollback()
		return nil, 0, fmt.Errorf("postgres: write lock: %w", err)
	}
	return sqlTx, head, nil
}

// View runs fn in a REPEATABLE READ, READ ONLY transaction: every
// statement sees the same snapshot.
func (s *DB) View(ctx context.Context, fn func(context.Context, keyward.Tx) error) error {
	return s.run(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}, false, fn)
}

func (s *DB) run(ctx context.Context, opts *sql.TxOptions, write bool, fn func(context.Context, keyward.Tx) error) error {
	return unavailable(s.runTx(ctx, opts, write, fn))
}

func (s *DB) runTx(ctx context.Context, opts *sql.TxOptions, write bool, fn func(context.Context, keyward.Tx) error) error {
	sqlTx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	if write {
		if _, err := sqlTx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(`+lockKey+`)`, int64(writeLock)); err != nil {
			_ = sqlTx.Rollback()
			return fmt.Errorf("postgres: write lock: %w", err)
		}
	}
	finished := false
	defer func() {
		if !finished { // fn panicked: roll back, and the panic goes on
			_ = sqlTx.Rollback()
		}
	}()
	err = sqlstore.Run(ctx, sqlTx, s.stmts, fn)
	finished = true
	if err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}

// retryable reports the errors PostgreSQL raises to keep transactions
// serializable: the transaction may succeed when run again.
// txAborted reports whether err says the transaction was aborted by an
// earlier failed statement: a statement refused with "current transaction
// is aborted" (25P02), or a commit that became a rollback.
func txAborted(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "25P02"
	}
	return errors.Is(err, pgx.ErrTxCommitRollback)
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01" // serialization_failure, deadlock_detected
	}
	return false
}

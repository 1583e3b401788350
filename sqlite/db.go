// Package sqlite is the embedded store of keyward: keyward.Store on a single
// SQLite database file, through modernc.org/sqlite (pure Go, no cgo).
//
// Concurrency. SQLite allows one writer at a time. Rather than letting
// writers race for the file lock and retry on SQLITE_BUSY, the store keeps
// two connection pools on the same file: a write pool of exactly one
// connection, so read-write transactions queue in Go (in database/sql's pool)
// and start with BEGIN IMMEDIATE, and a read pool of several query-only
// connections. In WAL mode readers never block the writer nor each other, so
// View runs in parallel with Update and with other Views.
//
// Throughput. Every statement the store runs is prepared once per connection
// and reused (see stmt.go); a transaction costs a BEGIN, its statements and a
// COMMIT that, with synchronous=NORMAL in WAL mode, does not fsync.
//
// Schema. Migrations are embedded SQL files applied in order at Open, each in
// its own transaction and recorded in schema_migrations (migrate.go).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/sqlstore"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DB is a keyward.Store on one SQLite database.
type DB struct {
	write *pool             // exactly one connection: writers are serialized
	read  *pool             // query-only connections; the write pool itself for in-memory databases
	batch *sqlstore.Batcher // group commit on the write pool; nil for in-memory databases
	ckpt  *checkpointer     // passive WAL checkpoints off the writer; nil for in-memory databases
	lock  io.Closer         // this process's hold on the database file; nil for in-memory databases
	// digests keeps key values unique for the write pool (sqlstore/digests.go).
	digests *sqlstore.DigestSet
	clock   keyward.Clock
}

var _ keyward.Store = (*DB)(nil)

// Option configures Open.
type Option func(*DB)

// WithClock sets the clock the store reads (for schema_migrations.applied_at).
// The default is keyward.SystemClock.
func WithClock(c keyward.Clock) Option { return func(db *DB) { db.clock = c } }

// MemoryPath opens a private in-memory database. It lives as long as the DB
// and serves reads and writes through one connection, so Views wait for
// Updates; use a file for anything but small tests.
const MemoryPath = ":memory:"

// Connection settings applied to every connection of both pools, by the
// driver, as the connection is opened. busy_timeout comes first (the driver
// orders it so) so that the journal_mode switch waits for other processes
// instead of failing.
const connParams = "_pragma=busy_timeout(5000)" +
	"&_pragma=foreign_keys(1)" +
	"&_pragma=journal_mode(WAL)" +
	"&_pragma=synchronous(NORMAL)"

// Settings of the write connection. Writers start with BEGIN IMMEDIATE, so
// that a write transaction never has to upgrade a read lock (and fail with
// SQLITE_BUSY when another process writes). The connection that commits runs
// the automatic WAL checkpoints, fsyncs included, while every writer waits;
// the checkpointer (checkpointer.go) does that work on its own connection
// after commits, so the writer's only runs when the WAL reaches 16,000
// pages (64 MiB), as a backstop.
//
// journal_size_limit truncates the WAL file back to 64 MiB whenever a
// checkpoint lets SQLite start it over: without it the file keeps its
// largest size forever (286 MB of WAL for 20,000 keys was seen).
//
// cache_size gives the writer 16 MiB of pages (SQLite's default is 2):
// inserts into the unique index of credential digests land on random
// pages, and at a million keys that index is tens of megabytes.
const writeParams = "&_txlock=immediate&_pragma=wal_autocheckpoint(16000)&_pragma=journal_size_limit(67108864)&_pragma=cache_size(-16384)"

// Open opens (creating if needed, with mode 0600) the database at path,
// applies the migrations it lacks and prepares the store's statements. The
// path MemoryPath opens a private in-memory database.
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	db := &DB{clock: keyward.SystemClock{}}
	for _, o := range opts {
		o(db)
	}
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	if path == MemoryPath {
		return db.openMemory(ctx)
	}

	// SQLite would create the file with 0644 (less the umask); create it
	// first so that it is 0600. SQLite gives the -wal and -shm files the
	// mode of the database file.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: create database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("sqlite: create database file: %w", err)
	}
	// One process writes the database: the store keeps key values unique
	// in memory (sqlstore/digests.go), which a second writer would not see.
	if db.lock, err = lockDatabase(path); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			_ = db.lock.Close()
		}
	}()

	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + connParams
	write, err := sql.Open("sqlite", dsn+writeParams)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	db.write = &pool{db: write}

	// Migrate before the read pool exists: the first connection switches
	// the file to WAL and creates the schema the read statements refer to.
	if err := db.migrate(ctx); err != nil {
		_ = write.Close()
		return nil, err
	}
	if err := db.write.prepare(ctx); err != nil {
		_ = db.write.close()
		return nil, err
	}
	db.digests = sqlstore.NewDigestSet()
	db.write.stmts.KeepDigestsUnique(db.digests)

	read, err := sql.Open("sqlite", dsn+"&_query_only=1")
	if err != nil {
		_ = db.write.close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n) // keep connections, and their prepared statements
	db.read = &pool{db: read}
	if err := db.read.prepare(ctx); err != nil {
		_ = db.read.close()
		_ = db.write.close()
		return nil, err
	}
	ckpt, err := sql.Open("sqlite", dsn)
	if err != nil {
		_ = db.read.close()
		_ = db.write.close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	db.ckpt = startCheckpointer(ckpt)
	w := db.write
	db.batch = &sqlstore.Batcher{Stmts: w.stmts, Name: "sqlite", Committed: db.ckpt.committed, Begin: func(ctx context.Context) (*sql.Tx, int64, error) {
		tx, err := w.db.BeginTx(ctx, nil)
		if err != nil {
			return nil, 0, fmt.Errorf("sqlite: begin: %w", err)
		}
		return tx, -1, nil // the head is read when a call asks: it costs nothing here
	}}
	ok = true
	return db, nil
}

func (db *DB) openMemory(ctx context.Context) (*DB, error) {
	conn, err := sql.Open("sqlite", "file::memory:?_pragma=foreign_keys(1)")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	// One connection, never closed while the DB lives: each connection to
	// ":memory:" is a database of its own.
	conn.SetMaxOpenConns(1)
	conn.SetMaxIdleConns(1)
	db.write = &pool{db: conn, setMode: true}
	db.read = db.write
	if err := db.migrate(ctx); err != nil {
		_ = conn.Close()
		return nil, err
	}
	if err := db.write.prepare(ctx); err != nil {
		_ = db.write.close()
		return nil, err
	}
	db.digests = sqlstore.NewDigestSet()
	db.write.stmts.KeepDigestsUnique(db.digests)
	return db, nil
}

// Close closes both pools. Transactions still running fail.
func (db *DB) Close() error {
	var err error
	if db.ckpt != nil {
		err = db.ckpt.close()
	}
	err = errors.Join(err, db.write.close())
	if db.read != db.write {
		err = errors.Join(err, db.read.close())
	}
	if db.lock != nil {
		err = errors.Join(err, db.lock.Close())
	}
	return err
}

// CheckpointWAL copies the WAL into the database and truncates it to zero
// bytes (PRAGMA wal_checkpoint(TRUNCATE)), on the write connection so that
// no writer runs meanwhile. Automatic checkpoints are passive: while
// readers keep old pages in use they cannot start the WAL over, and it
// grows; this one waits for them (up to the busy timeout). The server runs
// it every minute.
func (db *DB) CheckpointWAL(ctx context.Context) error {
	// The write pool has one connection: holding it keeps writers out;
	// the checkpointer waits meanwhile (one checkpoint at a time).
	if db.ckpt != nil {
		db.ckpt.mu.Lock()
		defer db.ckpt.mu.Unlock()
	}
	conn, err := db.write.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: WAL checkpoint: %w", err)
	}
	defer conn.Close()
	// After a TRUNCATE the page counts read 0; only busy says anything.
	var busy, walPages, copied int
	if err := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &walPages, &copied); err != nil {
		return fmt.Errorf("sqlite: WAL checkpoint: %w", err)
	}
	if busy != 0 {
		return errors.New("sqlite: WAL checkpoint: readers kept it busy; will try again")
	}
	return nil
}

// Ping reports whether the database answers a query on the read pool.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.read.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Update runs fn in a read-write transaction on the write connection. It
// commits when fn returns nil and rolls back otherwise; when fn panics it rolls
// back and the panic goes on.
func (db *DB) Update(ctx context.Context, fn func(context.Context, keyward.Tx) error) error {
	if db.batch != nil {
		return db.batch.Update(ctx, fn)
	}
	return db.write.run(ctx, false, fn)
}

// View runs fn in a read-only transaction on the read pool: it sees the data
// committed when its first statement runs, and nothing committed after.
func (db *DB) View(ctx context.Context, fn func(context.Context, keyward.Tx) error) error {
	return db.read.run(ctx, true, fn)
}

// pool is one *sql.DB with the store's statements prepared on it.
type pool struct {
	db    *sql.DB
	stmts *sqlstore.Statements

	// setMode is set when the pool serves both Update and View (in-memory
	// databases): each transaction then starts by making the connection
	// query-only, or not.
	setMode bool
}

func (p *pool) run(ctx context.Context, readOnly bool, fn func(context.Context, keyward.Tx) error) error {
	sqlTx, err := p.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: readOnly})
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	if p.setMode {
		if _, err := sqlTx.ExecContext(ctx, fmt.Sprintf("PRAGMA query_only = %t", readOnly)); err != nil {
			_ = sqlTx.Rollback()
			return fmt.Errorf("sqlite: set query_only: %w", err)
		}
	}
	// A write transaction tells the store what it inserted when it ends
	// (sqlstore/digests.go); a read-only one has nothing to tell.
	var u *sqlstore.Update
	if !readOnly {
		u = sqlstore.BeginUpdate(sqlTx, p.stmts)
	}
	rollback := func() {
		if u != nil {
			u.Rollback()
		} else {
			_ = sqlTx.Rollback()
		}
	}
	finished := false
	defer func() {
		if !finished { // fn panicked or called runtime.Goexit: the panic goes on
			rollback()
		}
	}()
	if u != nil {
		err = u.Run(ctx, fn)
	} else {
		err = sqlstore.Run(ctx, sqlTx, p.stmts, fn)
	}
	finished = true
	if err != nil {
		rollback()
		return err
	}
	commit := sqlTx.Commit
	if u != nil {
		commit = u.Commit
	}
	if err := commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

func (p *pool) close() error {
	if p.stmts != nil {
		p.stmts.Close()
	}
	return p.db.Close()
}

// prepare prepares the store's statements on the pool.
func (p *pool) prepare(ctx context.Context) error {
	s, err := sqlstore.Prepare(ctx, p.db, dialect)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	p.stmts = s
	return nil
}

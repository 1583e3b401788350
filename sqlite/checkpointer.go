package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// checkpointer copies committed WAL frames into the database file on a
// connection of its own, on the core the writer is not using. A checkpoint
// run by the committing connection (SQLite's automatic one) makes every
// writer wait for its reads, writes and two fsyncs: in a bulk import that
// was a tenth of the writer's time. A passive checkpoint from another
// connection takes no lock a writer needs; once it has copied every frame,
// the writer's next transaction starts the WAL over. The writer keeps an
// automatic checkpoint at a larger size as a backstop, for when this one
// falls behind.
type checkpointer struct {
	conn *sql.DB // one connection
	kick chan struct{}
	stop chan struct{}
	done chan struct{}
	// mu is held across each passive checkpoint, and by CheckpointWAL
	// across its TRUNCATE: SQLite lets one checkpoint run at a time and
	// answers the other "busy" at once.
	mu     sync.Mutex
	closed sync.Once
}

// checkpointEvery spaces the passive checkpoints: each costs two fsyncs,
// and frames written in the meantime are copied together.
const checkpointEvery = 50 * time.Millisecond

func startCheckpointer(conn *sql.DB) *checkpointer {
	conn.SetMaxOpenConns(1)
	conn.SetMaxIdleConns(1)
	c := &checkpointer{conn: conn, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c
}

// committed tells the checkpointer that the WAL has new frames.
func (c *checkpointer) committed() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) loop() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		}
		// Errors (a busy lock, a closing file) are left to the next run
		// and to the writer's own automatic checkpoint.
		c.mu.Lock()
		_, _ = c.conn.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
		c.mu.Unlock()
		select {
		case <-c.stop:
			return
		case <-time.After(checkpointEvery):
		}
	}
}

// close stops the checkpointer; closing twice is harmless, as for *sql.DB.
func (c *checkpointer) close() error {
	c.closed.Do(func() { close(c.stop) })
	<-c.done
	return c.conn.Close()
}

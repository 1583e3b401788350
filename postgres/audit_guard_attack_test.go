package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testpg"
	"github.com/keyward/keyward/postgres"
	"github.com/keyward/keyward/storetest"
)

// A batch keeps its calls' audit records back and writes them before it
// commits, numbered from the head it read first. Something that appends
// to the log without the writers' lock in between (a bug, or somebody
// writing the database by hand) moves the head: the records kept back no
// longer follow it and must not be written below it. Here the tenth call
// to run forges record 1000 while its batch is under way: at most the ten
// calls that ran up to it may have records below 1000; the batch's other
// calls are numbered again, after it.
func TestHeldAuditRecordsFollowTheHeadWhenWritten(t *testing.T) {
	schema := testpg.Schema(t)
	ctx := context.Background()
	db, err := postgres.Open(ctx, testpg.MachineURL(), postgres.WithSchema(schema), postgres.WithMaxConns(4))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	raw, err := pgx.Connect(ctx, testpg.MachineURL()+"&search_path="+schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close(context.Background()) })
	if err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return storetest.AppendNext(ctx, tx, "first") }); err != nil {
		t.Fatal(err)
	}

	const n, far = 40, 1000
	var ran atomic.Int32
	var forgeErr error
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
				if err := storetest.AppendNext(ctx, tx, fmt.Sprintf("call %02d", i)); err != nil {
					return err
				}
				if ran.Add(1) == 10 {
					_, forgeErr = raw.Exec(ctx, `INSERT INTO audit_records (seq, prev_hash, hash, event, event_time, event_name, principal_id, tag)
						VALUES ($1, '', 'x', '{}', NULL, 'forged', '', '\x00')`, far)
				}
				return nil
			})
		})
	}
	close(start)
	wg.Wait()
	if forgeErr != nil {
		t.Fatal(forgeErr)
	}
	written := 0
	for i, err := range errs {
		switch {
		case err == nil:
			written++
		case keyward.ErrorCode(err) != keyward.ECONFLICT:
			t.Errorf("call %d: %v, want success or ECONFLICT", i, err)
		}
	}
	var below, above int
	if err := raw.QueryRow(ctx, `SELECT count(*) FILTER (WHERE seq > 1 AND seq < $1), count(*) FILTER (WHERE seq > $1) FROM audit_records`, far).Scan(&below, &above); err != nil {
		t.Fatal(err)
	}
	if below+above != written {
		t.Errorf("%d calls committed, but %d records are below the forged one and %d above", written, below, above)
	}
	if below > 10 {
		t.Errorf("%d records below the forged one: a batch wrote records numbered before the head moved, after it had", below)
	}
	if written < n-1 {
		t.Errorf("only %d of %d calls committed: the batch that met the moved head must run again, numbered after it", written, n)
	}
}

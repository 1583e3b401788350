package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testpg"
	"github.com/keyward/keyward/postgres"
	"github.com/keyward/keyward/storetest"
)

func openStore(t testing.TB) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), testpg.MachineURL(), postgres.WithSchema(testpg.Schema(t)), postgres.WithMaxConns(4))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) keyward.Store { return openStore(t) })
}

// Three nodes opening one empty database at once: the migrations are
// applied once (under the advisory lock), and all three stores work.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	schema := testpg.Schema(t)
	ctx := context.Background()
	errs := make(chan error, 3)
	dbs := make(chan *postgres.DB, 3)
	for range 3 {
		go func() {
			db, err := postgres.Open(ctx, testpg.MachineURL(), postgres.WithSchema(schema), postgres.WithMaxConns(2))
			errs <- err
			dbs <- db
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		db := <-dbs
		t.Cleanup(func() { db.Close() })
		if err := db.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	}
	check, err := sql.Open("pgx", testpg.MachineURL())
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	var n, distinct int
	if err := check.QueryRow(`SELECT count(*), count(DISTINCT version) FROM `+schema+`.schema_migrations`).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != distinct || n == 0 {
		t.Fatalf("schema_migrations holds %d rows for %d versions", n, distinct)
	}
}

// Writers on three stores (three nodes) appending to the one audit log
// and inserting keys at once: every append lands with the next sequence
// number, none is lost or doubled, and no writer sees an error.
func TestConcurrentWritersAcrossNodes(t *testing.T) {
	schema := testpg.Schema(t)
	ctx := context.Background()
	var nodes []*postgres.DB
	for range 3 {
		db, err := postgres.Open(ctx, testpg.MachineURL(), postgres.WithSchema(schema), postgres.WithMaxConns(4))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		nodes = append(nodes, db)
	}
	const writers, each = 9, 30
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			db := nodes[w%len(nodes)]
			for i := range each {
				err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
					head, err := tx.AuditHead(ctx)
					if err != nil {
						return err
					}
					id := "key_w" + strconv.Itoa(w) + "_" + strconv.Itoa(i)
					now := time.Now().UTC()
					if err := tx.InsertKey(ctx, &keyward.APIKey{ID: id, Name: id, Enabled: true, CreatedAt: now, UpdatedAt: now}); err != nil {
						return err
					}
					event := []byte(`{"eventName":"apikeys:Create","eventTime":"` + now.Format(time.RFC3339Nano) + `","principalId":"p"}`)
					return tx.AppendAudit(ctx, &keyward.AuditRecord{Seq: head + 1, Hash: "h" + id, Event: event})
				})
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	err := nodes[0].View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		head, err := tx.AuditHead(ctx)
		if err != nil {
			return err
		}
		if head != writers*each {
			t.Errorf("audit head %d after %d appends", head, writers*each)
		}
		recs, err := tx.ListAudit(ctx, keyward.AuditFilter{Limit: writers * each})
		if err != nil {
			return err
		}
		for i, r := range recs {
			if r.Seq != int64(i+1) {
				t.Fatalf("record %d has seq %d", i, r.Seq)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A connection error never quotes the password of the URL it came from.
func TestErrorsHideThePassword(t *testing.T) {
	ctx := context.Background()
	for _, url := range []string{
		"postgres://keyward:s3cret-pw-xyz@127.0.0.1:1/test?sslmode=disable&connect_timeout=2",
		"postgres://keyward:s3cret-pw-xyz@[::1/test",
		"host=127.0.0.1 port=1 user=keyward password=s3cret-pw-xyz dbname=test connect_timeout=2 sslmode=disable",
	} {
		db, err := postgres.Open(ctx, url)
		if err == nil {
			db.Close()
			t.Fatalf("Open(%q) succeeded", "<url>")
		}
		if strings.Contains(err.Error(), "s3cret-pw-xyz") {
			t.Errorf("the error quotes the password: %v", err)
		}
	}
}

// Only verify-full reaches a database off loopback.
func TestCheckTransport(t *testing.T) {
	for url, ok := range map[string]bool{
		"postgres://k@127.0.0.1/x":                                 true,
		"postgres://k@localhost/x?sslmode=disable":                 true,
		"host=/var/run/postgresql user=k":                          true,
		"postgres://k@db.internal/x":                               false, // prefer: unverified, falls back to plain
		"postgres://k@db.internal/x?sslmode=require":               false,
		"postgres://k@db.internal/x?sslmode=verify-ca":             false,
		"postgres://k@db.internal/x?sslmode=verify-full":           true,
		"postgres://k:pw-secret-zz@10.0.0.5/x?sslmode=disable":     false,
		"postgres://k@127.0.0.1,db.internal/x?sslmode=verify-full": true,
		"postgres://k@127.0.0.1,db.internal/x?sslmode=prefer":      false,
	} {
		err := postgres.CheckTransport(url)
		if (err == nil) != ok {
			t.Errorf("%s: %v", url, err)
		}
		if err != nil && strings.Contains(err.Error(), "pw-secret-zz") {
			t.Errorf("the error quotes the password: %v", err)
		}
	}
}

// Update runs again a transaction PostgreSQL aborted (serialization
// failure, deadlock), from the start; a call that fails in a shared batch
// is rolled back alone (its savepoint) while the others commit, and a call
// that panics takes none of them with it.
func TestUpdateRetriesAndBatchesFailAlone(t *testing.T) {
	db := openStore(t)
	ctx := context.Background()
	insert := func(id string) func(context.Context, keyward.Tx) error {
		return func(ctx context.Context, tx keyward.Tx) error {
			now := time.Now().UTC()
			return tx.InsertKey(ctx, &keyward.APIKey{ID: id, Name: id, Enabled: true, CreatedAt: now, UpdatedAt: now})
		}
	}
	for _, code := range []string{"40001", "40P01"} {
		attempts := 0
		err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
			attempts++
			if err := insert("key_retry_"+code)(ctx, tx); err != nil {
				return err
			}
			if attempts == 1 {
				return fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: code})
			}
			return nil
		})
		if err != nil || attempts != 2 {
			t.Fatalf("%s: %v after %d attempts, want success on the second", code, err, attempts)
		}
	}
	// Many calls at once share transactions; every third fails, one panics.
	var wg sync.WaitGroup
	results := make([]error, 60)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if v := recover(); v != nil {
					results[i] = fmt.Errorf("panicked: %v", v)
				}
			}()
			results[i] = db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
				if err := insert(fmt.Sprintf("key_batch_%02d", i))(ctx, tx); err != nil {
					return err
				}
				switch {
				case i == 7:
					panic("boom")
				case i%3 == 0:
					return errors.New("refused")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	err := db.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		for i, res := range results {
			_, gerr := tx.GetKey(ctx, fmt.Sprintf("key_batch_%02d", i))
			failed := i == 7 || i%3 == 0
			switch {
			case failed && res == nil:
				t.Errorf("call %d should have failed", i)
			case failed && gerr == nil:
				t.Errorf("call %d failed but its key is there", i)
			case !failed && (res != nil || gerr != nil):
				t.Errorf("call %d: %v, key: %v", i, res, gerr)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

package sqlite_test

// Adversarial review of the in-process uniqueness of key values
// (sqlstore/digests.go, migration 0011, lock_unix.go). Each test states the
// path it tries; every one ends by asking the database itself whether two
// credentials share a digest.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/sqlite"
)

// dupDigests counts the digests that more than one credential holds,
// read through the store.
func dupDigests(t *testing.T, db keyward.Store) int {
	t.Helper()
	seen := map[string]int{}
	err := db.View(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
		seen = map[string]int{}
		var after string
		for {
			keys, next, err := tx.ListKeys(ctx, keyward.KeyFilter{Page: keyward.Page{Limit: 500, Position: after}})
			if err != nil {
				return err
			}
			for _, k := range keys {
				for _, c := range k.Credentials {
					seen[string(c.Digest)]++
				}
			}
			if next == "" {
				return nil
			}
			after = next
		}
	})
	if err != nil {
		t.Fatalf("listing keys: %v", err)
	}
	n := 0
	for _, c := range seen {
		if c > 1 {
			n++
		}
	}
	return n
}

// rawDupDigests asks the file directly (no store in between).
func rawDupDigests(t *testing.T, path string) int {
	t.Helper()
	raw := inspect(t, path)
	var n int
	if err := raw.QueryRow(`SELECT count(*) FROM (SELECT digest FROM credentials GROUP BY digest HAVING count(*) > 1)`).Scan(&n); err != nil {
		t.Fatalf("counting duplicate digests: %v", err)
	}
	return n
}

func update(ctx context.Context, db keyward.Store, fn func(context.Context, keyward.Tx) error) error {
	return db.Update(ctx, fn)
}

// unbuiltSet returns a store holding key "a0000" with value v whose
// DigestSet is not built yet: file mode, by a restart; in-memory mode, by
// a write transaction that ends without the set being told (its commit
// fails on a cancelled context), which makes the next begin discard it.
func unbuiltSet(t *testing.T, mode string, v []byte) keyward.Store {
	t.Helper()
	ctx := context.Background()
	switch mode {
	case "file":
		path := filepath.Join(t.TempDir(), "k.db")
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if err := update(ctx, db, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "a", [][]byte{v}) }); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		return open(t, path)
	case "memory":
		db := open(t, sqlite.MemoryPath)
		if err := update(ctx, db, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "a", [][]byte{v}) }); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		err := db.Update(cctx, func(ctx context.Context, tx keyward.Tx) error {
			if err := insertKeys(ctx, tx, "u", values(1, "unknown-outcome")); err != nil {
				return err
			}
			cancel() // the commit now fails: the set is never told
			return nil
		})
		cancel()
		if err == nil {
			t.Fatal("an Update whose context was cancelled before its commit succeeded")
		}
		return db
	}
	t.Fatalf("mode %q", mode)
	return nil
}

// TestDigestAttackBuildAfterDeleteThenRollback: the set is built from the table
// by the first transaction that inserts a credential, inside that
// transaction. If that transaction deleted a credential before (a key
// deletion, a rotation dropping PREVIOUS) and is then rolled back, the
// deleted credential comes back but the set was built without its prefix:
// its value is then accepted a second time.
func TestDigestAttackBuildAfterDeleteThenRollback(t *testing.T) {
	for _, mode := range []string{"file", "memory"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			x := value("victim")
			db := unbuiltSet(t, mode, x)
			errLater := errors.New("the call fails after deleting and inserting")
			err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
				if err := tx.DeleteKey(ctx, "a0000"); err != nil {
					return err
				}
				if err := insertKeys(ctx, tx, "b", values(1, "other")); err != nil { // builds the set
					return err
				}
				return errLater
			})
			if !errors.Is(err, errLater) {
				t.Fatalf("Update: %v, want %v", err, errLater)
			}
			// a0000 and its value x are back.
			err = db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "c", [][]byte{x}) })
			if keyward.ErrorCode(err) != keyward.ECONFLICT {
				t.Errorf("the value of a key whose deletion was rolled back, inserted again: %v, want a conflict", err)
			}
			if n := dupDigests(t, db); n != 0 {
				t.Errorf("%d digests are held by two credentials", n)
			}
		})
	}
}

// TestDigestAttackRotationToValueInUseAfterRestart: the shape of a rotation
// with a chosen value, first write after a restart: PREVIOUS is dropped,
// then the new credential's value turns out to be in use (a conflict) and
// the whole transaction rolls back. The set was built by the refused
// insert, after the drop.
func TestDigestAttackRotationToValueInUseAfterRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "k.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	prevValue, inUse := value("previous"), value("in-use")
	now := time.Now().UTC()
	if err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
		if err := insertKeys(ctx, tx, "a", [][]byte{value("current-a"), inUse}); err != nil {
			return err
		}
		return tx.InsertCredential(ctx, &keyward.Credential{ID: "prev-a0000", KeyID: "a0000", Label: keyward.LabelPrevious,
			Hint: "kw_…prev", CreatedAt: now, GraceUntil: ptrTime(now.Add(time.Hour)), Digest: prevValue})
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, path)
	err = db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.DeleteCredential(ctx, "prev-a0000"); err != nil {
			return err
		}
		return tx.InsertCredential(ctx, &keyward.Credential{ID: "pend-a0000", KeyID: "a0000", Label: keyward.LabelPending,
			Hint: "kw_…pend", CreatedAt: now, Digest: inUse})
	})
	if keyward.ErrorCode(err) != keyward.ECONFLICT {
		t.Fatalf("rotating to a value in use: %v, want a conflict", err)
	}
	err = db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "z", [][]byte{prevValue}) })
	if keyward.ErrorCode(err) != keyward.ECONFLICT {
		t.Errorf("a new key with the PREVIOUS value of a0000 (still there): %v, want a conflict", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if n := rawDupDigests(t, path); n != 0 {
		t.Errorf("%d digests are held by two credentials in the file", n)
	}
}

func ptrTime(t time.Time) *time.Time { return &t }

// TestDigestAttackBuildInRolledBackSavepoint: the same through the Batcher. After
// a restart, calls queue into one batch; one deletes a key, inserts (which
// builds the set) and fails. The optimistic pass rolls back, the
// savepoint pass rolls that call back to its savepoint: the key and its
// value stay, the set was built without it.
func TestDigestAttackBuildInRolledBackSavepoint(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "k.db")
	x := value("victim")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "a", [][]byte{x}) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, path)

	hold, held := make(chan struct{}), make(chan struct{})
	errBoom := errors.New("boom")
	var wg sync.WaitGroup
	var errHold, errBad, errGood error
	var once sync.Once
	wg.Go(func() {
		errHold = db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
			once.Do(func() { close(held) })
			<-hold
			return nil // inserts nothing: the next call builds the set
		})
	})
	<-held
	wg.Go(func() {
		errBad = db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
			if err := tx.DeleteKey(ctx, "a0000"); err != nil {
				return err
			}
			if err := insertKeys(ctx, tx, "b", values(1, "bad")); err != nil {
				return err
			}
			return errBoom
		})
	})
	time.Sleep(30 * time.Millisecond) // the failing call queues first: it runs first in the batch
	wg.Go(func() {
		errGood = db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
			return insertKeys(ctx, tx, "g", values(1, "good"))
		})
	})
	time.Sleep(30 * time.Millisecond)
	close(hold)
	wg.Wait()
	if errHold != nil || errGood != nil || !errors.Is(errBad, errBoom) {
		t.Fatalf("calls: %v, %v, %v; want nil, nil, boom", errHold, errGood, errBad)
	}
	err = db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "c", [][]byte{x}) })
	if keyward.ErrorCode(err) != keyward.ECONFLICT {
		t.Errorf("the value of a key whose deletion was rolled back, inserted again: %v, want a conflict", err)
	}
	if n := dupDigests(t, db); n != 0 {
		t.Errorf("%d digests are held by two credentials", n)
	}
}

// TestDigestAttackSymlinkedPathSecondWriter: the lock is a file named after the
// path given, not after the database: the same database opened through a
// symbolic link (or a hard link) takes another lock file, so two stores
// with two sets write one file.
func TestDigestAttackSymlinkedPathSecondWriter(t *testing.T) {
	for _, link := range []string{"symlink", "hardlink"} {
		t.Run(link, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			path := filepath.Join(dir, "k.db")
			first := open(t, path)
			alias := filepath.Join(dir, "alias.db")
			var err error
			if link == "symlink" {
				err = os.Symlink(path, alias)
			} else {
				err = os.Link(path, alias)
			}
			if err != nil {
				t.Skip(err)
			}
			second, err := sqlite.Open(ctx, alias)
			if err != nil {
				t.Logf("refused: %v", err)
				return // refused: the promise holds
			}
			defer second.Close()
			t.Errorf("a second Open of the database in use, through a %s, succeeded", link)
			x := value("twice")
			// Make both sets built first, so that neither reads the other's row.
			for i, db := range []*sqlite.DB{first, second} {
				if err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
					return insertKeys(ctx, tx, fmt.Sprintf("w%d", i), values(1, fmt.Sprintf("warm%d", i)))
				}); err != nil {
					t.Fatalf("warm-up %d: %v", i, err)
				}
			}
			err1 := first.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "p", [][]byte{x}) })
			err2 := second.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "q", [][]byte{x}) })
			if err1 == nil && err2 == nil {
				t.Errorf("one value was inserted through both stores")
			}
			if n := dupDigests(t, first); n != 0 {
				t.Errorf("%d digests are held by two credentials", n)
			}
		})
	}
}

// TestDigestAttackCancelledCommitInMemory: in memory, a context cancelled after
// the inserts makes the commit fail; the set is never told. The value
// must be free (nothing was committed) and then taken once.
func TestDigestAttackCancelledCommitInMemory(t *testing.T) {
	db := open(t, sqlite.MemoryPath)
	ctx := context.Background()
	if err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "s", values(5, "seed")) }); err != nil {
		t.Fatal(err)
	}
	vs := values(20, "cancelled")
	cctx, cancel := context.WithCancel(ctx)
	err := db.Update(cctx, func(ctx context.Context, tx keyward.Tx) error {
		if err := insertKeys(ctx, tx, "a", vs); err != nil {
			return err
		}
		cancel()
		return nil
	})
	if err == nil {
		t.Fatal("the Update whose context ended before its commit succeeded")
	}
	if err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "a", vs) }); err != nil {
		t.Fatalf("the values of an Update that did not commit: %v", err)
	}
	for i, v := range append(vs[:1:1], values(5, "seed")[4]) {
		err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
			return insertKeys(ctx, tx, fmt.Sprintf("d%d", i), [][]byte{v})
		})
		if keyward.ErrorCode(err) != keyward.ECONFLICT {
			t.Errorf("value %d again: %v, want a conflict", i, err)
		}
	}
	if n := dupDigests(t, db); n != 0 {
		t.Errorf("%d digests are held by two credentials", n)
	}
	if n := db.DigestScans(); n > 2 {
		t.Errorf("%d reads of the table, want at most the 2 conflicts", n)
	}
}

// TestDigestAttackChaoticBatches: many concurrent calls drawing values from a
// small pool, so that the Batcher groups them, with failures, panics,
// cancelled contexts, deletions and in-call duplicates; then a restart and
// more of the same. The file must never hold a digest twice, and every
// value in the table must be refused again.
func TestDigestAttackChaoticBatches(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "k.db")
	pool := values(40, "pool")
	errBoom := errors.New("boom")
	round := func(db *sqlite.DB, r int) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 96 {
			wg.Go(func() {
				<-start
				cctx, cancel := context.WithCancel(ctx)
				defer cancel()
				if i%11 == 0 {
					cancel() // may be withdrawn while queued, or run anyway
				}
				defer func() { _ = recover() }()
				_ = db.Update(cctx, func(ctx context.Context, tx keyward.Tx) error {
					id := fmt.Sprintf("r%di%02d", r, i)
					if i%7 == 3 { // delete a key of an earlier round, maybe
						_ = tx.DeleteKey(ctx, fmt.Sprintf("r%di%02d0000", r-1, (i+1)%96))
					}
					v := pool[(i*7+r)%len(pool)]
					if err := insertKeys(ctx, tx, id, [][]byte{v}); err != nil {
						return err
					}
					if i%5 == 1 { // a second value, maybe taken: the error is swallowed
						_ = insertKeys(ctx, tx, id+"x", [][]byte{pool[(i+r)%len(pool)]})
					}
					switch i % 6 {
					case 2:
						return errBoom
					case 4:
						panic("call panics after its inserts")
					}
					return nil
				})
			})
		}
		close(start)
		wg.Wait()
	}
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	round(db, 1)
	round(db, 2)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if n := rawDupDigests(t, path); n != 0 {
		t.Fatalf("after two rounds, %d digests are held by two credentials", n)
	}
	db = open(t, path)
	round(db, 3)
	round(db, 4)
	if n := dupDigests(t, db); n != 0 {
		t.Fatalf("after four rounds and a restart, %d digests are held by two credentials", n)
	}
	for i, v := range pool {
		err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
			return insertKeys(ctx, tx, fmt.Sprintf("f%02d", i), [][]byte{v})
		})
		if err != nil && keyward.ErrorCode(err) != keyward.ECONFLICT {
			t.Fatalf("value %d: %v", i, err)
		}
	}
	if n := dupDigests(t, db); n != 0 {
		t.Errorf("%d digests are held by two credentials", n)
	}
}

// TestDigestAttackReimportAfterDuplicateRow: an import batch of 1,000 whose last
// row repeats a value in use fails (one read of the table: the conflict)
// and is rolled back; the fixed batch must then cost no read, and the row
// in use must still be refused.
func TestDigestAttackReimportAfterDuplicateRow(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "k.db"))
	ctx := context.Background()
	existing := values(10, "existing")
	if err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "e", existing) }); err != nil {
		t.Fatal(err)
	}
	batch := values(1000, "imp")
	bad := append(append([][]byte{}, batch[:999]...), existing[3])
	err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "i", bad) })
	if keyward.ErrorCode(err) != keyward.ECONFLICT {
		t.Fatalf("a batch with a value in use: %v, want a conflict", err)
	}
	before := db.DigestScans()
	if err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "i", batch) }); err != nil {
		t.Fatalf("the fixed batch: %v", err)
	}
	if n := db.DigestScans() - before; n != 0 {
		t.Errorf("the fixed batch read the table %d times, want 0", n)
	}
	err = db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "j", batch[998:999]) })
	if keyward.ErrorCode(err) != keyward.ECONFLICT {
		t.Errorf("a value of the committed batch again: %v, want a conflict", err)
	}
}

// TestDigestAttackDeleteAndReuseInOneTransaction: a key deleted and its value
// given to a new key in the same transaction is allowed (a unique index
// would allow it); a third holder is not, in that transaction or after,
// nor after a restart.
func TestDigestAttackDeleteAndReuseInOneTransaction(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "k.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	x := value("reused")
	if err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "a", [][]byte{x}) }); err != nil {
		t.Fatal(err)
	}
	err = db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.DeleteKey(ctx, "a0000"); err != nil {
			return err
		}
		if err := insertKeys(ctx, tx, "b", [][]byte{x}); err != nil {
			return fmt.Errorf("reuse after delete: %w", err)
		}
		if err := insertKeys(ctx, tx, "c", [][]byte{x}); keyward.ErrorCode(err) != keyward.ECONFLICT {
			return fmt.Errorf("third holder in the same transaction: %v, want a conflict", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "d", [][]byte{x}) }); keyward.ErrorCode(err) != keyward.ECONFLICT {
		t.Errorf("the reused value again: %v, want a conflict", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, path)
	if err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "e", [][]byte{x}) }); keyward.ErrorCode(err) != keyward.ECONFLICT {
		t.Errorf("the reused value after a restart: %v, want a conflict", err)
	}
	if n := dupDigests(t, db); n != 0 {
		t.Errorf("%d digests are held by two credentials", n)
	}
}

// TestDigestAttackBuildUnderConcurrentReadsAndWrites: the set is built, on
// the first insert after a restart, with its mutex held inside the write
// transaction. Readers, other writers queued behind it, and DigestScans
// callers must neither deadlock nor see a wrong answer.
func TestDigestAttackBuildUnderConcurrentReadsAndWrites(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "k.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	seed := values(3000, "seed")
	if err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "s", seed) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, path)
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, 24)
	for i := range errs {
		wg.Go(func() {
			switch i % 3 {
			case 0:
				errs[i] = db.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
					_, err := tx.FindCredential(ctx, seed[i])
					return err
				})
			case 1: // a value in use: must be refused
				err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
					return insertKeys(ctx, tx, fmt.Sprintf("d%02d", i), [][]byte{seed[i*100]})
				})
				if keyward.ErrorCode(err) != keyward.ECONFLICT {
					errs[i] = fmt.Errorf("a seeded value inserted again: %v", err)
				}
				_ = db.DigestScans()
			case 2:
				errs[i] = db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
					return insertKeys(ctx, tx, fmt.Sprintf("n%02d", i), values(1, fmt.Sprintf("new%d", i)))
				})
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("calls did not finish: deadlock around the set's build")
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	if n := dupDigests(t, db); n != 0 {
		t.Errorf("%d digests are held by two credentials", n)
	}
}

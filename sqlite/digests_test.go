package sqlite_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/sqlite"
)

// Key values are unique without a unique index here (sqlstore/digests.go,
// migration 0011). The conformance suite (storetest "UniqueValues") checks
// what any store must answer; these check what only this one could get
// wrong: how often it reads the table to answer, across restarts, prefix
// collisions, failed batches, and a second process.

func value(name string) []byte {
	d := sha256.Sum256([]byte(name))
	return d[:]
}

// insertKeys inserts, in tx, one key per value, each with its current
// credential.
func insertKeys(ctx context.Context, tx keyward.Tx, prefix string, values [][]byte) error {
	now := time.Now().UTC()
	for i, v := range values {
		id := fmt.Sprintf("%s%04d", prefix, i)
		if err := tx.InsertKey(ctx, &keyward.APIKey{ID: id, Name: "k", Enabled: true, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		c := &keyward.Credential{ID: "cred-" + id, KeyID: id, Label: keyward.LabelCurrent, Hint: "kw_…" + id[len(id)-4:], CreatedAt: now, Digest: v}
		if err := tx.InsertCredential(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

func values(n int, tag string) [][]byte {
	vs := make([][]byte, n)
	for i := range vs {
		vs[i] = value(fmt.Sprintf("%s-%d", tag, i))
	}
	return vs
}

// TestFailedBatchLeavesNoValuesBehind: an import batch that fails on its
// last row is rolled back; importing it again, fixed, must not read the
// table once per row (1,000 scans of a million credentials each), nor may
// a value it did commit become insertable twice.
func TestFailedBatchLeavesNoValuesBehind(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "k.db"))
	ctx := t.Context()
	batch := values(1000, "batch")
	errBadRow := errors.New("line 1001: bad row")
	err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
		if err := insertKeys(ctx, tx, "a", batch); err != nil {
			return err
		}
		return errBadRow
	})
	if !errors.Is(err, errBadRow) {
		t.Fatalf("Update: %v, want the bad row", err)
	}
	if err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "a", batch) }); err != nil {
		t.Fatalf("importing the batch again: %v", err)
	}
	if n := db.DigestScans(); n != 0 {
		t.Errorf("importing a rolled-back batch again read the credentials %d times, want 0", n)
	}
	err = db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "b", batch[500:501]) })
	if keyward.ErrorCode(err) != keyward.ECONFLICT {
		t.Errorf("a committed value inserted again: %v, want a conflict", err)
	}
}

// TestCallRolledBackToItsSavepointLeavesNoValuesBehind: calls that wait
// together share one transaction; when one fails, the others commit and
// the failed one is rolled back to its savepoint (sqlstore/batch.go).
// Its values must not stay in the set merged at that commit.
func TestCallRolledBackToItsSavepointLeavesNoValuesBehind(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "k.db"))
	ctx := t.Context()
	hold, held := make(chan struct{}), make(chan struct{})
	errBoom := errors.New("boom")
	var wg sync.WaitGroup
	var errHold, errGood, errBad error
	wg.Go(func() {
		errHold = db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
			close(held)
			<-hold // the two calls below queue meanwhile, into one batch
			return insertKeys(ctx, tx, "h", values(1, "hold"))
		})
	})
	<-held
	wg.Go(func() {
		errGood = db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
			return insertKeys(ctx, tx, "g", values(10, "good"))
		})
	})
	wg.Go(func() {
		errBad = db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
			if err := insertKeys(ctx, tx, "b", values(10, "bad")); err != nil {
				return err
			}
			return errBoom
		})
	})
	time.Sleep(50 * time.Millisecond) // let both queue behind the held call; either way the outcome below holds
	close(hold)
	wg.Wait()
	if errHold != nil || errGood != nil || !errors.Is(errBad, errBoom) {
		t.Fatalf("calls: %v, %v, %v; want nil, nil, boom", errHold, errGood, errBad)
	}
	if err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "b", values(10, "bad")) }); err != nil {
		t.Fatalf("the failed call's values again: %v", err)
	}
	if n := db.DigestScans(); n != 0 {
		t.Errorf("the failed call's values read the credentials %d times, want 0", n)
	}
	err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "x", values(1, "good")) })
	if keyward.ErrorCode(err) != keyward.ECONFLICT {
		t.Errorf("a value the committed call holds, again: %v, want a conflict", err)
	}
}

// TestValuesAreKeptUniqueAcrossRestarts: the set is built from the table
// by the first write after opening.
func TestValuesAreKeptUniqueAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	ctx := t.Context()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "a", values(100, "r")) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, path)
	err = db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
		return insertKeys(ctx, tx, "b", values(100, "r")[42:43])
	})
	if keyward.ErrorCode(err) != keyward.ECONFLICT {
		t.Errorf("a value written before the restart, again: %v, want a conflict", err)
	}
	if err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "c", values(100, "new")) }); err != nil {
		t.Fatalf("new values after the restart: %v", err)
	}
	if n := db.DigestScans(); n != 1 {
		t.Errorf("the credentials were read %d times to rule on values, want 1 (the duplicate)", n)
	}
}

// TestValuesSharingAPrefix: the set holds 8-byte prefixes; two values
// that share one are both allowed (one read of the table rules), and each
// is still refused a second time.
func TestValuesSharingAPrefix(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "k.db"))
	ctx := t.Context()
	a, b := value("a"), value("a")
	b[31] ^= 1 // same first 8 bytes, another value
	if err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "a", [][]byte{a}) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "b", [][]byte{b}) }); err != nil {
		t.Fatalf("a value sharing another's prefix: %v", err)
	}
	for _, v := range [][]byte{a, b} {
		err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "c", [][]byte{v}) })
		if keyward.ErrorCode(err) != keyward.ECONFLICT {
			t.Errorf("a value sharing a prefix, inserted again: %v, want a conflict", err)
		}
	}
	zero := make([]byte, 32) // the prefix 0 is kept apart in the set
	if err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "z", [][]byte{zero}) }); err != nil {
		t.Fatal(err)
	}
	err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "y", [][]byte{zero}) })
	if keyward.ErrorCode(err) != keyward.ECONFLICT {
		t.Errorf("the all-zero digest inserted again: %v, want a conflict", err)
	}
}

// TestSecondProcessCannotOpen: a second writer would not see this one's
// set, so the database file is this process's until it closes it.
func TestSecondProcessCannotOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	ctx := t.Context()
	first, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if second, err := sqlite.Open(ctx, path); err == nil {
		second.Close()
		t.Fatal("a second Open of a database in use succeeded")
	} else if !strings.Contains(err.Error(), "open in another keyward process") {
		t.Errorf("second Open: %v, want it to say the database is in use", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	open(t, path) // free again
}

// TestUpgradeDropsTheDigestIndex: a database from before migration 11
// keeps its credentials, loses the unique index on digests, and still
// refuses a value in use.
func TestUpgradeDropsTheDigestIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	ctx := t.Context()
	db := open(t, path)
	if err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "a", values(3, "up")) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	raw := inspect(t, path)
	var sqlText string
	if err := raw.QueryRow(`SELECT sql FROM sqlite_master WHERE name = 'credentials'`).Scan(&sqlText); err != nil {
		t.Fatal(err)
	}
	// Back to the schema of migration 9, as an older keyward left it.
	for _, q := range []string{
		`CREATE TABLE c9 (id TEXT NOT NULL UNIQUE, key_id TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE, label TEXT NOT NULL,
			hint TEXT NOT NULL, grace_until TEXT, created_at TEXT NOT NULL, digest BLOB NOT NULL UNIQUE, sealed_value BLOB,
			PRIMARY KEY (key_id, label)) WITHOUT ROWID`,
		`INSERT INTO c9 SELECT id, key_id, label, hint, grace_until, created_at, digest, sealed_value FROM credentials`,
		`DROP TABLE credentials`,
		`ALTER TABLE c9 RENAME TO credentials`,
		`CREATE INDEX credentials_in_grace ON credentials (key_id) WHERE grace_until IS NOT NULL`,
		`DELETE FROM schema_migrations WHERE version >= 11`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}

	db = open(t, path)
	raw = inspect(t, path)
	var n int
	if err := raw.QueryRow(`SELECT count(*) FROM credentials`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("credentials after the upgrade: %d (%v), want 3", n, err)
	}
	if err := raw.QueryRow(`SELECT count(*) FROM pragma_index_list('credentials') WHERE "unique" AND origin = 'u'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 { // UNIQUE (id) only
		t.Errorf("unique constraints on credentials after the upgrade: %d, want 1 (id)", n)
	}
	err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error { return insertKeys(ctx, tx, "b", values(3, "up")[1:2]) })
	if keyward.ErrorCode(err) != keyward.ECONFLICT {
		t.Errorf("a value from before the upgrade, again: %v, want a conflict", err)
	}
}

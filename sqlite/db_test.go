package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/sqlite"
	"github.com/keyward/keyward/storetest"
)

func open(t testing.TB, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) keyward.Store {
		return open(t, filepath.Join(t.TempDir(), "k.db"))
	})
}

func TestStoreInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) keyward.Store {
		return open(t, sqlite.MemoryPath)
	})
}

// inspect opens the database file on a connection of its own.
func inspect(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	db := open(t, path)
	// Write something, so that the WAL file exists.
	err := db.Update(t.Context(), func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertSecret(ctx, &keyward.Secret{Name: "s"})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(p), mode)
		}
	}
}

func TestWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	open(t, path)
	var mode string
	if err := inspect(t, path).QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode %q, want wal", mode)
	}
}

func TestMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	clock := fixedClock(time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC))
	db, err := sqlite.Open(t.Context(), path, sqlite.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(t.Context(), func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertSecret(ctx, &keyward.Secret{Name: "survives"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	applied := func() []string {
		rows, err := inspect(t, path).Query(`SELECT version, applied_at FROM schema_migrations ORDER BY version`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var v int
			var at string
			if err := rows.Scan(&v, &at); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprint(v, " ", at))
		}
		return out
	}
	first := applied()
	if len(first) == 0 || first[0] != "1 2025-01-02T03:04:05.000000006Z" {
		t.Fatalf("schema_migrations: %q, want version 1 applied at the clock's time", first)
	}

	// Reopening applies nothing again and keeps the data.
	db = open(t, path)
	if got := applied(); fmt.Sprint(got) != fmt.Sprint(first) {
		t.Errorf("schema_migrations after reopening: %q, want %q", got, first)
	}
	err = db.View(t.Context(), func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetSecret(ctx, "survives")
		return err
	})
	if err != nil {
		t.Errorf("after reopening: %v", err)
	}
}

func TestTimesComeBackInUTC(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "k.db"))
	at := time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.FixedZone("X", -7*3600))
	err := db.Update(t.Context(), func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertSecret(ctx, &keyward.Secret{Name: "s", CreatedAt: at, UpdatedAt: at})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(t.Context(), func(ctx context.Context, tx keyward.Tx) error {
		s, err := tx.GetSecret(ctx, "s")
		if err != nil {
			return err
		}
		if !s.CreatedAt.Equal(at) || s.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt %v, want %v in UTC", s.CreatedAt, at)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBadPagePosition(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "k.db"))
	err := db.View(t.Context(), func(ctx context.Context, tx keyward.Tx) error {
		_, _, err := tx.ListKeys(ctx, keyward.KeyFilter{Page: keyward.Page{Position: "!!"}})
		return err
	})
	if keyward.ErrorCode(err) != keyward.EINVALID {
		t.Errorf("ListKeys(bad position): %v, want invalid", err)
	}

	// Lists newest first take a time and an ID: a position without both is
	// invalid too.
	for _, pos := range []string{
		"!!",
		base64.RawURLEncoding.EncodeToString([]byte("r-1")),
		base64.RawURLEncoding.EncodeToString([]byte("yesterday r-1")),
		base64.RawURLEncoding.EncodeToString([]byte("2025-01-02T03:04:05.000000006Z")),
	} {
		err := db.View(t.Context(), func(ctx context.Context, tx keyward.Tx) error {
			_, _, err := tx.ListRotations(ctx, keyward.RotationFilter{Page: keyward.Page{Position: pos}})
			return err
		})
		if keyward.ErrorCode(err) != keyward.EINVALID {
			t.Errorf("ListRotations(position %q): %v, want invalid", pos, err)
		}
		err = db.View(t.Context(), func(ctx context.Context, tx keyward.Tx) error {
			_, _, err := tx.ListDeliveries(ctx, keyward.DeliveryFilter{Page: keyward.Page{Position: pos}})
			return err
		})
		if keyward.ErrorCode(err) != keyward.EINVALID {
			t.Errorf("ListDeliveries(position %q): %v, want invalid", pos, err)
		}
	}
}

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

func TestOddPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?with#odd%chars")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "k.db")
	db := open(t, path)
	err := db.Update(t.Context(), func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertSecret(ctx, &keyward.Secret{Name: "s"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at the path given: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "k.db" && e.Name() != "k.db-wal" && e.Name() != "k.db-shm" && e.Name() != "k.db-lock" {
			t.Errorf("unexpected file %q", e.Name())
		}
	}
}

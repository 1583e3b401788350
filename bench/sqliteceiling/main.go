// Command sqliteceiling is a measuring stick, not part of keyward: how many
// imported keys per second SQLite itself can write on this machine, with
// no keyward around it. It writes the rows one imported key costs (a key,
// its credential, its plan attachment) into the same tables as keyward's
// schema, a thousand keys per transaction (one import batch), and prints
// keys/s and the bytes the process had written to storage per key.
//
// -digest-unique=false drops the UNIQUE index on credential digests, the
// one index whose inserts land on random pages (every other key of a row
// starts with a time-ordered ID). bench/README.md has the figures and what
// they mean for issue 15's 20,000 keys/s.
//
// usage: go run ./bench/sqliteceiling [-keys N] [-per-tx N] [-digest-unique=false] [-page-size N]
package main

import (
	"crypto/rand"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"time"

	_ "modernc.org/sqlite"

	"github.com/keyward/keyward/internal/procio"
)

func main() {
	keys := flag.Int("keys", 1_000_000, "keys to write")
	perTx := flag.Int("per-tx", 1000, "keys per transaction")
	unique := flag.Bool("digest-unique", true, "keep the UNIQUE index on credential digests")
	pageSize := flag.Int("page-size", 4096, "SQLite page size in bytes")
	flag.Parse()

	dir, err := os.MkdirTemp("", "sqliteceiling")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// The pragmas of keyward's write connection (sqlite/db.go).
	db, err := sql.Open("sqlite", "file:"+dir+"/db?_pragma=page_size("+strconv.Itoa(*pageSize)+")"+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)"+
		"&_pragma=cache_size(-16384)&_pragma=wal_autocheckpoint(16000)")
	if err != nil {
		log.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	for _, s := range schema(*unique) {
		if _, err := db.Exec(s); err != nil {
			log.Fatalf("%s: %v", s, err)
		}
	}

	wrote0 := procio.WriteBytes()
	start := time.Now()
	base := time.Now().UnixMilli()
	for done := 0; done < *keys; {
		n := min(*perTx, *keys-done)
		if err := writeBatch(db, base, done, n); err != nil {
			log.Fatal(err)
		}
		done += n
	}
	elapsed := time.Since(start)
	fmt.Printf("keys=%d per-tx=%d digest-unique=%t page-size=%d: %.0f keys/s, %.0f disk bytes/key\n",
		*keys, *perTx, *unique, *pageSize, float64(*keys)/elapsed.Seconds(), float64(procio.WriteBytes()-wrote0)/float64(*keys))
}

// schema is keyward's tables for keys, credentials and plan attachments as
// the SQLite migrations leave them.
func schema(digestUnique bool) []string {
	digest := "digest BLOB NOT NULL"
	if digestUnique {
		digest += " UNIQUE"
	}
	return []string{
		`CREATE TABLE api_keys (id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL, customer_id TEXT NOT NULL,
			enabled INTEGER NOT NULL, prefix TEXT NOT NULL, expires_at TEXT, stage_keys TEXT, scopes TEXT NOT NULL, tags TEXT,
			recoverable INTEGER NOT NULL, imported INTEGER NOT NULL, value_secret TEXT NOT NULL, created_at TEXT NOT NULL,
			updated_at TEXT NOT NULL, rotation TEXT) WITHOUT ROWID`,
		`CREATE INDEX api_keys_customer ON api_keys (customer_id, id)`,
		`CREATE TABLE usage_plans (id TEXT PRIMARY KEY)`,
		`INSERT INTO usage_plans VALUES ('plan_gold')`,
		`CREATE TABLE plan_keys (plan_id TEXT NOT NULL REFERENCES usage_plans (id),
			key_id TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE, PRIMARY KEY (plan_id, key_id)) WITHOUT ROWID`,
		`CREATE INDEX plan_keys_key ON plan_keys (key_id)`,
		`CREATE TABLE credentials (id TEXT NOT NULL UNIQUE, key_id TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
			label TEXT NOT NULL, hint TEXT NOT NULL, grace_until TEXT, created_at TEXT NOT NULL, ` + digest + `,
			sealed_value BLOB, PRIMARY KEY (key_id, label)) WITHOUT ROWID`,
	}
}

// writeBatch writes n keys in one transaction. IDs sort by creation, as
// keyward's do (core/validate.go); digests are random, as HMACs are.
func writeBatch(db *sql.DB, base int64, first, n int) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	insKey, err := tx.Prepare(`INSERT INTO api_keys (id, name, description, customer_id, enabled, prefix, expires_at, stage_keys,
		scopes, tags, recoverable, imported, value_secret, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	insCred, err := tx.Prepare(`INSERT INTO credentials (id, key_id, label, hint, grace_until, created_at, digest, sealed_value)
		VALUES (?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	attach, err := tx.Prepare(`INSERT INTO plan_keys (plan_id, key_id) VALUES (?,?)`)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	digest := make([]byte, 32)
	for i := first; i < first+n; i++ {
		id := fmt.Sprintf("%012d%012d", base, i)
		_, _ = rand.Read(digest)
		if _, err := insKey.Exec("key_"+id, "bulk", "", "", 1, "", nil, `[{"apiId":"api_chat","stage":"prod"}]`, "{}", nil, 0, 1, "", now, now); err != nil {
			return err
		}
		if _, err := insCred.Exec("cred_"+id, "key_"+id, "current", "sk-b...1234", nil, now, digest, nil); err != nil {
			return err
		}
		if _, err := attach.Exec("plan_gold", "key_"+id); err != nil {
			return err
		}
	}
	return tx.Commit()
}

package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testpg"
)

// A node's gateway reads the keys a change names with an IN-list of
// their IDs (a JSON array parameter). PostgreSQL planned the form the
// statements are written in, IN over json_array_elements_text, as a hash
// join against a scan of every key, even with statistics: each change
// made every node read every key. The dialect's form must be an index
// lookup, in the plan the nodes keep for their prepared statements (the
// generic one), at a size where a scan would be the cheaper guess.
func TestInListReadsTheIndexNotEveryRow(t *testing.T) {
	schema := testpg.Schema(t)
	ctx := context.Background()
	db, err := Open(ctx, testpg.MachineURL(), WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	err = db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
		for i := range 5000 {
			id := fmt.Sprintf("key_%05d", i)
			if err := tx.InsertKey(ctx, &keyward.APIKey{ID: id, Name: id, Enabled: true, CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, testpg.MachineURL()+"&search_path="+schema)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "ANALYZE api_keys; SET plan_cache_mode = force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	sql := rewrite(`SELECT id, enabled FROM api_keys WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`)
	if _, err := conn.Exec(ctx, "PREPARE gateway_keys(text) AS "+sql); err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	rows, err := conn.Query(ctx, `EXPLAIN EXECUTE gateway_keys('["key_00001","key_04999"]')`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if p := plan.String(); strings.Contains(p, "Seq Scan on api_keys") || !strings.Contains(p, "Index") {
		t.Errorf("the gateway's read of two changed keys scans every key:\n%s(statement: %s)", p, sql)
	}
}

// A server whose default is standard_conforming_strings=off (an old
// setting some keep) must not make every batch commit fail: the store
// sets it on for its own connections.
func TestBatchCommitsUnderNonStandardStrings(t *testing.T) {
	schema := testpg.Schema(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, testpg.MachineURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	role := "kw_nonstd_" + strings.TrimPrefix(schema, "kwtest_")
	if _, err := admin.Exec(ctx, "CREATE ROLE "+role+" LOGIN SUPERUSER"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), testpg.MachineURL())
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP OWNED BY "+role+"; DROP ROLE "+role); err != nil {
			t.Errorf("drop the test's role: %v", err)
		}
	})
	if _, err := admin.Exec(ctx, "ALTER ROLE "+role+" SET standard_conforming_strings = off"); err != nil {
		t.Fatal(err)
	}
	url := strings.Replace(testpg.MachineURL(), "postgres://postgres@", "postgres://"+role+"@", 1)
	db, err := Open(ctx, url, WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	errs := make(chan error, 20)
	for i := range 20 { // concurrent, so that calls share batches
		go func() {
			errs <- db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
				id := fmt.Sprintf("key_%02d", i)
				return tx.InsertKey(ctx, &keyward.APIKey{ID: id, Name: `it's "quoted" \ and back\slashed`, Enabled: true, CreatedAt: now, UpdatedAt: now})
			})
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	err = db.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		k, err := tx.GetKey(ctx, "key_07")
		if err == nil && k.Name != `it's "quoted" \ and back\slashed` {
			t.Errorf("name came back as %q", k.Name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

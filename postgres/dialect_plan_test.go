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

package server_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/server"
)

// An import whose third row repeats a value already in use and whose
// fourth row is malformed must fail at line 3 with ECONFLICT, as on
// SQLite (the rows are checked in order), on a PostgreSQL-backed node:
// first alone, then while other creates share its batches.
func TestAttackClusterImportReportsFirstBadLine(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { attackImportLine(t, start(t, server.Config{})) })
	t.Run("postgres", func(t *testing.T) { attackImportLine(t, startCluster(t, 1)[0]) })
}

func attackImportLine(t *testing.T, node *running) {
	c := node.client
	ctx := context.Background()
	taken := "sk-taken-value-0123456789abcdef"
	if _, err := c.ImportKeys(ctx, keyward.KeyImport{Rows: []keyward.KeyImportRow{{Line: 2, Name: "first", Value: taken}}}); err != nil {
		t.Fatal(err)
	}
	rows := func(i int) []keyward.KeyImportRow {
		return []keyward.KeyImportRow{
			{Line: 2, Name: "ok", Value: fmt.Sprintf("sk-fresh-%03d-0123456789abcdef", i)},
			{Line: 3, Name: "dup", Value: taken},
			{Line: 4, Name: "short", Value: "sk-short"},
		}
	}
	check := func(what string, err error) {
		t.Helper()
		if keyward.ErrorCode(err) != keyward.ECONFLICT || !strings.Contains(err.Error(), "line 3:") {
			t.Errorf("%s: %v; want ECONFLICT at line 3 (the first bad row)", what, err)
		}
	}
	_, err := c.ImportKeys(ctx, keyward.KeyImport{Rows: rows(0)})
	check("alone", err)

	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range 20 {
		wg.Go(func() { _, errs[i] = c.ImportKeys(ctx, keyward.KeyImport{Rows: rows(i + 1)}) })
		for j := range 5 {
			wg.Go(func() {
				if _, err := c.CreateKey(ctx, keyward.KeyCreate{Name: fmt.Sprintf("c%d-%d", i, j)}); err != nil {
					t.Errorf("create beside the imports: %v", err)
				}
			})
		}
	}
	wg.Wait()
	for i, err := range errs {
		check(fmt.Sprintf("import %d under load", i), err)
	}
	keys, _, err := c.ListKeys(ctx, keyward.KeyFilter{Page: keyward.Page{Limit: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1+100 {
		t.Errorf("%d keys, want 101 (one import, 100 creates)", len(keys))
	}
}

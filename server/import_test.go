package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
)

// TestImportKeys imports a batch through the admin API: the keys work at
// the gateway with their imported values, bound to the stages and plans
// given, and the batch is one audit record naming the key IDs and no
// value. A bad row fails the whole batch with its line; a duplicate value
// too; a deployer may not import.
func TestImportKeys(t *testing.T) {
	r := startWithChat(t)
	ctx := context.Background()
	plan, err := r.client.CreatePlan(ctx, keyward.PlanCreate{Name: "gold", Quota: &keyward.Quota{Limit: 100, Period: keyward.PeriodDay},
		APIStages: []keyward.PlanStage{{APIID: "chat", Stage: "prod"}}})
	if err != nil {
		t.Fatal(err)
	}
	values := make([]string, 3)
	rows := make([]keyward.KeyImportRow, 3)
	for i := range rows {
		values[i] = fmt.Sprintf("sk-imported-%02d-0123456789abcdefXYZ", i)
		rows[i] = keyward.KeyImportRow{Line: i + 2, Name: fmt.Sprintf("imp-%d", i), Value: values[i]}
	}
	off := false
	rows[2].Enabled = &off
	out, err := r.client.ImportKeys(ctx, keyward.KeyImport{Rows: rows, PlanIDs: []string{"gold"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.KeyIDs) != 3 {
		t.Fatalf("imported %v", out.KeyIDs)
	}
	gw := r.srv.GatewayURL()
	eventually(t, "imported keys admitted", func() bool { return chat(t, gw, values[0]) == http.StatusOK })
	if code := chat(t, gw, values[1]); code != http.StatusOK {
		t.Errorf("second imported key: %d", code)
	}
	if code := chat(t, gw, values[2]); code != http.StatusUnauthorized {
		t.Errorf("imported disabled key: %d", code)
	}
	k, err := r.client.GetKey(ctx, out.KeyIDs[0])
	if err != nil || len(k.PlanIDs) != 1 || k.PlanIDs[0] != plan.ID || !k.Imported {
		t.Fatalf("imported key %+v %v", k, err)
	}

	recs, err := r.client.ListAudit(ctx, keyward.AuditFilter{EventName: string(keyward.ActionKeyCreate)})
	if err != nil {
		t.Fatal(err)
	}
	var batches int
	for _, rec := range recs {
		ev := string(rec.Event)
		for _, v := range values {
			if strings.Contains(ev, v) {
				t.Fatal("an audit record holds an imported value")
			}
		}
		if strings.Contains(ev, `"import":true`) {
			batches++
			for _, id := range out.KeyIDs {
				if !strings.Contains(ev, id) {
					t.Errorf("the batch record does not name %s", id)
				}
			}
		}
	}
	if batches != 1 {
		t.Errorf("%d audit records for one batch", batches)
	}

	count := func() int {
		keys, _, err := r.client.ListKeys(ctx, keyward.KeyFilter{Page: keyward.Page{Limit: 100}})
		if err != nil {
			t.Fatal(err)
		}
		return len(keys)
	}
	before := count()
	bad := []keyward.KeyImportRow{
		{Line: 2, Name: "ok", Value: "sk-fine-0123456789abcdefghij"},
		{Line: 3, Name: "short", Value: "sk-short"},
	}
	_, err = r.client.ImportKeys(ctx, keyward.KeyImport{Rows: bad})
	if keyward.ErrorCode(err) != keyward.EINVALID || !strings.Contains(err.Error(), "line 3:") || strings.Contains(err.Error(), "sk-short") {
		t.Fatalf("bad row: %v", err)
	}
	dup := []keyward.KeyImportRow{{Line: 7, Name: "again", Value: values[1]}}
	if _, err := r.client.ImportKeys(ctx, keyward.KeyImport{Rows: dup}); keyward.ErrorCode(err) != keyward.ECONFLICT || !strings.Contains(err.Error(), "line 7:") {
		t.Fatalf("duplicate value: %v", err)
	}
	if after := count(); after != before {
		t.Fatalf("a failed batch left %d keys behind", after-before)
	}

	ci, err := r.client.CreatePrincipal(ctx, keyward.PrincipalCreate{Name: "ci", Roles: []string{"deployer"}})
	if err != nil {
		t.Fatal(err)
	}
	deployer := httpapi.NewClient(r.srv.AdminURL(), ci.Token, nil)
	if _, err := deployer.ImportKeys(ctx, keyward.KeyImport{Rows: []keyward.KeyImportRow{{Line: 2, Name: "x", Value: "sk-deployer-0123456789abcdef"}}}); keyward.ErrorCode(err) != keyward.EFORBIDDEN {
		t.Fatalf("deployer import: %v", err)
	}
	tooMany := make([]keyward.KeyImportRow, keyward.MaxImportRows+1)
	if _, err := r.client.ImportKeys(ctx, keyward.KeyImport{Rows: tooMany}); keyward.ErrorCode(err) != keyward.EINVALID {
		t.Fatalf("%d rows: %v", len(tooMany), err)
	}
}

package server_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
	"github.com/keyward/keyward/server"
)

// oldDataDir copies testdata/hashchain-datadir (written by keyward before
// the transparency log, see its README) to a new data dir; edit, when not
// nil, may change the database first, as an attacker of the old chain.
func oldDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("testdata", "hashchain-datadir")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "README" {
			continue
		}
		copyFile(t, filepath.Join(src, e.Name()), filepath.Join(dir, e.Name()))
	}
	return dir
}

// upgradeRecord returns the parameters of the one keyward:AuditLogUpgrade
// record.
func upgradeRecord(t *testing.T, c *httpapi.Client) map[string]any {
	t.Helper()
	recs, err := c.ListAudit(context.Background(), keyward.AuditFilter{EventName: "keyward:AuditLogUpgrade"})
	if err != nil || len(recs) != 1 {
		t.Fatalf("upgrade records: %d %v", len(recs), err)
	}
	var ev keyward.AuditEvent
	if err := json.Unmarshal(recs[0].Event, &ev); err != nil {
		t.Fatal(err)
	}
	return ev.RequestParameters
}

// The old chain is verified against its own checkpoints and carried into
// the tree; records after its last checkpoint are reported unverified by
// every verification from then on, never passed off as verified.
func TestAuditUpgradeFromTheHashChain(t *testing.T) {
	dir := oldDataDir(t)
	r := start(t, server.Config{DataDir: dir})
	if a := r.srv.Service().Audit.AuditAlarm(); a != "" {
		t.Fatalf("alarm after the upgrade: %s", a)
	}
	token, err := os.ReadFile(filepath.Join(dir, server.BootstrapTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	c := httpapi.NewClient(r.srv.AdminURL(), strings.TrimSpace(string(token)), nil)
	p := upgradeRecord(t, c)
	if p["records"] != 7.0 || p["verifiedThrough"] != 4.0 || p["unverifiedFirst"] != 5.0 || p["unverifiedLast"] != 7.0 || p["oldChainBroken"] != nil {
		t.Errorf("upgrade record: %v", p)
	}
	v, err := c.VerifyAudit(context.Background())
	if err != nil || !v.OK || v.LegacyUnverified == nil || *v.LegacyUnverified != (keyward.SeqRange{First: 5, Last: 7}) {
		t.Fatalf("verify after the upgrade: %+v %v", v, err)
	}
	// The old keys still work with the new log.
	if _, err := c.CreateKey(context.Background(), keyward.KeyCreate{Name: "after-upgrade"}); err != nil {
		t.Fatal(err)
	}
	r.stop()
	r = start(t, server.Config{DataDir: dir})
	if a := r.srv.Service().Audit.AuditAlarm(); a != "" {
		t.Fatalf("alarm on the start after the upgrade: %s", a)
	}
	c = httpapi.NewClient(r.srv.AdminURL(), strings.TrimSpace(string(token)), nil)
	upgradeRecord(t, c) // still one: the upgrade runs once
}

// An old chain edited before the upgrade: the edit shows in the upgrade
// record, and everything from the last checkpoint before it is unverified.
func TestAuditUpgradeReportsABrokenOldChain(t *testing.T) {
	dir := oldDataDir(t)
	db := openDB(t, dir)
	exec(t, db, `UPDATE audit_records SET event = replace(event, '"name":"two"', '"name":"owt"') WHERE seq = 3`)
	db.Close()
	r := start(t, server.Config{DataDir: dir})
	token, _ := os.ReadFile(filepath.Join(dir, server.BootstrapTokenFile))
	c := httpapi.NewClient(r.srv.AdminURL(), strings.TrimSpace(string(token)), nil)
	p := upgradeRecord(t, c)
	if p["oldChainBrokenAt"] != 3.0 || p["verifiedThrough"] != 0.0 || p["unverifiedFirst"] != 1.0 || p["unverifiedLast"] != 7.0 {
		t.Errorf("upgrade record: %v", p)
	}
	v, err := c.VerifyAudit(context.Background())
	if err != nil || v.LegacyUnverified == nil || v.LegacyUnverified.First != 1 {
		t.Fatalf("verify: %+v %v", v, err)
	}
}

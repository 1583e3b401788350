package sqlite

import (
	"path/filepath"
	"testing"
)

func TestPlans(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		queries[qKeysCredentials], queries[qKeysPlans], queries[qSecretsStages], queries[qPrincipalsPolicies],
		queries[qAppendAudit], queries[qAuditHead], queries[qPoliciesOf], queries[qGetVersionByStage], queries[qListVersions],
		`SELECT id FROM api_keys WHERE id > ? AND customer_id = ? ORDER BY id LIMIT ?`,
		`SELECT id FROM plan_keys JOIN api_keys ON id = key_id WHERE plan_id = ? AND key_id > ? ORDER BY key_id LIMIT ?`, `SELECT id FROM plan_keys JOIN api_keys ON id = key_id WHERE plan_id = ? AND key_id > ? AND customer_id = ? ORDER BY key_id LIMIT ?`,
		`SELECT seq FROM audit_records WHERE seq > ? AND event_name = ? ORDER BY seq LIMIT ?`,
		`SELECT seq FROM audit_records WHERE seq > ? AND event_time >= ? ORDER BY seq LIMIT ?`,
		`SELECT name FROM secrets WHERE name > ? AND EXISTS (SELECT 1 FROM json_each(secrets.tags) WHERE key = ?) ORDER BY name LIMIT ?`,
	} {
		rows, err := db.read.db.Query("EXPLAIN QUERY PLAN "+q, "x", "y", "z", "w", "v", "u", "t", "s")
		if err != nil {
			t.Logf("%s: %v", q, err)
			continue
		}
		t.Logf("%s", q)
		for rows.Next() {
			var id, parent, notused int
			var detail string
			rows.Scan(&id, &parent, &notused, &detail)
			t.Logf("    %s", detail)
		}
		rows.Close()
	}
}

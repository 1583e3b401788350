package server_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
	_ "modernc.org/sqlite"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
	"github.com/keyward/keyward/mockupstream"
	"github.com/keyward/keyward/server"
)

// These tests are the attacker of the audit trail's threat model: someone
// who can write keyward.db while the server is down (not the data dir's key
// files, not the witness), and who has read the README: records are RFC 6962
// leaves, tree hashes in sumdb/tlog's layout, checkpoints signed notes.

// tamperSetup runs a server with a gateway key and some history, stops it
// (a checkpoint and the witness are written at shutdown) and returns the
// data dir, the admin token and a key value that works at the gateway.
func tamperSetup(t *testing.T) (dir, token, value, upstream string) {
	t.Helper()
	up := httptest.NewServer(mockupstream.Handler())
	t.Cleanup(up.Close)
	r := start(t, server.Config{})
	ctx := context.Background()
	if _, err := r.client.CreateAPI(ctx, keyward.APICreate{Name: "chat", OpenAICompatible: true,
		Stages: []keyward.Stage{{Name: "prod", UpstreamURL: up.URL}}}); err != nil {
		t.Fatal(err)
	}
	ck, err := r.client.CreateKey(ctx, keyward.KeyCreate{Name: "victim", StageKeys: []keyward.StageKey{{APIID: "chat", Stage: "prod"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c"} {
		if _, err := r.client.CreateKey(ctx, keyward.KeyCreate{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	r.stop()
	return r.dir, r.token, ck.Value, up.URL
}

// openDB opens the database as the attacker does, with no keyward code.
func openDB(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, server.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func exec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// rewriteHistory changes an old record's event, then recomputes every leaf
// hash and every stored tree hash from the events, exactly as the server
// would, so that the database is consistent with itself.
func rewriteHistory(t *testing.T, db *sql.DB, seq int64, from, to string) {
	t.Helper()
	exec(t, db, `UPDATE audit_records SET event = replace(event, ?, ?) WHERE seq = ?`, from, to, seq)
	rows, err := db.Query(`SELECT seq, event FROM audit_records ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var events [][]byte
	for rows.Next() {
		var s int64
		var ev []byte
		if err := rows.Scan(&s, &ev); err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
	}
	rows.Close()
	stored := map[int64]tlog.Hash{}
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	exec(t, db, `DELETE FROM audit_tree_hashes`)
	for i, ev := range events {
		hs, err := tlog.StoredHashes(int64(i), ev, reader)
		if err != nil {
			t.Fatal(err)
		}
		base := tlog.StoredHashIndex(0, int64(i))
		for j, h := range hs {
			stored[base+int64(j)] = h
			exec(t, db, `INSERT INTO audit_tree_hashes (idx, hash) VALUES (?, ?)`, base+int64(j), h[:])
		}
		leaf := tlog.RecordHash(ev)
		exec(t, db, `UPDATE audit_records SET hash = ? WHERE seq = ?`, hexOf(leaf), i+1)
	}
}

func hexOf(h tlog.Hash) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 64)
	for i, c := range h {
		b[2*i], b[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(b)
}

// alarmed starts the server on a tampered dir and checks the alarm: the
// gateway still admits the key, /readyz is 503, a change is refused with
// 503 unavailable, a read still works, the metric says so.
func alarmed(t *testing.T, dir, token, value string) *running {
	t.Helper()
	r := start(t, server.Config{DataDir: dir})
	c := httpapi.NewClient(r.srv.AdminURL(), token, nil)
	eventually(t, "the alarm", func() bool { return r.srv.Service().Audit.AuditAlarm() != "" })
	if got := chat(t, r.srv.GatewayURL(), value); got != http.StatusOK {
		t.Errorf("gateway during the alarm: %d, want 200", got)
	}
	resp, err := http.Get(r.srv.AdminURL() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the alarm: %d", resp.StatusCode)
	}
	_, err = c.CreateKey(context.Background(), keyward.KeyCreate{Name: "after"})
	if keyward.ErrorCode(err) != keyward.EUNAVAILABLE || !strings.Contains(keyward.ErrorMessage(err), "audit log failed verification") {
		t.Errorf("a change during the alarm: %v", err)
	}
	if _, _, err := c.ListKeys(context.Background(), keyward.KeyFilter{}); err != nil {
		t.Errorf("a read during the alarm: %v", err)
	}
	if m := scrape(t, r.srv.AdminURL()); !strings.Contains(m, "keyward_audit_log_intact 0") {
		t.Errorf("metric: %q", grepLine(m, "keyward_audit_log_intact"))
	}
	if !strings.Contains(r.logs.String(), "AUDIT LOG TAMPERED") {
		t.Error("no alarm log line")
	}
	return r
}

func grepLine(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func TestAuditRewriteWithRecomputedHashesIsCaughtAtStart(t *testing.T) {
	dir, token, value, _ := tamperSetup(t)
	db := openDB(t, dir)
	rewriteHistory(t, db, 3, `"name":"victim"`, `"name":"innocent"`)
	db.Close()
	r := alarmed(t, dir, token, value)
	if a := r.srv.Service().Audit.AuditAlarm(); !strings.Contains(a, "rewritten") {
		t.Errorf("alarm: %s", a)
	}
}

func TestAuditCheckpointDeletionIsCaught(t *testing.T) {
	dir, token, value, _ := tamperSetup(t)
	db := openDB(t, dir)
	exec(t, db, `DELETE FROM audit_tree_checkpoints`)
	db.Close()
	alarmed(t, dir, token, value)
}

func TestAuditTruncationIsCaught(t *testing.T) {
	dir, token, value, _ := tamperSetup(t)
	db := openDB(t, dir)
	exec(t, db, `DELETE FROM audit_records WHERE seq > (SELECT max(seq) - 2 FROM audit_records)`)
	exec(t, db, `DELETE FROM audit_tree_checkpoints WHERE size > (SELECT max(seq) FROM audit_records)`)
	db.Close()
	alarmed(t, dir, token, value)
}

// An edit of the event alone (hashes untouched) passes the incremental
// check at start, which reads tree hashes, and is caught by the full
// verification that runs in the background right after.
func TestAuditContentEditIsCaughtInTheBackground(t *testing.T) {
	dir, token, value, _ := tamperSetup(t)
	db := openDB(t, dir)
	exec(t, db, `UPDATE audit_records SET event = replace(event, '"name":"victim"', '"name":"innocent"') WHERE seq = 3`)
	db.Close()
	r := alarmed(t, dir, token, value)
	if a := r.srv.Service().Audit.AuditAlarm(); !strings.Contains(a, "record 3") {
		t.Errorf("alarm: %s", a)
	}
}

// A record slipped into the tail (after the last checkpoint) has no valid
// tag: the server refuses to sign it.
func TestAuditForgedTailRecordIsNotSigned(t *testing.T) {
	dir, token, value, _ := tamperSetup(t)
	db := openDB(t, dir)
	var ev []byte
	if err := db.QueryRow(`SELECT event FROM audit_records WHERE seq = 3`).Scan(&ev); err != nil {
		t.Fatal(err)
	}
	leaf := tlog.RecordHash(ev)
	exec(t, db, `INSERT INTO audit_records (seq, prev_hash, hash, event, event_name, principal_id, tag)
		SELECT max(seq) + 1, '', ?, ?, 'apikeys:Create', 'x', x'00' FROM audit_records`, hexOf(leaf), string(ev))
	db.Close()
	r := alarmed(t, dir, token, value)
	if a := r.srv.Service().Audit.AuditAlarm(); !strings.Contains(a, "tag") {
		t.Errorf("alarm: %s", a)
	}
}

// A deliberate restore: a backup of the database is put back, which is older
// than the witness. The server raises the alarm; started once with
// --audit-rebase it re-bases (audited), and changes work again.
func TestAuditRestoreAndRebase(t *testing.T) {
	dir, token, value, _ := tamperSetup(t)
	backup := filepath.Join(t.TempDir(), "backup.db")
	copyFile(t, filepath.Join(dir, server.DatabaseFile), backup)
	r := start(t, server.Config{DataDir: dir})
	if _, err := r.client.CreateKey(context.Background(), keyward.KeyCreate{Name: "after-backup"}); err != nil {
		t.Fatal(err)
	}
	r.stop()
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(filepath.Join(dir, server.DatabaseFile+suffix))
	}
	copyFile(t, backup, filepath.Join(dir, server.DatabaseFile))
	r = alarmed(t, dir, token, value)
	r.stop()

	r = start(t, server.Config{DataDir: dir, AuditRebaseReason: "restored the backup of this morning"})
	if a := r.srv.Service().Audit.AuditAlarm(); a != "" {
		t.Fatalf("alarm after the rebase: %s", a)
	}
	c := httpapi.NewClient(r.srv.AdminURL(), token, nil)
	if _, err := c.CreateKey(context.Background(), keyward.KeyCreate{Name: "after-rebase"}); err != nil {
		t.Fatalf("a change after the rebase: %v", err)
	}
	recs, err := c.ListAudit(context.Background(), keyward.AuditFilter{EventName: "keyward:AuditRebase"})
	if err != nil || len(recs) != 1 || !strings.Contains(string(recs[0].Event), "restored the backup of this morning") ||
		!strings.Contains(string(recs[0].Event), "previousWitnessSize") {
		t.Fatalf("the rebase record: %v %v", recs, err)
	}
	v, err := c.VerifyAudit(context.Background())
	if err != nil || !v.OK {
		t.Fatalf("verify after the rebase: %+v %v", v, err)
	}
	r.stop()
	// Later starts need no flag.
	r = start(t, server.Config{DataDir: dir})
	if a := r.srv.Service().Audit.AuditAlarm(); a != "" {
		t.Fatalf("alarm on the start after the rebase: %s", a)
	}
}

// A database whose own log does not verify cannot be re-based: the rebase
// is for a restore, not for laundering an edit.
func TestAuditRebaseRefusesATamperedLog(t *testing.T) {
	dir, _, _, _ := tamperSetup(t)
	db := openDB(t, dir)
	rewriteHistory(t, db, 3, `"name":"victim"`, `"name":"innocent"`)
	db.Close()
	_, err := server.Open(context.Background(), server.Config{DataDir: dir, AdminAddr: "127.0.0.1:0", GatewayAddr: "127.0.0.1:0",
		AuditRebaseReason: "trust me"}, &syncBuffer{})
	if err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("rebase of a rewritten log: %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

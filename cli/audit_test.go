package cli

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

// writeFile writes b to a new file in a test directory and returns its path.
func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// keyFile writes the log's verifier key as `keyward audit public-key` prints
// it and returns the file's path.
func (l *testAuditLog) keyFile(t *testing.T) string {
	return writeFile(t, "audit.key", []byte(l.verifierKey()+"\n"))
}

// exportOf runs `keyward audit export --out` against fake and returns the
// file's lines and what the command printed.
func exportOf(t *testing.T, fake *fakeClient) ([]string, result) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "audit.jsonl")
	r := runCLI(t, fake, adminEnv, "", "audit", "export", "--out", out)
	if r.code != 0 {
		t.Fatalf("export: exit %d: %s", r.code, r.stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n"), r
}

func verifyLines(t *testing.T, lines []string, args ...string) result {
	t.Helper()
	f := writeFile(t, "export.jsonl", []byte(strings.Join(lines, "\n")+"\n"))
	return runCLI(t, &fakeClient{}, adminEnv, "", append([]string{"audit", "verify", "--file", f}, args...)...)
}

// A log of 8 records under two checkpoints and 2 after them.
func exportedLog(t *testing.T) *testAuditLog {
	l := newTestAuditLog(t, "server")
	l.add(5, "apikeys:Create")
	l.checkpoint()
	l.add(3, "secrets:Put")
	l.checkpoint()
	l.add(2, "apikeys:Delete")
	return l
}

func TestAuditExportEndsWithCheckpointAndVerifies(t *testing.T) {
	l := exportedLog(t)
	lines, r := exportOf(t, &fakeClient{alog: l, auditReads: true})
	// The key line, 8 records and 2 checkpoints; the 2 records after the
	// last checkpoint (and those the export's own reads added) left out.
	if len(lines) != 11 || !strings.Contains(lines[0], `"type":"key"`) || !strings.Contains(lines[10], `"type":"checkpoint"`) ||
		!strings.Contains(lines[6], `"type":"checkpoint"`) {
		t.Fatalf("export:\n%s", strings.Join(lines, "\n"))
	}
	if !strings.Contains(r.stdout, "Exported 8 records and 2 checkpoints to ") || !strings.Contains(r.stdout, "up to the latest checkpoint (8 records)") ||
		!strings.Contains(r.stdout, "newer records were left out") {
		t.Errorf("stdout = %q", r.stdout)
	}

	key := l.keyFile(t)
	r = verifyLines(t, lines, "--public-key-file", key)
	if r.code != 0 || r.stdout != "audit log intact: 8 records, 8 verified by 2 checkpoints (latest: tree size 8)\n" {
		t.Errorf("pinned: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// The data dir's audit-signing.pub holds the same key in hex, PEM works too.
	pub := l.priv.Public().(ed25519.PublicKey)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	for name, b := range map[string][]byte{
		"hex": []byte(hex.EncodeToString(pub) + "\n"),
		"pem": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
	} {
		if r := verifyLines(t, lines, "--public-key-file", writeFile(t, "k", b)); r.code != 0 {
			t.Errorf("%s key: exit %d, stdout %q, stderr %q", name, r.code, r.stdout, r.stderr)
		}
	}

	// No key: the file is consistent with its own key line, and that is
	// all that was checked.
	r = verifyLines(t, lines)
	if r.code != ExitAuditUnpinned || !strings.HasPrefix(r.stdout, "audit log intact: 8 records") || !strings.Contains(r.stdout, "\nUNPINNED: ") {
		t.Errorf("unpinned: exit %d, stdout %q", r.code, r.stdout)
	}
	r = verifyLines(t, lines, "-o", "json")
	if m := jsonObject(t, r.stdout); r.code != ExitAuditUnpinned || m["ok"] != true || !strings.HasPrefix(r.stderr, "UNPINNED: ") {
		t.Errorf("unpinned json: exit %d, json %v, stderr %q", r.code, m, r.stderr)
	}

	// Another server's key: its checkpoints are not signed by it.
	r = verifyLines(t, lines, "--public-key-file", newTestAuditLog(t, "other").keyFile(t))
	if r.code != ExitAuditBroken || !strings.HasPrefix(r.stdout, "audit log broken") {
		t.Errorf("other key: exit %d, stdout %q", r.code, r.stdout)
	}
	// A file signed by another key with its own key line passes unpinned
	// (exit 7, never 0) and fails pinned.
	forged := newTestAuditLog(t, "forger")
	forged.add(8, "apikeys:Create")
	forged.checkpoint()
	flines, _ := exportOf(t, &fakeClient{alog: forged})
	if r := verifyLines(t, flines); r.code != ExitAuditUnpinned {
		t.Errorf("forged, unpinned: exit %d, stdout %q", r.code, r.stdout)
	}
	if r := verifyLines(t, flines, "--public-key-file", key); r.code != ExitAuditBroken {
		t.Errorf("forged, pinned: exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestAuditVerifyFileTail(t *testing.T) {
	l := exportedLog(t)
	lines, _ := exportOf(t, &fakeClient{alog: l})
	key := l.keyFile(t)
	cut := lines[:len(lines)-1] // the last checkpoint line removed
	r := verifyLines(t, cut, "--public-key-file", key)
	if r.code != ExitAuditBroken || !strings.Contains(r.stdout, "records 6-8 come after the last checkpoint") {
		t.Errorf("tail: exit %d, stdout %q", r.code, r.stdout)
	}
	r = verifyLines(t, cut, "--public-key-file", key, "--allow-tail")
	want := "audit log intact: 8 records, 5 verified by 1 checkpoint (latest: tree size 5), 3 in the tail after the last checkpoint (not yet verified, oldest 2025-01-02T03:04:10Z)\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("--allow-tail: exit %d, stdout\n%q\nwant\n%q", r.code, r.stdout, want)
	}
	if r := runCLI(t, &fakeClient{}, adminEnv, "", "audit", "verify", "--allow-tail"); r.code != ExitUsage {
		t.Errorf("--allow-tail without --file: exit %d", r.code)
	}
	// A record changed below a checkpoint fails even though its hash was
	// recomputed by the forger.
	changed := append([]string(nil), lines...)
	changed[3] = strings.Replace(changed[3], "apikeys:Create-3", "apikeys:Create-X", 1)
	if r := verifyLines(t, changed, "--public-key-file", key); r.code != ExitAuditBroken {
		t.Errorf("changed record: exit %d, stdout %q", r.code, r.stdout)
	}
}

// Another tool re-encoded the export: "é" escaped, "<" unescaped, spaces
// after colons and commas, members of the line in another order.
func TestAuditVerifyFileReencoded(t *testing.T) {
	l := exportedLog(t)
	lines, _ := exportOf(t, &fakeClient{alog: l})
	out := append([]string(nil), lines...)
	changed := 0
	for i, ln := range out {
		if !strings.Contains(ln, `"type":"record"`) {
			continue
		}
		n := strings.ReplaceAll(ln, "é", `\u00e9`)
		n = strings.ReplaceAll(n, `\u003c`, "<")
		n = strings.ReplaceAll(n, `\u003e`, ">")
		n = strings.ReplaceAll(n, `":`, `": `)
		n = strings.ReplaceAll(n, `,"`, `, "`)
		n = strings.Replace(n, `{"type": "record", `, `{`, 1)
		n = strings.TrimSuffix(n, "}") + `, "type": "record"}`
		if n != ln {
			changed++
		}
		out[i] = n
	}
	if changed != 8 || !strings.Contains(out[1], `caf\u00e9 <prod> \u00e9`) {
		t.Fatalf("re-encoding changed %d lines:\n%s", changed, out[1])
	}
	r := verifyLines(t, out, "--public-key-file", l.keyFile(t))
	if r.code != 0 || !strings.HasPrefix(r.stdout, "audit log intact: 8 records, 8 verified") {
		t.Errorf("exit %d, stdout %q", r.code, r.stdout)
	}
	// Re-encoding is not rewriting: a changed character still fails.
	out[1] = strings.Replace(out[1], `caf\u00e9`, `caf\u00e8`, 1)
	if r := verifyLines(t, out, "--public-key-file", l.keyFile(t)); r.code != ExitAuditBroken {
		t.Errorf("changed after re-encoding: exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestAuditExportWithoutCheckpoint(t *testing.T) {
	l := newTestAuditLog(t, "server")
	l.add(3, "apikeys:Create")
	lines, r := exportOf(t, &fakeClient{alog: l})
	if len(lines) != 1 || !strings.Contains(lines[0], `"type":"key"`) || !strings.Contains(lines[0], l.verifierKey()) {
		t.Errorf("export:\n%s", strings.Join(lines, "\n"))
	}
	if !strings.HasPrefix(r.stdout, "No checkpoint yet: exported only the key line") {
		t.Errorf("stdout = %q", r.stdout)
	}
	// To stdout, the export is all stdout holds; the summary goes to stderr.
	r = runCLI(t, &fakeClient{alog: exportedLog(t)}, adminEnv, "", "audit", "export")
	if r.code != 0 || strings.Count(r.stdout, "\n") != 11 || !strings.Contains(r.stderr, "Exported 8 records and 2 checkpoints to stdout") {
		t.Errorf("exit %d, stdout %d lines, stderr %q", r.code, strings.Count(r.stdout, "\n"), r.stderr)
	}
	// An existing file is not overwritten; a failed export leaves no file.
	out := filepath.Join(t.TempDir(), "x.jsonl")
	os.WriteFile(out, []byte("keep"), 0o600)
	if r := runCLI(t, &fakeClient{alog: l}, adminEnv, "", "audit", "export", "--out", out); r.code != ExitError {
		t.Errorf("existing file: exit %d", r.code)
	}
	out2 := filepath.Join(t.TempDir(), "y.jsonl")
	r = runCLI(t, &fakeClient{err: keyward.Errorf(keyward.EFORBIDDEN, "denied")}, adminEnv, "", "audit", "export", "--out", out2)
	if _, err := os.Stat(out2); r.code != ExitUnauthorized || err == nil {
		t.Errorf("exit %d, file left: %v", r.code, err == nil)
	}
}

func TestAuditProve(t *testing.T) {
	l := newTestAuditLog(t, "server")
	l.add(5, "apikeys:Create")
	l.checkpoint()
	l.add(5, "secrets:Put")
	l.checkpoint()
	key := l.keyFile(t)
	fake := &fakeClient{alog: l}
	r := runCLI(t, fake, adminEnv, "", "audit", "prove", "4", "--public-key-file", key)
	if r.code != 0 || !strings.Contains(r.stdout, "included: record 4 is in the signed tree of 10 records\n") ||
		!strings.Contains(r.stdout, l.store.records[3].Hash) || !strings.Contains(r.stdout, "tree size") || strings.Contains(r.stdout, "UNPINNED") {
		t.Errorf("exit %d, stdout:\n%s", r.code, r.stdout)
	}
	if got := fake.calls[len(fake.calls)-1]; got != "ProveRecord 4 0" {
		t.Errorf("call = %q", got)
	}
	r = runCLI(t, fake, adminEnv, "", "audit", "prove", "3", "--size", "5", "--public-key-file", key, "-o", "json")
	m := jsonObject(t, r.stdout)
	if rec, _ := m["record"].(map[string]any); r.code != 0 || m["included"] != true || m["pinned"] != true || rec["seq"] != 3.0 || len(m["proof"].([]any)) == 0 {
		t.Errorf("json: exit %d, %v", r.code, m)
	}
	// Unpinned: checked against the server's own key, and said so.
	r = runCLI(t, fake, adminEnv, "", "audit", "prove", "4")
	if r.code != 0 || !strings.Contains(r.stdout, "\nUNPINNED: ") {
		t.Errorf("unpinned: exit %d, stdout %q", r.code, r.stdout)
	}
	// Another key, or a proof that does not lead to the root, fails.
	r = runCLI(t, fake, adminEnv, "", "audit", "prove", "4", "--public-key-file", newTestAuditLog(t, "other").keyFile(t))
	if r.code != ExitAuditBroken || !strings.Contains(r.stdout, "NOT included: ") {
		t.Errorf("other key: exit %d, stdout %q", r.code, r.stdout)
	}
	fake.badProof = func(p *keyward.AuditProof) { p.Proof[0] = strings.Repeat("0", 64) }
	r = runCLI(t, fake, adminEnv, "", "audit", "prove", "4", "--public-key-file", key)
	if r.code != ExitAuditBroken || !strings.Contains(r.stdout, "NOT included: record 4 is not in the tree") {
		t.Errorf("bad proof: exit %d, stdout %q", r.code, r.stdout)
	}
	fake.badProof = func(p *keyward.AuditProof) { p.Record.Event = json.RawMessage(`{"eventName":"forged"}`) }
	if r := runCLI(t, fake, adminEnv, "", "audit", "prove", "4", "--public-key-file", key); r.code != ExitAuditBroken {
		t.Errorf("forged event: exit %d, stdout %q", r.code, r.stdout)
	}
	for _, args := range [][]string{{"0"}, {"x"}, {"4", "--size", "-1"}} {
		if r := runCLI(t, fake, adminEnv, "", append([]string{"audit", "prove"}, args...)...); r.code != ExitUsage {
			t.Errorf("prove %v: exit %d", args, r.code)
		}
	}
}

func TestAuditVerifySince(t *testing.T) {
	l := newTestAuditLog(t, "server")
	l.add(3, "apikeys:Create")
	l.add(3, "secrets:Put")
	kept := l.checkpoint()
	l.add(4, "apikeys:Delete")
	l.checkpoint()
	key := l.keyFile(t)
	witness := writeFile(t, "audit-witness", []byte(kept.Note))
	fake := &fakeClient{alog: l}

	r := runCLI(t, fake, adminEnv, "", "audit", "verify", "--since", witness, "--public-key-file", key)
	if r.code != 0 || r.stdout != "log grew from 6 to 10 records: consistent\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// The checkpoint line of an export works as well.
	line, _ := json.Marshal(map[string]any{"type": "checkpoint", "size": kept.Size, "root": kept.Root, "time": kept.Time, "note": kept.Note})
	r = runCLI(t, fake, adminEnv, "", "audit", "verify", "--since", writeFile(t, "cp.json", line), "--public-key-file", key, "-o", "json")
	if m := jsonObject(t, r.stdout); r.code != 0 || m["ok"] != true || m["from"] != 6.0 || m["to"] != 10.0 || m["pinned"] != true {
		t.Errorf("line: exit %d, json %v", r.code, m)
	}
	// Unpinned: the server's own key, said so, exit 7.
	r = runCLI(t, fake, adminEnv, "", "audit", "verify", "--since", witness)
	if r.code != ExitAuditUnpinned || !strings.HasPrefix(r.stdout, "log grew from 6 to 10 records: consistent\nUNPINNED: ") {
		t.Errorf("unpinned: exit %d, stdout %q", r.code, r.stdout)
	}

	// A checkpoint of a forked log (same key, other records from 4 on) is
	// not a prefix of the server's log.
	fork := newTestAuditLog(t, "server")
	fork.add(3, "apikeys:Create")
	fork.add(3, "forked")
	forked := writeFile(t, "forked", []byte(fork.checkpoint().Note))
	r = runCLI(t, fake, adminEnv, "", "audit", "verify", "--since", forked, "--public-key-file", key)
	if r.code != ExitAuditBroken || !strings.HasPrefix(r.stdout, "log NOT consistent with the kept checkpoint: ") {
		t.Errorf("fork: exit %d, stdout %q", r.code, r.stdout)
	}
	// A kept checkpoint larger than anything the server has: rolled back.
	fork.add(6, "more")
	bigger := writeFile(t, "bigger", []byte(fork.checkpoint().Note))
	r = runCLI(t, fake, adminEnv, "", "audit", "verify", "--since", bigger, "--public-key-file", key)
	if r.code != ExitAuditBroken || !strings.Contains(r.stdout, "truncated or rolled back") {
		t.Errorf("rollback: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// A checkpoint signed by another key than the pinned one.
	r = runCLI(t, fake, adminEnv, "", "audit", "verify", "--since", witness, "--public-key-file", newTestAuditLog(t, "other").keyFile(t))
	if r.code != ExitAuditBroken || !strings.Contains(r.stdout, "the kept checkpoint: ") {
		t.Errorf("other key: exit %d, stdout %q", r.code, r.stdout)
	}
	if r := runCLI(t, fake, adminEnv, "", "audit", "verify", "--since", witness, "--file", witness); r.code != ExitUsage {
		t.Errorf("--since with --file: exit %d", r.code)
	}
}

func TestAuditPublicKey(t *testing.T) {
	l := newTestAuditLog(t, "server")
	fake := &fakeClient{alog: l}
	r := runCLI(t, fake, adminEnv, "", "audit", "public-key")
	if r.code != 0 || r.stdout != l.verifierKey()+"\n" || !strings.HasPrefix(r.stdout, "keyward/audit/") {
		t.Fatalf("exit %d, stdout %q", r.code, r.stdout)
	}
	// What it prints is a --public-key-file.
	cv, err := parseVerifier([]byte(r.stdout))
	if err != nil || cv.VerifierKey() != l.verifierKey() {
		t.Errorf("parseVerifier(public-key output) = %v, %v", cv, err)
	}
	r = runCLI(t, fake, adminEnv, "", "audit", "public-key", "-o", "json")
	if m := jsonObject(t, r.stdout); m["verifierKey"] != l.verifierKey() {
		t.Errorf("json %v", m)
	}
	// A server that reports something that is not a verifier key.
	if r := runCLI(t, &fakeClient{auditKey: "nonsense"}, adminEnv, "", "audit", "public-key"); r.code != ExitError {
		t.Errorf("bad key: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestParseVerifierRefuses(t *testing.T) {
	good := newTestAuditLog(t, "server").verifierKey()
	other := newTestAuditLog(t, "other").verifierKey()
	// The name of one key on the body of another.
	swapped := good[:strings.IndexByte(good, '+')] + other[strings.IndexByte(other, '+'):]
	for name, in := range map[string]string{
		"empty":      "",
		"garbage":    "not a key",
		"short hex":  "abcd",
		"swapped":    swapped,
		"bad base64": good[:len(good)-4] + "!!!!",
	} {
		if cv, err := parseVerifier([]byte(in)); err == nil {
			t.Errorf("%s: parseVerifier(%q) = %v, want an error", name, in, cv)
		}
	}
}

// Every verifier key reads back, also those whose base64 holds a '+' (the
// separator of its parts).
func TestParseVerifierAcceptsEveryKey(t *testing.T) {
	plus := 0
	for i := 0; i < 64; i++ {
		k := newTestAuditLog(t, strings.Repeat("k", i)).verifierKey()
		if strings.Count(k, "+") > 2 {
			plus++
		}
		cv, err := parseVerifier([]byte(k + "\n"))
		if err != nil || cv.VerifierKey() != k {
			t.Errorf("parseVerifier(%q) = %v, %v", k, cv, err)
		}
	}
	if plus == 0 {
		t.Fatal("no key with a '+' in its base64 among 64: the case is not tested")
	}
}

package cli

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// auditRecords returns records 1..n.
func auditRecords(t *testing.T, n int) []*keyward.AuditRecord {
	out := make([]*keyward.AuditRecord, n)
	for i := range out {
		out[i] = auditRecord(t, int64(i+1), "apikeys:Get")
	}
	return out
}

// seqsOf returns the SEQ column of an audit list table.
func seqsOf(table string) []string {
	var seqs []string
	for _, line := range strings.Split(strings.TrimSpace(table), "\n")[1:] {
		seqs = append(seqs, strings.Fields(line)[0])
	}
	return seqs
}

var nextToken = regexp.MustCompile(`--next (\S+)`)

func TestAuditListNewestFirstAndPages(t *testing.T) {
	fake := &fakeClient{records: auditRecords(t, 7)}
	r := runCLI(t, fake, adminEnv, "", "audit", "list", "--limit", "3")
	if got := seqsOf(r.stdout); !reflect.DeepEqual(got, []string{"7", "6", "5"}) {
		t.Fatalf("first page = %v:\n%s", got, r.stdout)
	}
	m := nextToken.FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no page token on stderr: %q", r.stderr)
	}
	if strings.Contains(r.stdout, "--next") {
		t.Errorf("the token belongs on stderr, stdout stays the table")
	}

	// Following the tokens reads every record once, newest to oldest.
	seen := seqsOf(r.stdout)
	for range 5 {
		r = runCLI(t, fake, adminEnv, "", "audit", "list", "--limit", "3", "--next", m[1])
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		seen = append(seen, seqsOf(r.stdout)...)
		if m = nextToken.FindStringSubmatch(r.stderr); m == nil {
			break
		}
	}
	if want := []string{"7", "6", "5", "4", "3", "2", "1"}; !reflect.DeepEqual(seen, want) {
		t.Errorf("paged = %v, want %v", seen, want)
	}
	if m != nil {
		t.Errorf("the last page still has a token: %q", r.stderr)
	}

	// A short page is the last one; with --after, so is the page that
	// reaches the bound.
	r = runCLI(t, fake, adminEnv, "", "audit", "list")
	if strings.Contains(r.stderr, "--next") || len(seqsOf(r.stdout)) != 7 {
		t.Errorf("one short page: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	r = runCLI(t, fake, adminEnv, "", "audit", "list", "--after", "4", "--limit", "3")
	if got := seqsOf(r.stdout); !reflect.DeepEqual(got, []string{"7", "6", "5"}) || strings.Contains(r.stderr, "--next") {
		t.Errorf("after 4: %v, stderr %q", got, r.stderr)
	}

	// JSON: the records, newest first, and the token on stderr all the same.
	r = runCLI(t, fake, adminEnv, "", "audit", "list", "--limit", "2", "-o", "json")
	var recs []keyward.AuditRecord
	if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil || len(recs) != 2 || recs[0].Seq != 7 {
		t.Errorf("json = %v, %v", recs, err)
	}
	if m := nextToken.FindStringSubmatch(r.stderr); m == nil || m[1] != "6" {
		t.Errorf("stderr = %q", r.stderr)
	}

	for _, bad := range []string{"abc", "0", "-3"} {
		r = runCLI(t, fake, adminEnv, "", "audit", "list", "--next", bad)
		if r.code != ExitUsage || !strings.Contains(r.stderr, "page token") {
			t.Errorf("--next %s: exit %d, stderr %q", bad, r.code, r.stderr)
		}
	}
}

func TestAuditListTimes(t *testing.T) {
	day := func(s string) *time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return &tm
	}
	for _, tc := range []struct {
		args         []string
		since, until *time.Time
	}{
		{[]string{"--since", "2025-01-01T10:00:00+01:00"}, day("2025-01-01T09:00:00Z"), nil},
		{[]string{"--since", "2024-12-30", "--until", "2024-12-31"}, day("2024-12-30T00:00:00Z"), day("2024-12-31T23:59:59.999999999Z")},
		// Relative: counted back from now (t0, 2025-01-02T03:04:05Z).
		{[]string{"--since", "2h"}, day("2025-01-02T01:04:05Z"), nil},
		{[]string{"--since", "1d12h", "--until", "90m"}, day("2024-12-31T15:04:05Z"), day("2025-01-02T01:34:05Z")},
	} {
		fake := &fakeClient{}
		r := runCLI(t, fake, adminEnv, "", append([]string{"audit", "list"}, tc.args...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, r.code, r.stderr)
		}
		f := fake.auditF
		if !reflect.DeepEqual(f.Since, tc.since) || !reflect.DeepEqual(f.Until, tc.until) {
			t.Errorf("%v: since %v, until %v", tc.args, f.Since, f.Until)
		}
	}
	for _, args := range [][]string{
		{"--since", "yesterday"},
		{"--until", "2025-13-01"},
		{"--since", "2025-01-02", "--until", "2025-01-01"},
	} {
		r := runCLI(t, &fakeClient{}, adminEnv, "", append([]string{"audit", "list"}, args...)...)
		if r.code != ExitUsage {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}

func TestAuditListPrincipal(t *testing.T) {
	// A name is resolved to its ID, which the server filters on.
	fake := &fakeClient{}
	r := runCLI(t, fake, adminEnv, "", "audit", "list", "--principal", "alice")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if fake.auditF.PrincipalID != "pr_1" || fake.calls[0] != "GetPrincipal alice" {
		t.Errorf("filter %+v, calls %v", fake.auditF, fake.calls)
	}
	// An ID is used as is: a deleted principal's records stay reachable.
	fake = &fakeClient{}
	runCLI(t, fake, adminEnv, "", "audit", "list", "--principal", "prn_gone")
	if want := []string{"ListAudit"}; fake.auditF.PrincipalID != "prn_gone" || !reflect.DeepEqual(fake.calls, want) {
		t.Errorf("filter %+v, calls %v", fake.auditF, fake.calls)
	}
	// An unknown name: not found, and nothing listed.
	fake = &fakeClient{err: keyward.Errorf(keyward.ENOTFOUND, "principal nobody not found")}
	r = runCLI(t, fake, adminEnv, "", "audit", "list", "--principal", "nobody")
	if r.code != ExitNotFound || fake.auditF != nil {
		t.Errorf("exit %d, filter %+v", r.code, fake.auditF)
	}

	// The PRINCIPAL column shows the caller's ID with its name beside it.
	ev, _ := json.Marshal(keyward.AuditEvent{EventName: "apikeys:Get", EventTime: t0,
		UserIdentity: keyward.UserIdentity{Type: "Principal", PrincipalID: "prn_1", UserName: "alice"}})
	fake = &fakeClient{records: []*keyward.AuditRecord{{Seq: 1, Event: ev}}}
	r = runCLI(t, fake, adminEnv, "", "audit", "list")
	if !strings.Contains(r.stdout, " prn_1 (alice) ") {
		t.Errorf("table:\n%s", r.stdout)
	}
}

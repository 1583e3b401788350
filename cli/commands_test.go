package cli

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

func TestAPIsFlags(t *testing.T) {
	fake := &fakeClient{}
	r := runCLI(t, fake, adminEnv, "", "apis", "create", "chat", "--stage", "prod=http://x", "--stage", "dev=https://dev.example/v1",
		"--upstream-secret", "prod=openai/prod", "--openai-compatible", "--description", "d", "--key-prefix", "ch")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := keyward.APICreate{Name: "chat", Description: "d", OpenAICompatible: true, KeyPrefix: "ch", Stages: []keyward.Stage{
		{Name: "prod", UpstreamURL: "http://x", UpstreamSecret: "openai/prod"},
		{Name: "dev", UpstreamURL: "https://dev.example/v1"},
	}}
	if !reflect.DeepEqual(*fake.apiCreate, want) {
		t.Errorf("APICreate = %+v", *fake.apiCreate)
	}

	fake = &fakeClient{}
	runCLI(t, fake, adminEnv, "", "apis", "update", "chat", "--openai-compatible=false", "--stage", "prod=http://y")
	u := fake.apiUpdate
	if u.OpenAICompatible == nil || *u.OpenAICompatible || u.Description != nil ||
		!reflect.DeepEqual(*u.Stages, []keyward.Stage{{Name: "prod", UpstreamURL: "http://y"}}) {
		t.Errorf("APIUpdate = %+v", u)
	}
	if fake.calls[0] != "UpdateAPI chat" {
		t.Errorf("calls = %v", fake.calls)
	}
}

func TestPlansFlags(t *testing.T) {
	fake := &fakeClient{}
	r := runCLI(t, fake, adminEnv, "", "plans", "create", "gold", "--rate", "10.5", "--burst", "20",
		"--quota", "1000/DAY", "--tokens-per-minute", "5000", "--default-max-tokens", "256", "--stage", "chat/prod", "--description", "d")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := keyward.PlanCreate{
		Name: "gold", Description: "d",
		Throttle:  &keyward.Throttle{RateLimit: 10.5, BurstLimit: 20},
		Quota:     &keyward.Quota{Limit: 1000, Period: keyward.PeriodDay},
		Tokens:    &keyward.TokenLimits{PerMinute: 5000, DefaultMaxTokens: 256},
		APIStages: []keyward.PlanStage{{APIID: "chat", Stage: "prod"}},
	}
	if !reflect.DeepEqual(*fake.planCreate, want) {
		t.Errorf("PlanCreate = %+v", *fake.planCreate)
	}

	fake = &fakeClient{}
	runCLI(t, fake, adminEnv, "", "plans", "create", "p", "--quota", "50/month", "--quota-offset", "3")
	if q := fake.planCreate.Quota; *q != (keyward.Quota{Limit: 50, Period: keyward.PeriodMonth, Offset: 3}) || fake.planCreate.Throttle != nil {
		t.Errorf("Quota = %+v", q)
	}
}

func TestPlansUpdate(t *testing.T) {
	// A partial limit is completed from the plan as it is.
	cur := &keyward.UsagePlan{ID: "plan_1", Name: "gold",
		Throttle: &keyward.Throttle{RateLimit: 1, BurstLimit: 5},
		Quota:    &keyward.Quota{Limit: 10, Period: keyward.PeriodWeek, Offset: 2},
		Tokens:   &keyward.TokenLimits{PerMinute: 100, PerDay: 1000}}
	fake := &fakeClient{plan: cur}
	r := runCLI(t, fake, adminEnv, "", "plans", "update", "gold", "--rate", "3", "--tokens-per-day", "9", "--quota", "20/WEEK")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	u := fake.planUpdate
	if *u.Throttle != (keyward.Throttle{RateLimit: 3, BurstLimit: 5}) ||
		*u.Quota != (keyward.Quota{Limit: 20, Period: keyward.PeriodWeek, Offset: 2}) ||
		*u.Tokens != (keyward.TokenLimits{PerMinute: 100, PerDay: 9}) {
		t.Errorf("PlanUpdate = %+v %+v %+v", u.Throttle, u.Quota, u.Tokens)
	}

	fake = &fakeClient{}
	runCLI(t, fake, adminEnv, "", "plans", "update", "gold", "--no-throttle", "--no-quota", "--no-tokens", "--stage", "")
	u = fake.planUpdate
	if !u.ClearThrottle || !u.ClearQuota || !u.ClearTokens || u.APIStages == nil || len(*u.APIStages) != 0 {
		t.Errorf("PlanUpdate = %+v", u)
	}
	for _, c := range fake.calls {
		if strings.HasPrefix(c, "GetPlan") {
			t.Errorf("no read needed, got %v", fake.calls)
		}
	}

	// Only --burst on a plan without a throttle cannot be completed.
	fake = &fakeClient{plan: &keyward.UsagePlan{ID: "plan_1"}}
	if r := runCLI(t, fake, adminEnv, "", "plans", "update", "gold", "--burst", "3"); r.code != ExitUsage {
		t.Errorf("exit %d, want usage: %s", r.code, r.stderr)
	}
}

func TestPlansAttach(t *testing.T) {
	fake := &fakeClient{}
	runCLI(t, fake, adminEnv, "", "plans", "attach", "gold", "key_1")
	runCLI(t, fake, adminEnv, "", "plans", "detach", "gold", "key_1")
	want := []string{"AttachKey gold key_1", "DetachKey gold key_1"}
	if !reflect.DeepEqual(fake.calls, want) {
		t.Errorf("calls = %v", fake.calls)
	}
	r := runCLI(t, &fakeClient{err: keyward.Errorf(keyward.ECONFLICT, "already attached")}, adminEnv, "", "plans", "attach", "gold", "key_1")
	if r.code != ExitConflict {
		t.Errorf("exit %d", r.code)
	}
}

func TestSecretsInput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "v")
	if err := os.WriteFile(file, []byte("from file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		stdin string
		args  []string
		want  string
		check func(*fakeClient) []byte
	}{
		{"create stdin", "s3cr3t\n", []string{"secrets", "create", "db", "--stdin", "--tag", "a=b"}, "s3cr3t\n",
			func(f *fakeClient) []byte { return f.secCreate.Value }},
		{"create file", "", []string{"secrets", "create", "db", "--from-file", file}, "from file\n",
			func(f *fakeClient) []byte { return f.secCreate.Value }},
		{"create dash", "dash", []string{"secrets", "create", "db", "--from-file", "-"}, "dash",
			func(f *fakeClient) []byte { return f.secCreate.Value }},
		{"put stdin", "v2", []string{"secrets", "put", "db", "--client-token", "ct", "--stage", "AWSPENDING"}, "v2",
			func(f *fakeClient) []byte { return f.secPut.Value }},
		{"put file", "ignored", []string{"secrets", "put", "db", "--from-file", file}, "from file\n",
			func(f *fakeClient) []byte { return f.secPut.Value }},
		{"put binary", "\xff\x00\x01", []string{"secrets", "put", "db", "--binary"}, "\xff\x00\x01",
			func(f *fakeClient) []byte { return f.secPut.Value }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake := &fakeClient{}
			r := runCLI(t, fake, adminEnv, c.stdin, c.args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if got := string(c.check(fake)); got != c.want {
				t.Errorf("value = %q, want %q", got, c.want)
			}
		})
	}

	fake := &fakeClient{}
	runCLI(t, fake, adminEnv, "v", "secrets", "put", "db", "--client-token", "ct", "--stage", "AWSPENDING")
	if fake.secPut.ClientToken != "ct" || !reflect.DeepEqual(fake.secPut.Stages, []string{"AWSPENDING"}) {
		t.Errorf("SecretPut = %+v", fake.secPut)
	}
	fake = &fakeClient{}
	runCLI(t, fake, adminEnv, "", "secrets", "create", "empty", "--description", "no value yet")
	if fake.secCreate.Value != nil || fake.secCreate.Description != "no value yet" {
		t.Errorf("SecretCreate = %+v", fake.secCreate)
	}

	for name, args := range map[string][]string{
		"empty stdin":  {"secrets", "put", "db"},
		"not utf-8":    {"secrets", "create", "db", "--stdin"},
		"missing file": {"secrets", "put", "db", "--from-file", filepath.Join(dir, "none")},
	} {
		stdin := ""
		if name == "not utf-8" {
			stdin = "\xff\xfe"
		}
		r := runCLI(t, &fakeClient{}, adminEnv, stdin, args...)
		if r.code == 0 || r.factoryCalled {
			t.Errorf("%s: exit %d, stderr %q", name, r.code, r.stderr)
		}
	}
}

func TestSecretsGet(t *testing.T) {
	val := &keyward.SecretValue{Name: "db", VersionID: "v1", Stages: []string{"CURRENT"}, Value: []byte("pa ss\n")}
	fake := &fakeClient{secValue: val}
	r := runCLI(t, fake, adminEnv, "", "secrets", "get", "db", "--stage", "PREVIOUS")
	if r.stdout != "pa ss\n" {
		t.Errorf("stdout = %q, want the value exactly", r.stdout)
	}
	if *fake.secSel != (keyward.SecretSelector{Stage: "PREVIOUS"}) {
		t.Errorf("selector = %+v", fake.secSel)
	}

	r = runCLI(t, fake, adminEnv, "", "secrets", "get", "db", "--version-id", "v1", "-o", "json")
	m := jsonObject(t, r.stdout)
	if m["secretString"] != "pa ss\n" || m["versionId"] != "v1" || m["name"] != "db" {
		t.Errorf("json = %v", m)
	}
	if _, ok := m["secretBinary"]; ok {
		t.Error("text value with secretBinary")
	}

	bin := &keyward.SecretValue{Name: "blob", VersionID: "v1", Binary: true, Value: []byte{0, 1, 0xff}}
	r = runCLI(t, &fakeClient{secValue: bin}, adminEnv, "", "secrets", "get", "blob")
	if r.stdout != "\x00\x01\xff" {
		t.Errorf("binary stdout = %q", r.stdout)
	}
	r = runCLI(t, &fakeClient{secValue: bin}, adminEnv, "", "secrets", "get", "blob", "-o", "json")
	m = jsonObject(t, r.stdout)
	if m["secretBinary"] != base64.StdEncoding.EncodeToString([]byte{0, 1, 0xff}) {
		t.Errorf("json = %v", m)
	}
	if _, ok := m["secretString"]; ok {
		t.Error("binary value with secretString")
	}
}

func TestSecretsDeleteAndMove(t *testing.T) {
	fake := &fakeClient{}
	runCLI(t, fake, adminEnv, "", "secrets", "delete", "db", "--recovery-window-days", "7")
	if *fake.secDelete != (keyward.SecretDelete{RecoveryWindowDays: 7}) {
		t.Errorf("SecretDelete = %+v", fake.secDelete)
	}
	runCLI(t, fake, adminEnv, "", "secrets", "delete", "db", "--force")
	if *fake.secDelete != (keyward.SecretDelete{Force: true}) {
		t.Errorf("SecretDelete = %+v", fake.secDelete)
	}
	runCLI(t, fake, adminEnv, "", "secrets", "move-stage", "db", "CURRENT", "--to", "v2", "--from", "v1")
	if *fake.secMove != (keyward.StageMove{Stage: "CURRENT", MoveTo: "v2", RemoveFrom: "v1"}) {
		t.Errorf("StageMove = %+v", fake.secMove)
	}
}

func TestPrincipals(t *testing.T) {
	fake := &fakeClient{}
	r := runCLI(t, fake, adminEnv, "", "principals", "create", "ci", "--role", "deployer", "--role", "reader", "--type", "user", "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if want := (keyward.PrincipalCreate{Name: "ci", Type: "user", Roles: []string{"deployer", "reader"}}); !reflect.DeepEqual(*fake.prCreate, want) {
		t.Errorf("PrincipalCreate = %+v", *fake.prCreate)
	}
	m := jsonObject(t, r.stdout)
	if m["id"] != "pr_1" || m["name"] != "ci" || m["token"] != "kwa_tokentokentoken" {
		t.Errorf("json = %v", m)
	}

	r = runCLI(t, fake, adminEnv, "", "principals", "token", "ci")
	if r.stdout != "kwa_newtokennewtoken\n" {
		t.Errorf("token stdout = %q", r.stdout)
	}
}

func TestPolicies(t *testing.T) {
	doc := `{"Version":"2025-01-01","Statement":[{"Effect":"Allow","Action":"secrets:GetSecretValue","Resource":"kw:secret/ci/*"}]}`
	fake := &fakeClient{}
	r := runCLI(t, fake, adminEnv, doc+"\n", "policies", "create", "read-ci", "--document", "-", "--description", "d")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if string(fake.polCreate.Document) != doc || fake.polCreate.Name != "read-ci" || fake.polCreate.Description != "d" {
		t.Errorf("PolicyCreate = %+v", fake.polCreate)
	}
	r = runCLI(t, &fakeClient{}, adminEnv, "{not json", "policies", "create", "bad", "--document", "-")
	if r.code != ExitUsage || r.factoryCalled {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	fake = &fakeClient{}
	runCLI(t, fake, adminEnv, "", "policies", "attach", "read-ci", "ci")
	runCLI(t, fake, adminEnv, "", "policies", "detach", "read-ci", "ci")
	if want := []string{"AttachPolicy read-ci ci", "DetachPolicy read-ci ci"}; !reflect.DeepEqual(fake.calls, want) {
		t.Errorf("calls = %v", fake.calls)
	}
}

func auditRecord(t *testing.T, seq int64, name string) *keyward.AuditRecord {
	ev, err := json.Marshal(keyward.AuditEvent{EventName: name, EventTime: t0, SourceIPAddress: "10.0.0.1",
		UserIdentity: keyward.UserIdentity{Type: "Principal", UserName: "admin"}, ErrorCode: "", EventID: "e"})
	if err != nil {
		t.Fatal(err)
	}
	return &keyward.AuditRecord{Seq: seq, Hash: "h", Event: ev}
}

func TestAuditList(t *testing.T) {
	fake := &fakeClient{records: []*keyward.AuditRecord{auditRecord(t, 1, "apikeys:Create")}}
	r := runCLI(t, fake, adminEnv, "", "audit", "list", "--after", "0", "--limit", "10", "--event-name", "apikeys:Create", "--principal", "prn_1")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if f := fake.auditF; *f != (keyward.AuditFilter{Limit: 10, EventName: "apikeys:Create", PrincipalID: "prn_1", Descending: true}) {
		t.Errorf("filter = %+v", f)
	}
	for _, want := range []string{"SEQ", "SOURCE IP", "apikeys:Create", "admin", "10.0.0.1"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestAuditVerify(t *testing.T) {
	ok := &keyward.AuditVerification{OK: true, Records: 12, Verified: 12, Checkpoints: 2, TreeSize: 12}
	r := runCLI(t, &fakeClient{verify: ok}, adminEnv, "", "audit", "verify")
	if r.code != 0 || r.stdout != "audit log intact: 12 records, 12 verified by 2 checkpoints (latest: tree size 12)\n" {
		t.Errorf("exit %d, stdout %q", r.code, r.stdout)
	}
	// The tail and the legacy records nothing vouches for are said apart
	// from what is verified.
	since := t0.Add(time.Minute)
	tail := &keyward.AuditVerification{OK: true, Records: 12, Verified: 10, Checkpoints: 2, TreeSize: 10,
		TailRecords: 2, TailSince: &since, TailTagged: true, LegacyUnverified: &keyward.SeqRange{First: 4, Last: 6}}
	r = runCLI(t, &fakeClient{verify: tail}, adminEnv, "", "audit", "verify")
	want := "audit log intact: 12 records, 10 verified by 2 checkpoints (latest: tree size 10), 2 in the tail after the last checkpoint " +
		"(not yet verified, oldest 2025-01-02T03:05:05Z, tags checked); records 4-6, carried from the old hash chain, " +
		"were covered by no signed checkpoint of it: unverified before the upgrade\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d, stdout\n%q\nwant\n%q", r.code, r.stdout, want)
	}
	r = runCLI(t, &fakeClient{verify: tail}, adminEnv, "", "audit", "verify", "-o", "json")
	if m := jsonObject(t, r.stdout); r.code != 0 || m["verified"] != 10.0 || m["tailRecords"] != 2.0 || m["legacyUnverified"] == nil {
		t.Errorf("exit %d, json %v", r.code, m)
	}
	bad := &keyward.AuditVerification{Records: 12, FirstBadSeq: 7, Reason: "hash mismatch"}
	r = runCLI(t, &fakeClient{verify: bad}, adminEnv, "", "audit", "verify")
	if r.code != ExitAuditBroken || r.stdout != "audit log broken at record 7: hash mismatch\n" || r.stderr != "" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, &fakeClient{verify: bad}, adminEnv, "", "audit", "verify", "-o", "json")
	if m := jsonObject(t, r.stdout); r.code != ExitAuditBroken || m["ok"] != false || m["firstBadSeq"] != 7.0 {
		t.Errorf("exit %d, json %v", r.code, m)
	}
}

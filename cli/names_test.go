package cli

import (
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

func TestKeysGetByName(t *testing.T) {
	keys := [][]*keyward.APIKey{{
		{ID: "key_aaaaaaaaaaaaaaaaaaaa", Name: "ci-bot"},
		{ID: "key_bbbbbbbbbbbbbbbbbbbb", Name: "ci-bot-2"}, // a prefix match only
		{ID: "key_cccccccccccccccccccc", Name: "shared"},
	}, {
		{ID: "key_dddddddddddddddddddd", Name: "shared"}, // on the second page
	}}

	// A unique name: the key is read by its ID.
	fake := &fakeClient{keyPages: keys}
	r := runCLI(t, fake, adminEnv, "", "keys", "get", "ci-bot")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if want := []string{"ListKeys ", "ListKeys 1", "GetKey key_aaaaaaaaaaaaaaaaaaaa"}; !reflect.DeepEqual(fake.calls, want) {
		t.Errorf("calls = %v, want %v", fake.calls, want)
	}
	if fake.keyFilter.Name != "ci-bot" || fake.keyFilter.NamePrefix != "" {
		t.Errorf("filter = %+v", fake.keyFilter)
	}

	// A name two keys share: usage-class error that lists both IDs.
	fake = &fakeClient{keyPages: keys}
	r = runCLI(t, fake, adminEnv, "", "keys", "get", "shared")
	if r.code != ExitUsage || !strings.Contains(r.stderr, `2 keys are named "shared" (key_cccccccccccccccccccc, key_dddddddddddddddddddd)`) {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	for _, c := range fake.calls {
		if strings.HasPrefix(c, "GetKey") {
			t.Errorf("an ambiguous name must not pick a key: calls %v", fake.calls)
		}
	}

	// No such name: not found.
	r = runCLI(t, &fakeClient{keyPages: keys}, adminEnv, "", "keys", "get", "nobody")
	if r.code != ExitNotFound || !strings.Contains(r.stderr, `no key has the ID or name "nobody"`) {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}

	// An ID is read directly, with no list.
	fake = &fakeClient{keyPages: keys}
	runCLI(t, fake, adminEnv, "", "keys", "get", "key_cccccccccccccccccccc")
	if want := []string{"GetKey key_cccccccccccccccccccc"}; !reflect.DeepEqual(fake.calls, want) {
		t.Errorf("calls = %v, want %v", fake.calls, want)
	}

	// An unknown ID stays not found, and its own error is the one shown.
	fake = &fakeClient{err: keyward.Errorf(keyward.ENOTFOUND, "apikey key_x not found")}
	r = runCLI(t, fake, adminEnv, "", "keys", "get", "key_x")
	if r.code != ExitNotFound || fake.calls[0] != "GetKey key_x" {
		t.Errorf("exit %d, calls %v, stderr %q", r.code, fake.calls, r.stderr)
	}
}

// fieldsLine returns the value of a "Label:  value" line of fields output.
func fieldsLine(t *testing.T, out, label string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(label) + `: +(.*)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %q line in:\n%s", label, out)
	}
	return m[1]
}

func TestNamesBesideIDs(t *testing.T) {
	fake := &fakeClient{
		key: &keyward.APIKey{ID: "key_1", Name: "k", PlanIDs: []string{"plan_1", "plan_gone"},
			StageKeys: []keyward.StageKey{{APIID: "api_1", Stage: "prod"}}},
		apis:       []*keyward.API{{ID: "api_1", Name: "chat"}},
		plans:      []*keyward.UsagePlan{{ID: "plan_1", Name: "gold"}},
		principals: []*keyward.Principal{{ID: "prn_1", Name: "alice"}},
		policies:   []*keyward.Policy{{ID: "pol_1", Name: "reader"}},
	}
	r := runCLI(t, fake, adminEnv, "", "keys", "get", "key_1")
	if got := fieldsLine(t, r.stdout, "Plans"); got != "plan_1 (gold), plan_gone" {
		t.Errorf("Plans = %q", got)
	}
	if got := fieldsLine(t, r.stdout, "Stages"); got != "api_1/prod (chat/prod)" {
		t.Errorf("Stages = %q", got)
	}

	// JSON is the object as the server sent it: IDs only.
	r = runCLI(t, fake, adminEnv, "", "keys", "get", "key_1", "-o", "json")
	if strings.Contains(r.stdout, "gold") || strings.Contains(r.stdout, "chat") {
		t.Errorf("json carries names:\n%s", r.stdout)
	}

	// A plan's stages, a principal's policies, a rotation's starter and
	// target: the same helper, the same form.
	fake.plan = &keyward.UsagePlan{ID: "plan_1", Name: "gold", APIStages: []keyward.PlanStage{{APIID: "api_1", Stage: "prod"}}}
	r = runCLI(t, fake, adminEnv, "", "plans", "get", "gold")
	if got := fieldsLine(t, r.stdout, "Stages"); got != "api_1/prod (chat/prod)" {
		t.Errorf("plan Stages = %q", got)
	}
	fake.principals[0].PolicyIDs = []string{"pol_1"}
	r = runCLI(t, fake, adminEnv, "", "principals", "list")
	if !strings.Contains(r.stdout, "pol_1 (reader)") {
		t.Errorf("principals list:\n%s", r.stdout)
	}
	fake.rotations = []*keyward.Rotation{{ID: "rot_1", Kind: keyward.RotationKey, Target: "key_1", State: keyward.RotationSucceeded, StartedBy: "prn_1", CreatedAt: t0}}
	r = runCLI(t, fake, adminEnv, "", "keys", "rotations", "key_1")
	if !strings.Contains(r.stdout, "prn_1 (alice)") {
		t.Errorf("rotations list:\n%s", r.stdout)
	}
	r = runCLI(t, fake, adminEnv, "", "secrets", "cancel-rotation", "db")
	if got := fieldsLine(t, r.stdout, "Target"); got != "db" {
		t.Errorf("a secret rotation's target is the secret's name: %q", got)
	}

	// Names are a courtesy: when they cannot be read, IDs show alone and the
	// command still succeeds.
	denied := &fakeClient{key: fake.key, apis: fake.apis, plans: fake.plans, denyLists: true}
	r = runCLI(t, denied, adminEnv, "", "keys", "get", "key_1")
	if r.code != 0 || fieldsLine(t, r.stdout, "Plans") != "plan_1, plan_gone" || fieldsLine(t, r.stdout, "Stages") != "api_1/prod" {
		t.Errorf("exit %d:\n%s", r.code, r.stdout)
	}
}

func TestLabelled(t *testing.T) {
	for _, tc := range []struct{ id, name, want string }{
		{"key_1", "prod-app", "key_1 (prod-app)"},
		{"key_1", "", "key_1"},
		{"", "orphan", ""},
		{"system", "system", "system"},
	} {
		if got := labelled(tc.id, tc.name); got != tc.want {
			t.Errorf("labelled(%q, %q) = %q, want %q", tc.id, tc.name, got, tc.want)
		}
	}
	var n *names
	if got := n.label(kindPlan, "plan_1"); got != "plan_1" {
		t.Errorf("nil names: %q", got)
	}
}

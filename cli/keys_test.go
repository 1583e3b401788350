package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

func TestKeysCreateFlags(t *testing.T) {
	fake := &fakeClient{}
	r := runCLI(t, fake, adminEnv, "",
		"keys", "create", "--name", "ci", "--description", "d", "--customer-id", "acme", "--disabled",
		"--stage", "chat/prod", "--stage", "api_2/dev", "--plan", "gold", "--plan", "plan_9",
		"--expires", "30d", "--recoverable", "--prefix", "acme",
		"--scope-model", "gpt-4*", "--scope-route", "POST /v1/chat/*",
		"--tag", "team=ml", "--tag", "env=", "--client-token", "ct-1")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	in := fake.keyCreate
	exp := t0.Add(30 * 24 * 3600e9)
	off := false
	want := keyward.KeyCreate{
		Name: "ci", Description: "d", CustomerID: "acme", Enabled: &off, Prefix: "acme",
		ExpiresAt:   &exp,
		StageKeys:   []keyward.StageKey{{APIID: "chat", Stage: "prod"}, {APIID: "api_2", Stage: "dev"}},
		Scopes:      keyward.Scopes{Models: []string{"gpt-4*"}, Routes: []keyward.RoutePattern{{Method: "POST", Path: "/v1/chat/*"}}},
		Tags:        map[string]string{"team": "ml", "env": ""},
		Recoverable: true,
		PlanIDs:     []string{"gold", "plan_9"},
		ClientToken: "ct-1",
	}
	if !reflect.DeepEqual(*in, want) {
		t.Errorf("KeyCreate =\n%+v\nwant\n%+v", *in, want)
	}
	if r.addr != DefaultAddr || r.token != adminEnv[EnvToken] {
		t.Errorf("client built for %q, %q", r.addr, r.token)
	}
}

// jsonObject decodes stdout as one JSON object.
func jsonObject(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, s)
	}
	return m
}

func TestKeysCreateJSON(t *testing.T) {
	t.Run("value", func(t *testing.T) {
		r := runCLI(t, &fakeClient{}, adminEnv, "", "keys", "create", "--name", "a", "-o", "json")
		m := jsonObject(t, r.stdout)
		if m["id"] != "key_1" || m["value"] != "kw_secretvalue0123456789abcdef" || m["name"] != "a" {
			t.Errorf("output = %v", m)
		}
		if _, ok := m["key"]; ok {
			t.Error("the key's fields must be at the top level")
		}
	})
	t.Run("store-secret", func(t *testing.T) {
		// Even if the server answered with a value, it is not printed.
		fake := &fakeClient{created: &keyward.CreatedKey{Key: &keyward.APIKey{ID: "key_2", ValueSecret: "s"}, Value: "kw_leakedleakedleakedleaked"}}
		r := runCLI(t, fake, adminEnv, "", "keys", "create", "--name", "a", "--store-secret", "s", "-o", "json")
		if fake.keyCreate.StoreSecret != "s" {
			t.Errorf("StoreSecret = %q", fake.keyCreate.StoreSecret)
		}
		m := jsonObject(t, r.stdout)
		if _, ok := m["value"]; ok || m["id"] != "key_2" {
			t.Errorf("output = %v, want an id and no value key", m)
		}
		if strings.Contains(r.stdout+r.stderr, "kw_leaked") {
			t.Error("value printed")
		}
	})
	t.Run("no value returned", func(t *testing.T) {
		fake := &fakeClient{created: &keyward.CreatedKey{Key: &keyward.APIKey{ID: "key_3"}}}
		m := jsonObject(t, runCLI(t, fake, adminEnv, "", "keys", "create", "--name", "a", "-o", "json").stdout)
		if _, ok := m["value"]; ok {
			t.Errorf("output = %v, want no value key", m)
		}
	})
	t.Run("table", func(t *testing.T) {
		r := runCLI(t, &fakeClient{}, adminEnv, "", "keys", "create", "--name", "a")
		if !strings.Contains(r.stdout, "key_1") || !strings.Contains(r.stdout, "kw_secretvalue0123456789abcdef") {
			t.Errorf("stdout = %q", r.stdout)
		}
		if !strings.Contains(r.stderr, "shown only once") {
			t.Errorf("stderr = %q, want a warning", r.stderr)
		}
	})
}

func TestKeysCreateImportValue(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "v")
	if err := os.WriteFile(p, []byte("custom_value_of_twenty_chars\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fake := &fakeClient{}
	if r := runCLI(t, fake, adminEnv, "", "keys", "create", "--name", "a", "--import-value-from-file", p); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if fake.keyCreate.Value != "custom_value_of_twenty_chars" {
		t.Errorf("Value = %q", fake.keyCreate.Value)
	}
	fake = &fakeClient{}
	runCLI(t, fake, adminEnv, "from_stdin_value_0123456789\n", "keys", "create", "--name", "a", "--import-value-from-file", "-")
	if fake.keyCreate.Value != "from_stdin_value_0123456789" {
		t.Errorf("Value from stdin = %q", fake.keyCreate.Value)
	}
}

func TestKeysUpdate(t *testing.T) {
	fake := &fakeClient{}
	r := runCLI(t, fake, adminEnv, "", "keys", "update", "key_1", "--name", "n", "--expires", "12h",
		"--stage", "chat/prod", "--tag", "a=b")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	u := fake.keyUpdate
	exp := t0.Add(12 * 3600e9)
	if *u.Name != "n" || !u.ExpiresAt.Equal(exp) || u.Description != nil || u.CustomerID != nil ||
		!reflect.DeepEqual(*u.StageKeys, []keyward.StageKey{{APIID: "chat", Stage: "prod"}}) ||
		!reflect.DeepEqual(*u.Tags, map[string]string{"a": "b"}) {
		t.Errorf("KeyUpdate = %+v", u)
	}

	// An empty --stage and --tag clear the list and the map.
	fake = &fakeClient{}
	runCLI(t, fake, adminEnv, "", "keys", "update", "key_1", "--stage", "", "--tag", "", "--no-expiry")
	u = fake.keyUpdate
	if u.StageKeys == nil || len(*u.StageKeys) != 0 || u.Tags == nil || len(*u.Tags) != 0 || !u.NoExpiry || u.Name != nil {
		t.Errorf("KeyUpdate = %+v, want cleared stages and tags", u)
	}

	fake = &fakeClient{}
	runCLI(t, fake, adminEnv, "", "keys", "disable", "key_1")
	if fake.keyUpdate.Enabled == nil || *fake.keyUpdate.Enabled {
		t.Errorf("disable: %+v", fake.keyUpdate)
	}
	runCLI(t, fake, adminEnv, "", "keys", "enable", "key_1")
	if fake.keyUpdate.Enabled == nil || !*fake.keyUpdate.Enabled {
		t.Errorf("enable: %+v", fake.keyUpdate)
	}
}

func TestKeysUpdateScopes(t *testing.T) {
	cur := &keyward.APIKey{ID: "key_1", Name: "k", Rotation: &keyward.RotationPolicy{Every: days(30), Grace: days(1)},
		Scopes: keyward.Scopes{Models: []string{"old-model"}, Routes: []keyward.RoutePattern{{Method: "GET", Path: "/old"}}}}

	// Both given: they replace the scopes, nothing to read first.
	fake := &fakeClient{key: cur}
	r := runCLI(t, fake, adminEnv, "", "keys", "update", "key_1",
		"--scope-model", "gpt-4o*", "--scope-model", "o3-mini", "--scope-route", "POST /v1/chat/*")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := keyward.Scopes{Models: []string{"gpt-4o*", "o3-mini"}, Routes: []keyward.RoutePattern{{Method: "POST", Path: "/v1/chat/*"}}}
	if u := fake.keyUpdate; u.Scopes == nil || !reflect.DeepEqual(*u.Scopes, want) {
		t.Errorf("Scopes = %+v", u.Scopes)
	}
	if !reflect.DeepEqual(fake.calls, []string{"UpdateKey key_1"}) {
		t.Errorf("calls = %v", fake.calls)
	}

	// One alone keeps the other from the key as it is.
	fake = &fakeClient{key: cur}
	runCLI(t, fake, adminEnv, "", "keys", "update", "key_1", "--scope-model", "llama-*")
	want = keyward.Scopes{Models: []string{"llama-*"}, Routes: cur.Scopes.Routes}
	if u := fake.keyUpdate; u.Scopes == nil || !reflect.DeepEqual(*u.Scopes, want) {
		t.Errorf("Scopes = %+v, want %+v", u.Scopes, want)
	}
	fake = &fakeClient{key: cur}
	runCLI(t, fake, adminEnv, "", "keys", "update", "key_1", "--scope-route", "/v1/*")
	want = keyward.Scopes{Models: cur.Scopes.Models, Routes: []keyward.RoutePattern{{Method: "*", Path: "/v1/*"}}}
	if u := fake.keyUpdate; u.Scopes == nil || !reflect.DeepEqual(*u.Scopes, want) {
		t.Errorf("Scopes = %+v, want %+v", u.Scopes, want)
	}

	// With a partial schedule too, the key is read once for both.
	fake = &fakeClient{key: cur}
	runCLI(t, fake, adminEnv, "", "keys", "update", "key_1", "--scope-model", "m", "--rotation-grace", "2d")
	if want := []string{"GetKey key_1", "UpdateKey key_1"}; !reflect.DeepEqual(fake.calls, want) {
		t.Errorf("calls = %v", fake.calls)
	}
	if u := fake.keyUpdate; u.Rotation == nil || u.Rotation.Every != days(30) || u.Rotation.Grace != days(2) {
		t.Errorf("Rotation = %+v", u.Rotation)
	}

	// Empty values clear the scopes.
	fake = &fakeClient{key: cur}
	runCLI(t, fake, adminEnv, "", "keys", "update", "key_1", "--scope-model", "", "--scope-route", "")
	if u := fake.keyUpdate; u.Scopes == nil || len(u.Scopes.Models) != 0 || len(u.Scopes.Routes) != 0 {
		t.Errorf("Scopes = %+v, want none", u.Scopes)
	}

	// A bad route is a usage error before any call.
	fake = &fakeClient{key: cur}
	r = runCLI(t, fake, adminEnv, "", "keys", "update", "key_1", "--scope-route", "POST v1")
	if r.code != ExitUsage || len(fake.calls) != 0 {
		t.Errorf("exit %d, calls %v", r.code, fake.calls)
	}
}

func TestKeysListAll(t *testing.T) {
	fake := &fakeClient{keyPages: [][]*keyward.APIKey{{{ID: "a"}, {ID: "b"}}, {{ID: "c"}}}}
	r := runCLI(t, fake, adminEnv, "", "keys", "list", "--all", "--limit", "2", "--name-prefix", "x", "--plan", "gold", "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var keys []keyward.APIKey
	if err := json.Unmarshal([]byte(r.stdout), &keys); err != nil || len(keys) != 3 {
		t.Fatalf("keys = %v, %v", keys, err)
	}
	if f := fake.keyFilter; f.NamePrefix != "x" || f.PlanID != "gold" || f.Limit != 2 {
		t.Errorf("filter = %+v", f)
	}

	fake = &fakeClient{keyPages: [][]*keyward.APIKey{{{ID: "a"}}, {{ID: "c"}}}}
	r = runCLI(t, fake, adminEnv, "", "keys", "list")
	if len(fake.calls) != 1 || !strings.Contains(r.stderr, "--all") || strings.Contains(r.stdout, " c ") {
		t.Errorf("one page: calls %v, stderr %q", fake.calls, r.stderr)
	}

	r = runCLI(t, &fakeClient{}, adminEnv, "", "keys", "list", "-o", "json")
	if strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("empty list = %q, want []", r.stdout)
	}
}

func TestKeysValue(t *testing.T) {
	fake := &fakeClient{keyValue: "kw_recoveredvalue"}
	r := runCLI(t, fake, adminEnv, "", "keys", "value", "key_1")
	if r.stdout != "kw_recoveredvalue\n" {
		t.Errorf("stdout = %q", r.stdout)
	}
}

func TestKeysUsage(t *testing.T) {
	rows := []keyward.UsageDay{
		{KeyID: "key_1", Day: "2025-01-01", Requests: 12, TokensIn: 3400, TokensOut: 5600},
		{KeyID: "key_1", Day: "2025-01-02", Requests: 1},
	}
	fake := &fakeClient{usage: rows}
	r := runCLI(t, fake, adminEnv, "", "keys", "usage", "key_1", "--from", "2025-01-01", "--to", "2025-01-31")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	day := func(d int) time.Time { return time.Date(2025, 1, d, 0, 0, 0, 0, time.UTC) }
	if want := []any{"key_1", day(1), day(31)}; !reflect.DeepEqual(fake.usageArgs, want) {
		t.Errorf("args = %v, want %v", fake.usageArgs, want)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "DAY REQUESTS TOKENS_IN TOKENS_OUT" ||
		strings.Join(strings.Fields(lines[1]), " ") != "2025-01-01 12 3400 5600" ||
		strings.Join(strings.Fields(lines[2]), " ") != "2025-01-02 1 0 0" {
		t.Errorf("table =\n%s", r.stdout)
	}

	r = runCLI(t, fake, adminEnv, "", "keys", "usage", "key_1", "-o", "json")
	var got []keyward.UsageDay
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || !reflect.DeepEqual(got, rows) {
		t.Errorf("json = %s (%v)", r.stdout, err)
	}
	if want := []any{"key_1", time.Time{}, time.Time{}}; !reflect.DeepEqual(fake.usageArgs, want) {
		t.Errorf("without --from/--to: args = %v, want zero times (the server's defaults)", fake.usageArgs)
	}
	r = runCLI(t, &fakeClient{}, adminEnv, "", "keys", "usage", "key_1", "-o", "json")
	if strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("no usage = %q, want []", r.stdout)
	}

	// A bad day is a usage error, caught before any call.
	fake = &fakeClient{}
	for _, bad := range []string{"2025-1-01", "yesterday", "2025-02-30"} {
		r = runCLI(t, fake, adminEnv, "", "keys", "usage", "key_1", "--from", bad)
		if r.code != ExitUsage || !strings.Contains(r.stderr, "YYYY-MM-DD") {
			t.Errorf("--from %s: exit %d, stderr %q", bad, r.code, r.stderr)
		}
	}
	if len(fake.calls) != 0 {
		t.Errorf("calls %v", fake.calls)
	}
	r = runCLI(t, &fakeClient{err: keyward.Errorf(keyward.ENOTFOUND, "key not found")}, adminEnv, "", "keys", "usage", "key_x")
	if r.code != ExitNotFound {
		t.Errorf("unknown key: exit %d, want %d", r.code, ExitNotFound)
	}
}

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

func days(n int) keyward.Duration { return keyward.Duration(time.Duration(n) * 24 * time.Hour) }

func TestKeysRotate(t *testing.T) {
	const value = "kw_rotatedvalue0123456789abcdef"
	fake := &fakeClient{}
	r := runCLI(t, fake, adminEnv, "", "keys", "rotate", "key_1", "--grace", "2d", "--client-token", "ct-1")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	g := days(2)
	if want := (keyward.KeyRotate{Grace: &g, ClientToken: "ct-1"}); !reflect.DeepEqual(*fake.keyRotate, want) {
		t.Errorf("KeyRotate = %+v", *fake.keyRotate)
	}
	for _, want := range []string{"key_1", "rot_1", "SUCCEEDED", "2025-01-03T03:04:05Z", value} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "shown only once") || strings.Contains(r.stderr, value) {
		t.Errorf("stderr = %q, want a warning and no value", r.stderr)
	}

	// Without --grace the server picks it.
	fake = &fakeClient{}
	runCLI(t, fake, adminEnv, "", "keys", "rotate", "key_1")
	if fake.keyRotate.Grace != nil {
		t.Errorf("Grace = %v, want nil", *fake.keyRotate.Grace)
	}

	r = runCLI(t, &fakeClient{}, adminEnv, "", "keys", "rotate", "key_1", "-o", "json")
	var out keyward.RotatedKey
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("json: %v\n%s", err, r.stdout)
	}
	if out.Value != value || out.Key.ID != "key_1" || out.Rotation.State != keyward.RotationSucceeded {
		t.Errorf("json = %+v", out)
	}
}

// A value delivered to a secret is never printed, even when the server
// sends it, whether the secret was asked for or is the key's own.
func TestKeysRotateStoreSecret(t *testing.T) {
	const leaked = "kw_leakedleakedleakedleaked"
	answer := func(storedIn string) *keyward.RotatedKey {
		return &keyward.RotatedKey{Key: &keyward.APIKey{ID: "key_2"}, Value: leaked,
			Rotation: &keyward.Rotation{ID: "rot_9", State: keyward.RotationSucceeded, StoreSecret: storedIn}}
	}
	for name, args := range map[string][]string{
		"asked":   {"keys", "rotate", "key_2", "--store-secret", "prod/key"},
		"default": {"keys", "rotate", "key_2"},
	} {
		t.Run(name, func(t *testing.T) {
			for _, output := range []string{"table", "json"} {
				fake := &fakeClient{rotated: answer("prod/key")}
				r := runCLI(t, fake, adminEnv, "", append(args, "-o", output)...)
				if r.code != 0 {
					t.Fatalf("exit %d: %s", r.code, r.stderr)
				}
				if strings.Contains(r.stdout+r.stderr, leaked) {
					t.Errorf("%s: value printed:\n%s%s", output, r.stdout, r.stderr)
				}
				if output == "table" && !strings.Contains(r.stdout, "stored in secret prod/key") {
					t.Errorf("stdout = %q", r.stdout)
				}
				if output == "json" {
					if m := jsonObject(t, r.stdout); m["value"] != nil {
						t.Errorf("json = %v", m)
					}
				}
			}
		})
	}
	fake := &fakeClient{}
	runCLI(t, fake, adminEnv, "", "keys", "rotate", "key_2", "--store-secret", "prod/key")
	if fake.keyRotate.StoreSecret != "prod/key" {
		t.Errorf("StoreSecret = %q", fake.keyRotate.StoreSecret)
	}
}

func TestKeysRotateReplayed(t *testing.T) {
	fake := &fakeClient{rotated: &keyward.RotatedKey{Key: &keyward.APIKey{ID: "key_1"}, Replayed: true,
		Rotation: &keyward.Rotation{ID: "rot_1", State: keyward.RotationSucceeded}}}
	r := runCLI(t, fake, adminEnv, "", "keys", "rotate", "key_1", "--client-token", "ct")
	if r.code != 0 || !strings.Contains(r.stderr, "used before") || strings.Contains(r.stderr, "shown only once") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "not returned by the server") || !strings.Contains(r.stdout, "Previous until:  none") {
		t.Errorf("stdout = %q", r.stdout)
	}
}

func TestRotationErrorsExit(t *testing.T) {
	for _, c := range []struct {
		err  string
		args []string
		code int
	}{
		{keyward.ENOTFOUND, []string{"keys", "rotate", "key_x"}, ExitNotFound},
		{keyward.ECONFLICT, []string{"keys", "rotate", "key_1"}, ExitConflict},
		{keyward.EFORBIDDEN, []string{"keys", "rotate", "key_1"}, ExitUnauthorized},
		{keyward.EPRECONDITION, []string{"keys", "revoke-previous", "key_1"}, ExitError},
		{keyward.EPRECONDITION, []string{"secrets", "rotate", "db"}, ExitError},
		{keyward.EPRECONDITION, []string{"secrets", "cancel-rotation", "db"}, ExitError},
		{keyward.ENOTFOUND, []string{"webhooks", "get", "wh_x"}, ExitNotFound},
	} {
		r := runCLI(t, &fakeClient{err: keyward.Errorf(c.err, "told by the server")}, adminEnv, "", c.args...)
		if r.code != c.code || !strings.HasPrefix(r.stderr, "keyward: "+c.err+": ") {
			t.Errorf("%v with %s: exit %d, stderr %q; want %d", c.args, c.err, r.code, r.stderr, c.code)
		}
	}
}

func TestKeysRevokePrevious(t *testing.T) {
	fake := &fakeClient{}
	r := runCLI(t, fake, adminEnv, "", "keys", "revoke-previous", "key_1")
	if r.code != 0 || r.stdout != "Key key_1: the PREVIOUS value no longer works.\n" {
		t.Errorf("exit %d, stdout %q", r.code, r.stdout)
	}
	if !reflect.DeepEqual(fake.calls, []string{"RevokePrevious key_1"}) {
		t.Errorf("calls = %v", fake.calls)
	}
	r = runCLI(t, fake, adminEnv, "", "keys", "revoke-previous", "key_1", "-o", "json")
	if m := jsonObject(t, r.stdout); m["id"] != "key_1" {
		t.Errorf("json = %v", m)
	}
}

func TestRotationsList(t *testing.T) {
	done := t0.Add(time.Minute)
	rots := []*keyward.Rotation{
		{ID: "rot_2", State: keyward.RotationFailed, Step: keyward.StepSet, Trigger: keyward.TriggerSchedule,
			StartedBy: "system", Error: "rotator answered 500", CreatedAt: t0, FinishedAt: &done},
		{ID: "rot_1", State: keyward.RotationSucceeded, Step: keyward.StepFinish, Trigger: keyward.TriggerManual,
			Hint: "kw_…a1B2", StartedBy: "pr_1", CreatedAt: t0},
	}
	for _, noun := range []string{"keys", "secrets"} {
		t.Run(noun, func(t *testing.T) {
			fake := &fakeClient{rotations: rots}
			r := runCLI(t, fake, adminEnv, "", noun, "rotations", "x_1", "--state", "failed", "--client-token", "ct", "--limit", "5")
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			want := keyward.RotationFilter{State: keyward.RotationFailed, ClientToken: "ct", Page: keyward.Page{Limit: 5}}
			if *fake.rotFilter != want {
				t.Errorf("filter = %+v", *fake.rotFilter)
			}
			lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
			if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[1], "rotator answered 500") ||
				!strings.Contains(lines[2], "kw_…a1B2") {
				t.Errorf("table =\n%s", r.stdout)
			}
			r = runCLI(t, &fakeClient{}, adminEnv, "", noun, "rotations", "x_1", "-o", "json")
			if strings.TrimSpace(r.stdout) != "[]" {
				t.Errorf("no rotations = %q, want []", r.stdout)
			}
		})
	}
}

func TestKeysRotationSchedule(t *testing.T) {
	fake := &fakeClient{}
	runCLI(t, fake, adminEnv, "", "keys", "create", "--name", "a", "--rotate-every", "30d")
	if p := fake.keyCreate.Rotation; p == nil || *p != (keyward.RotationPolicy{Every: days(30), Grace: days(1)}) {
		t.Errorf("Rotation = %+v, want every 30d with the default grace", p)
	}
	runCLI(t, fake, adminEnv, "", "keys", "create", "--name", "a", "--rotate-every", "720h", "--rotation-grace", "0")
	if p := fake.keyCreate.Rotation; p == nil || *p != (keyward.RotationPolicy{Every: days(30)}) {
		t.Errorf("Rotation = %+v", p)
	}
	// Days and hours together, as --expires takes them (issue 10: one
	// duration syntax everywhere).
	runCLI(t, fake, adminEnv, "", "keys", "create", "--name", "a", "--rotate-every", "1d12h", "--rotation-grace", "0d1h")
	if p := fake.keyCreate.Rotation; p == nil || *p != (keyward.RotationPolicy{Every: keyward.Duration(36 * time.Hour), Grace: keyward.Duration(time.Hour)}) {
		t.Errorf("Rotation = %+v, want every 1d12h with a grace of 1h", p)
	}
	runCLI(t, fake, adminEnv, "", "keys", "create", "--name", "a")
	if fake.keyCreate.Rotation != nil {
		t.Errorf("Rotation = %+v, want none", fake.keyCreate.Rotation)
	}

	// A partial schedule is completed from the key's own.
	fake = &fakeClient{key: &keyward.APIKey{ID: "key_1", Rotation: &keyward.RotationPolicy{Every: days(30), Grace: days(2)}}}
	r := runCLI(t, fake, adminEnv, "", "keys", "update", "key_1", "--rotate-every", "7d")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if p := fake.keyUpdate.Rotation; p == nil || *p != (keyward.RotationPolicy{Every: days(7), Grace: days(2)}) {
		t.Errorf("Rotation = %+v", p)
	}
	if want := []string{"GetKey key_1", "UpdateKey key_1"}; !reflect.DeepEqual(fake.calls, want) {
		t.Errorf("calls = %v", fake.calls)
	}

	// Both given: nothing to read.
	fake = &fakeClient{}
	runCLI(t, fake, adminEnv, "", "keys", "update", "key_1", "--rotate-every", "7d", "--rotation-grace", "1h")
	if p := fake.keyUpdate.Rotation; p == nil || *p != (keyward.RotationPolicy{Every: days(7), Grace: keyward.Duration(time.Hour)}) {
		t.Errorf("Rotation = %+v", p)
	}
	if want := []string{"UpdateKey key_1"}; !reflect.DeepEqual(fake.calls, want) {
		t.Errorf("calls = %v", fake.calls)
	}

	// Only a grace, for a key with no schedule of its own.
	fake = &fakeClient{key: &keyward.APIKey{ID: "key_1"}}
	if r := runCLI(t, fake, adminEnv, "", "keys", "update", "key_1", "--rotation-grace", "1h"); r.code != ExitUsage || fake.keyUpdate != nil {
		t.Errorf("exit %d, update %+v: %s", r.code, fake.keyUpdate, r.stderr)
	}

	fake = &fakeClient{}
	runCLI(t, fake, adminEnv, "", "keys", "update", "key_1", "--no-rotation")
	if u := fake.keyUpdate; !u.NoRotation || u.Rotation != nil {
		t.Errorf("KeyUpdate = %+v", u)
	}
}

func TestPlansRotationSchedule(t *testing.T) {
	fake := &fakeClient{}
	runCLI(t, fake, adminEnv, "", "plans", "create", "gold", "--rotate-every", "90d", "--rotation-grace", "3d")
	if p := fake.planCreate.Rotation; p == nil || *p != (keyward.RotationPolicy{Every: days(90), Grace: days(3)}) {
		t.Errorf("Rotation = %+v", p)
	}

	fake = &fakeClient{plan: &keyward.UsagePlan{ID: "plan_1", Rotation: &keyward.RotationPolicy{Every: days(90), Grace: days(3)}}}
	r := runCLI(t, fake, adminEnv, "", "plans", "update", "gold", "--rotation-grace", "12h")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if p := fake.planUpdate.Rotation; p == nil || *p != (keyward.RotationPolicy{Every: days(90), Grace: keyward.Duration(12 * time.Hour)}) {
		t.Errorf("Rotation = %+v", p)
	}
	if fake.calls[0] != "GetPlan gold" {
		t.Errorf("calls = %v", fake.calls)
	}

	fake = &fakeClient{}
	runCLI(t, fake, adminEnv, "", "plans", "update", "gold", "--clear-rotation")
	if u := fake.planUpdate; !u.ClearRotation || u.Rotation != nil || u.Throttle != nil {
		t.Errorf("PlanUpdate = %+v", u)
	}
	for _, c := range fake.calls {
		if strings.HasPrefix(c, "GetPlan") {
			t.Errorf("no read needed, got %v", fake.calls)
		}
	}

	r = runCLI(t, &fakeClient{plan: &keyward.UsagePlan{ID: "plan_1", Rotation: &keyward.RotationPolicy{Every: days(90), Grace: days(3)}}},
		adminEnv, "", "plans", "get", "gold")
	if !strings.Contains(r.stdout, "every 90d, grace 3d") {
		t.Errorf("stdout = %q", r.stdout)
	}
}

func TestSecretsRotate(t *testing.T) {
	fake := &fakeClient{}
	r := runCLI(t, fake, adminEnv, "", "secrets", "rotate", "openai/prod", "--rotator", "wh_1", "--every", "30d", "--client-token", "ct")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	every := days(30)
	if want := (keyward.SecretRotate{RotatorID: "wh_1", Every: &every, ClientToken: "ct"}); !reflect.DeepEqual(*fake.secRotate, want) {
		t.Errorf("SecretRotate = %+v", *fake.secRotate)
	}
	if !strings.Contains(r.stdout, "rot_2") || !strings.Contains(r.stdout, "IN_PROGRESS") ||
		!strings.Contains(r.stderr, "keyward secrets rotations openai/prod") {
		t.Errorf("stdout %q, stderr %q", r.stdout, r.stderr)
	}

	// Configuration only; --every 0 means only when asked.
	fake = &fakeClient{noRotateRet: true}
	r = runCLI(t, fake, adminEnv, "", "secrets", "rotate", "db", "--every", "0", "--no-rotate-now")
	zero, no := keyward.Duration(0), false
	if want := (keyward.SecretRotate{Every: &zero, Now: &no}); !reflect.DeepEqual(*fake.secRotate, want) {
		t.Errorf("SecretRotate = %+v", *fake.secRotate)
	}
	if r.code != 0 || r.stdout != "Rotation of secret db configured; no rotation started.\n" {
		t.Errorf("exit %d, stdout %q", r.code, r.stdout)
	}
	r = runCLI(t, &fakeClient{noRotateRet: true}, adminEnv, "", "secrets", "rotate", "db", "--no-rotate-now", "-o", "json")
	if m := jsonObject(t, r.stdout); m["secret"] != "db" || m["rotationStarted"] != false {
		t.Errorf("json = %v", m)
	}

	r = runCLI(t, &fakeClient{}, adminEnv, "", "secrets", "rotate", "db", "-o", "json")
	if m := jsonObject(t, r.stdout); m["id"] != "rot_2" || m["state"] != "IN_PROGRESS" || r.stderr != "" {
		t.Errorf("json = %v, stderr %q", m, r.stderr)
	}

	fake = &fakeClient{}
	r = runCLI(t, fake, adminEnv, "", "secrets", "cancel-rotation", "db")
	if r.code != 0 || !strings.Contains(r.stdout, "CANCELLED") || fake.calls[0] != "CancelSecretRotation db" {
		t.Errorf("exit %d, stdout %q, calls %v", r.code, r.stdout, fake.calls)
	}
}

// The output of keys rotate and secrets rotate is one field a line,
// "Label:  value", whatever the values hold.
func TestRotateOutputOneFieldALine(t *testing.T) {
	fieldLine := regexp.MustCompile(`^[A-Z][A-Za-z ]*: +\S.*$`)
	label := func(line string) string { return line[:strings.Index(line, ":")] }
	check := func(name, out string, want []string) {
		t.Helper()
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		var got []string
		for _, l := range lines {
			if !fieldLine.MatchString(l) {
				t.Errorf("%s: %q is not one field", name, l)
				continue
			}
			got = append(got, label(l))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: fields %q, want %q:\n%s", name, got, want, out)
		}
	}

	fake := &fakeClient{}
	r := runCLI(t, fake, adminEnv, "", "keys", "rotate", "key_1")
	check("keys rotate", r.stdout, []string{"ID", "Rotation", "State", "Previous until", "Value"})
	if got := fieldsLine(t, r.stdout, "ID"); got != "key_1 (k)" {
		t.Errorf("ID = %q, want the key's name beside it", got)
	}

	// A failed rotation whose error spans lines still prints one field a line.
	fake = &fakeClient{rotated: &keyward.RotatedKey{Key: &keyward.APIKey{ID: "key_2", Name: "svc"},
		Rotation: &keyward.Rotation{ID: "rot_3", State: keyward.RotationFailed, Error: "upstream said:\nno\ttab"}}}
	r = runCLI(t, fake, adminEnv, "", "keys", "rotate", "key_2")
	check("failed keys rotate", r.stdout, []string{"ID", "Rotation", "State", "Error", "Previous until", "Value"})

	r = runCLI(t, &fakeClient{principals: []*keyward.Principal{{ID: "pr_1", Name: "deployer"}}}, adminEnv, "", "secrets", "rotate", "db")
	check("secrets rotate", r.stdout, []string{"ID", "Kind", "Target", "State", "Step", "Trigger", "Started by", "Created", "Finished"})
	if got := fieldsLine(t, r.stdout, "Started by"); got != "pr_1 (deployer)" {
		t.Errorf("Started by = %q", got)
	}
}

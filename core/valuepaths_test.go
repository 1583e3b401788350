package core_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/core"
)

// chosenValue is a value an attacker picks, hoping to make it a key's.
const chosenValue = "attacker-chosen-value-0123456789"

// valueCall is one call a principal might make to learn, overwrite or
// move a key value. It returns what the caller would see.
type valueCall struct {
	name string
	do   func(ctx context.Context, s *core.Services, f *valueFixtures) (any, error)
}

type valueFixtures struct {
	shownOnce, delivered, recoverable *keyward.CreatedKey
	api                               *keyward.API
	secretVersion                     string // a version of the delivered key's secret
}

// valueCalls is every call that could yield, overwrite or relocate a key
// value: asking for it outright, having it generated for you, picking it,
// moving it into a secret you can read, reading or rewriting the secret
// that holds it, and replays.
var valueCalls = []valueCall{
	{"create a key, value in the answer", func(ctx context.Context, s *core.Services, f *valueFixtures) (any, error) {
		return s.Keys.CreateKey(ctx, keyward.KeyCreate{Name: "mine"})
	}},
	{"create a recoverable key, value in the answer", func(ctx context.Context, s *core.Services, f *valueFixtures) (any, error) {
		return s.Keys.CreateKey(ctx, keyward.KeyCreate{Name: "mine", Recoverable: true, ClientToken: "create-1"})
	}},
	{"replay a create", func(ctx context.Context, s *core.Services, f *valueFixtures) (any, error) {
		return s.Keys.CreateKey(ctx, keyward.KeyCreate{Name: "mine", Recoverable: true, ClientToken: "create-1"})
	}},
	{"import a chosen value", func(ctx context.Context, s *core.Services, f *valueFixtures) (any, error) {
		return s.Keys.CreateKey(ctx, keyward.KeyCreate{Name: "picked", Value: chosenValue, StoreSecret: "mine/picked"})
	}},
	{"create into another key's secret", func(ctx context.Context, s *core.Services, f *valueFixtures) (any, error) {
		return s.Keys.CreateKey(ctx, keyward.KeyCreate{Name: "squatter", StoreSecret: "team/delivered"})
	}},
	{"create into a new secret", func(ctx context.Context, s *core.Services, f *valueFixtures) (any, error) {
		return s.Keys.CreateKey(ctx, keyward.KeyCreate{Name: "mine", StoreSecret: "mine/new", StageKeys: []keyward.StageKey{{APIID: f.api.ID, Stage: "prod"}}})
	}},
	{"rotate a shown-once key, grace 0", func(ctx context.Context, s *core.Services, f *valueFixtures) (any, error) {
		return s.Rotations.RotateKey(ctx, f.shownOnce.Key.ID, keyward.KeyRotate{Grace: dur(0)})
	}},
	{"rotate a recoverable key", func(ctx context.Context, s *core.Services, f *valueFixtures) (any, error) {
		return s.Rotations.RotateKey(ctx, f.recoverable.Key.ID, keyward.KeyRotate{ClientToken: "rot-1"})
	}},
	{"replay that rotation", func(ctx context.Context, s *core.Services, f *valueFixtures) (any, error) {
		return s.Rotations.RotateKey(ctx, f.recoverable.Key.ID, keyward.KeyRotate{ClientToken: "rot-1"})
	}},
	{"rotate a shown-once key into a new secret", func(ctx context.Context, s *core.Services, f *valueFixtures) (any, error) {
		return s.Rotations.RotateKey(ctx, f.shownOnce.Key.ID, keyward.KeyRotate{StoreSecret: "mine/moved", Grace: dur(0)})
	}},
	{"move a delivered key's value to a new secret", func(ctx context.Context, s *core.Services, f *valueFixtures) (any, error) {
		return s.Rotations.RotateKey(ctx, f.delivered.Key.ID, keyward.KeyRotate{StoreSecret: "mine/moved2"})
	}},
	{"move a delivered key's value to a generic secret", func(ctx context.Context, s *core.Services, f *valueFixtures) (any, error) {
		return s.Rotations.RotateKey(ctx, f.delivered.Key.ID, keyward.KeyRotate{StoreSecret: "vendor"})
	}},
	{"rotate a delivered key in place", func(ctx context.Context, s *core.Services, f *valueFixtures) (any, error) {
		return s.Rotations.RotateKey(ctx, f.delivered.Key.ID, keyward.KeyRotate{})
	}},
	{"read a recoverable value", func(ctx context.Context, s *core.Services, f *valueFixtures) (any, error) {
		return s.Keys.ReadKeyValue(ctx, f.recoverable.Key.ID)
	}},
	{"read a key's secret", func(ctx context.Context, s *core.Services, f *valueFixtures) (any, error) {
		return valueOf(s.Secrets.GetSecretValue(ctx, "team/delivered", keyward.SecretSelector{}))
	}},
	{"read a key's secret, PREVIOUS", func(ctx context.Context, s *core.Services, f *valueFixtures) (any, error) {
		return valueOf(s.Secrets.GetSecretValue(ctx, "team/delivered", keyward.SecretSelector{Stage: keyward.StagePrevious}))
	}},
	{"read the secrets values were moved to", func(ctx context.Context, s *core.Services, f *valueFixtures) (any, error) {
		var out []any
		for _, name := range []string{"vendor", "mine/new", "mine/moved", "mine/moved2", "mine/picked"} {
			if v, err := valueOf(s.Secrets.GetSecretValue(ctx, name, keyward.SecretSelector{})); err == nil {
				out = append(out, v)
			}
		}
		return out, nil
	}},
	{"overwrite a key's secret", func(ctx context.Context, s *core.Services, f *valueFixtures) (any, error) {
		return s.Secrets.PutSecretValue(ctx, "team/delivered", keyward.SecretPut{Value: []byte(chosenValue)})
	}},
	{"put a PENDING version into a key's secret", func(ctx context.Context, s *core.Services, f *valueFixtures) (any, error) {
		return s.Secrets.PutSecretValue(ctx, "team/delivered", keyward.SecretPut{Value: []byte(chosenValue), Stages: []string{keyward.StagePending}})
	}},
	{"move a key's secret's CURRENT label", func(ctx context.Context, s *core.Services, f *valueFixtures) (any, error) {
		return nil, s.Secrets.UpdateSecretVersionStage(ctx, "team/delivered", keyward.StageMove{Stage: "TESTING", MoveTo: f.secretVersion})
	}},
	{"delete a key's secret", func(ctx context.Context, s *core.Services, f *valueFixtures) (any, error) {
		return s.Secrets.DeleteSecret(ctx, "team/delivered", keyward.SecretDelete{Force: true})
	}},
	{"rotate a key's secret through a rotator", func(ctx context.Context, s *core.Services, f *valueFixtures) (any, error) {
		return s.Rotations.RotateSecret(ctx, "team/delivered", keyward.SecretRotate{})
	}},
}

// TestNoPathToAKeyValue tries, for every built-in role without
// apikeys:ReadValue, every call above twice over (so every ordered pair of
// calls runs, with the first one's effects in place): no answer may hold a
// working key value, and the secret holding a key's value must still hold
// that key's value, not one someone picked.
func TestNoPathToAKeyValue(t *testing.T) {
	for _, role := range []string{"deployer", "rotator", "reader", "auditor"} {
		t.Run(role, func(t *testing.T) {
			e := newEnv(t)
			f := &valueFixtures{api: e.demoAPI(t)}
			f.shownOnce = must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "shown-once"}))
			f.recoverable = must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "recoverable", Recoverable: true}))
			f.delivered = must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "delivered", StoreSecret: "team/delivered"}))
			must[*keyward.RotatedKey](t)(e.svc.Rotations.RotateKey(e.admin, f.delivered.Key.ID, keyward.KeyRotate{})) // a PREVIOUS too
			v := must[*keyward.SecretValue](t)(e.svc.Secrets.GetSecretValue(e.admin, "team/delivered", keyward.SecretSelector{}))
			f.secretVersion = v.VersionID
			must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, keyward.SecretCreate{Name: "vendor", Value: []byte("vendor-credential")}))
			ctx := e.as(t, role)

			for pass := 1; pass <= 2; pass++ {
				for _, c := range valueCalls {
					out, err := c.do(ctx, e.svc, f)
					if leaked := workingValuesIn(t, e, seenText(t, out)+" "+chosenIfAccepted(err)); len(leaked) > 0 {
						t.Errorf("pass %d, %s: %s got a working key value (error %v)", pass, c.name, role, err)
					}
				}
			}
			// Every key delivering to a secret still finds its own value there.
			var keys []*keyward.APIKey
			err := e.store.View(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
				var err error
				keys, _, err = tx.ListKeys(ctx, keyward.KeyFilter{Page: keyward.Page{Limit: 1000}})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				if k.ValueSecret != "" {
					wantSecretHoldsItsKey(t, e, k.ValueSecret, k.ID)
				}
			}
		})
	}
}

// valueOf is what a secret read shows its caller: the value (which
// SecretValue keeps out of its JSON, so that it is never logged).
func valueOf(v *keyward.SecretValue, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return map[string]any{"name": v.Name, "versionId": v.VersionID, "value": string(v.Value)}, nil
}

// seenText is everything a caller sees in an answer: its JSON, with every
// string also base64-decoded (secret values are bytes, so JSON carries
// them in base64).
func seenText(t *testing.T, out any) string {
	t.Helper()
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		t.Fatal(err)
	}
	text := []string{string(b)}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			if d, err := base64.StdEncoding.DecodeString(v); err == nil {
				text = append(text, string(d))
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(tree)
	return strings.Join(text, " ")
}

// chosenIfAccepted counts the chosen value as known to the caller when a
// call that may have stored it succeeded.
func chosenIfAccepted(err error) string {
	if err == nil {
		return chosenValue
	}
	return ""
}

var valueLike = regexp.MustCompile(`[a-z][a-z0-9]{0,15}_[0-9A-Za-z]{20,}|` + regexp.QuoteMeta(chosenValue))

// workingValuesIn returns the strings of text that open a key now.
func workingValuesIn(t *testing.T, e *env, text string) []string {
	t.Helper()
	var out []string
	for _, cand := range valueLike.FindAllString(text, -1) {
		d := e.hasher.Digest(cand)
		err := e.store.View(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
			_, err := tx.FindCredential(ctx, d[:])
			return err
		})
		switch {
		case err == nil:
			out = append(out, cand)
		case keyward.ErrorCode(err) != keyward.ENOTFOUND:
			t.Fatal(err)
		}
	}
	return out
}

// wantSecretHoldsItsKey checks that secret name's CURRENT value is key
// id's CURRENT value.
func wantSecretHoldsItsKey(t *testing.T, e *env, name, id string) {
	t.Helper()
	v := must[*keyward.SecretValue](t)(e.svc.Secrets.GetSecretValue(e.admin, name, keyward.SecretSelector{}))
	d := e.hasher.Digest(string(v.Value))
	err := e.store.View(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
		c, err := tx.FindCredential(ctx, d[:])
		if err != nil {
			return err
		}
		if c.KeyID != id || c.Label != keyward.LabelCurrent {
			return fmt.Errorf("secret %s holds the %s value of %s, want the CURRENT value of %s", name, c.Label, c.KeyID, id)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("secret %s: %v", name, err)
	}
}

// TestDeliveringToASecretNeedsNoReadValue is the way that stays open: a
// deployer creates and rotates keys whose values go into secrets, and the
// one place allowed to read them does.
func TestDeliveringToASecretNeedsNoReadValue(t *testing.T) {
	e := newEnv(t)
	api := e.demoAPI(t)
	deployer := e.as(t, "deployer")
	ck := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(deployer, keyward.KeyCreate{Name: "app", StoreSecret: "app/key",
		StageKeys: []keyward.StageKey{{APIID: api.ID, Stage: "prod"}}}))
	if ck.Value != "" {
		t.Fatal("a value delivered to a secret must not be in the answer")
	}
	rk := must[*keyward.RotatedKey](t)(e.svc.Rotations.RotateKey(deployer, ck.Key.ID, keyward.KeyRotate{Grace: dur(0)}))
	if rk.Value != "" {
		t.Fatal("a rotated value delivered to a secret must not be in the answer")
	}
	wantSecretHoldsItsKey(t, e, "app/key", ck.Key.ID)

	// The app that uses the key reads it with both rights.
	doc := json.RawMessage(fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"secrets:GetSecretValue","Resource":"kw:secret/app/key"},
		{"Effect":"Allow","Action":"apikeys:ReadValue","Resource":"kw:apikey/%s"}]}`, ck.Key.ID))
	must[*keyward.Policy](t)(e.svc.Access.CreatePolicy(e.admin, keyward.PolicyCreate{Name: "app-reads-its-key", Document: doc}))
	app := must[*keyward.CreatedPrincipal](t)(e.svc.Access.CreatePrincipal(e.admin, keyward.PrincipalCreate{Name: "app"}))
	if err := e.svc.Access.AttachPolicy(e.admin, "app-reads-its-key", app.Principal.ID); err != nil {
		t.Fatal(err)
	}
	appCtx := e.login(t, app.Token)
	if _, err := e.svc.Secrets.GetSecretValue(appCtx, "app/key", keyward.SecretSelector{}); err != nil {
		t.Fatalf("the app allowed both reads: %v", err)
	}

	// Errors say what to do.
	_, err := e.svc.Keys.CreateKey(deployer, keyward.KeyCreate{Name: "x"})
	wantCode(t, err, keyward.EFORBIDDEN)
	wantMessage(t, err, "--store-secret")
	_, err = e.svc.Secrets.PutSecretValue(e.admin, "app/key", keyward.SecretPut{Value: []byte("x-value")})
	wantCode(t, err, keyward.ECONFLICT)
	wantMessage(t, err, ck.Key.ID)
	_, err = e.svc.Secrets.DeleteSecret(e.admin, "app/key", keyward.SecretDelete{})
	wantCode(t, err, keyward.ECONFLICT)
	wantMessage(t, err, ck.Key.ID)
}

func wantMessage(t *testing.T, err error, part string) {
	t.Helper()
	if err == nil || !regexp.MustCompile(regexp.QuoteMeta(part)).MatchString(keyward.ErrorMessage(err)) {
		t.Fatalf("error %v, want a message naming %q", err, part)
	}
}

package core_test

import (
	"context"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testpg"
	"github.com/keyward/keyward/postgres"
)

// (From an attack review.) A list filter that is not valid UTF-8, or holds
// a NUL byte, matched nothing on SQLite and failed as an internal error
// (500) on PostgreSQL, which cannot take it as a text parameter: it is an
// invalid request on both.
func TestListFiltersNoNameCanEqualAreInvalid(t *testing.T) {
	pg, err := postgres.Open(context.Background(), testpg.MachineURL(), postgres.WithSchema(testpg.Schema(t)), postgres.WithMaxConns(4))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	stores := map[string]*env{
		"sqlite":     newEnv(t),
		"postgresql": newEnvWithStore(t, func(keyward.Store) keyward.Store { return pg }),
	}
	for name, e := range stores {
		for _, bad := range []string{"\xff", "a\x00b"} {
			for what, f := range map[string]keyward.KeyFilter{
				"name": {Name: bad}, "namePrefix": {NamePrefix: bad}, "customerId": {CustomerID: bad}, "planId": {PlanID: bad},
			} {
				if _, _, err := e.svc.Keys.ListKeys(e.admin, f); keyward.ErrorCode(err) != keyward.EINVALID {
					t.Errorf("%s: keys by %s %q: %v, want invalid", name, what, bad, err)
				}
			}
			for what, f := range map[string]keyward.SecretFilter{
				"namePrefix": {NamePrefix: bad}, "tagKey": {TagKey: bad}, "tagValue": {TagValue: bad},
			} {
				if _, _, err := e.svc.Secrets.ListSecrets(e.admin, f); keyward.ErrorCode(err) != keyward.EINVALID {
					t.Errorf("%s: secrets by %s %q: %v, want invalid", name, what, bad, err)
				}
			}
		}
		if _, _, err := e.svc.Keys.ListKeys(e.admin, keyward.KeyFilter{Name: "héllo"}); err != nil {
			t.Errorf("%s: a UTF-8 name: %v", name, err)
		}
	}
}

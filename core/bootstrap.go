package core

import (
	"context"
	"encoding/json"
	"reflect"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/policy"
)

// BootstrapAdminName is the principal created on the first start.
const BootstrapAdminName = "bootstrap-admin"

// Bootstrap makes the store ready to serve: it installs or refreshes the
// built-in roles and, when no principal exists yet, creates the bootstrap
// admin and returns its token (empty on later starts). When deliver is not
// nil it is handed the token inside the transaction: if it fails (the
// server could not write the token file), the admin is not created either,
// so a failed first start never leaves an admin whose token nobody has.
func (s *Access) Bootstrap(ctx context.Context, deliver func(token string) error) (string, error) {
	var token string
	err := s.system(ctx, eventBootstrap, map[string]any{}, keyward.Change{}, func(ctx context.Context, tx keyward.Tx, ev *keyward.AuditEvent) error {
		changed := []string{}
		for _, want := range policy.BuiltIns() {
			have, err := tx.GetPolicyByName(ctx, want.Name)
			switch {
			case isNotFound(err):
				p := *want
				p.CreatedAt, p.UpdatedAt = s.clock.Now(), s.clock.Now()
				if err := tx.InsertPolicy(ctx, &p); err != nil {
					return err
				}
				changed = append(changed, want.Name)
			case err != nil:
				return err
			case !sameDocument(have.Document, want.Document):
				have.Document, have.Description, have.UpdatedAt = want.Document, want.Description, s.clock.Now()
				if err := tx.UpdatePolicy(ctx, have); err != nil {
					return err
				}
				changed = append(changed, want.Name)
			}
		}
		ev.ResponseElements = map[string]any{"builtInRolesChanged": changed}
		existing, _, err := tx.ListPrincipals(ctx, keyward.Page{Limit: 1})
		if err != nil || len(existing) > 0 {
			return err
		}
		p, t, err := s.insertPrincipal(ctx, tx, keyward.PrincipalCreate{Name: BootstrapAdminName, Type: "user",
			Description: "created on first start; create named principals and delete this one", Roles: []string{"admin"}}, nil)
		if err != nil {
			return err
		}
		token = t
		ev.ResponseElements["principalId"] = p.ID
		if deliver != nil {
			return deliver(t)
		}
		return nil
	})
	return token, err
}

func sameDocument(a, b keyward.PolicyDocument) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return reflect.DeepEqual(ja, jb)
}

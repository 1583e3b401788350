package policy_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/policy"
)

// roleTable is the expected decision of every built-in role for every
// action, written out by hand: changing a role, or adding an action, must
// change this table. A = Allow, - = ImplicitDeny, D = ExplicitDeny.
const roleTable = `
action                            admin deployer reader auditor rotator
apikeys:Create                    A     A        -      -       -
apikeys:Get                       A     A        A      A       A
apikeys:List                      A     A        A      A       A
apikeys:Update                    A     A        -      -       -
apikeys:Delete                    A     A        -      -       -
apikeys:ReadValue                 A     D        -      -       -
apikeys:Import                    A     D        -      -       -
apikeys:GetUsage                  A     A        A      A       -
apikeys:Rotate                    A     A        -      -       A
apikeys:RevokePrevious            A     A        -      -       A
apikeys:ListRotations             A     A        A      A       A
apis:Create                       A     A        -      -       -
apis:Get                          A     A        A      A       -
apis:List                         A     A        A      A       -
apis:Update                       A     A        -      -       -
apis:Delete                       A     A        -      -       -
apis:BindKey                      A     A        -      -       -
plans:Create                      A     A        -      -       -
plans:Get                         A     A        A      A       -
plans:List                        A     A        A      A       -
plans:Update                      A     A        -      -       -
plans:Delete                      A     A        -      -       -
plans:AttachKey                   A     A        -      -       -
plans:DetachKey                   A     A        -      -       -
plans:ListKeys                    A     A        A      A       -
secrets:CreateSecret              A     A        -      -       -
secrets:PutSecretValue            A     A        -      -       A
secrets:GetSecretValue            A     D        -      -       A
secrets:DescribeSecret            A     A        A      A       A
secrets:ListSecrets               A     A        A      A       A
secrets:UpdateSecret              A     A        -      -       -
secrets:UpdateSecretVersionStage  A     A        -      -       A
secrets:DeleteSecret              A     A        -      -       -
secrets:RestoreSecret             A     A        -      -       -
secrets:RotateSecret              A     A        -      -       A
secrets:CancelRotateSecret        A     A        -      -       A
secrets:ListRotations             A     A        A      A       A
webhooks:Create                   A     A        -      -       -
webhooks:Get                      A     A        A      A       -
webhooks:List                     A     A        A      A       -
webhooks:Delete                   A     A        -      -       -
webhooks:ListDeliveries           A     A        A      A       -
principals:Create                 A     -        -      -       -
principals:Get                    A     -        A      A       -
principals:List                   A     -        A      A       -
principals:Delete                 A     -        -      -       -
principals:CreateToken            A     -        -      -       -
policies:Create                   A     -        -      -       -
policies:Get                      A     -        A      A       -
policies:List                     A     -        A      A       -
policies:Delete                   A     -        -      -       -
policies:Attach                   A     -        -      -       -
policies:Detach                   A     -        -      -       -
audit:Read                        A     -        -      A       -
audit:Verify                      A     -        -      A       -
`

var matrixRoles = []string{"admin", "deployer", "reader", "auditor", "rotator"}

func TestRoleMatrix(t *testing.T) {
	want := map[string]bool{}
	for _, a := range keyward.Actions() {
		want[string(a)] = true
	}
	type row struct {
		action string
		cells  []string
	}
	var rows []row
	lines := strings.Split(strings.TrimSpace(roleTable), "\n")
	if hdr := strings.Fields(lines[0]); !reflect.DeepEqual(hdr[1:], matrixRoles) {
		t.Fatalf("table header %v, want action + %v", hdr, matrixRoles)
	}
	seen := map[string]bool{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 1+len(matrixRoles) {
			t.Fatalf("table line %q has %d cells, want %d", l, len(f), 1+len(matrixRoles))
		}
		rows = append(rows, row{f[0], f[1:]})
		if !want[f[0]] {
			t.Errorf("table row %q is not an action of keyward.Actions()", f[0])
		}
		if seen[f[0]] {
			t.Errorf("table row %q is repeated", f[0])
		}
		seen[f[0]] = true
	}
	for a := range want {
		if !seen[a] {
			t.Errorf("action %q has no row in the role table", a)
		}
	}

	for _, row := range rows {
		cells := row.cells
		for i, name := range matrixRoles {
			role, ok := policy.BuiltIn(name)
			if !ok {
				t.Fatalf("BuiltIn(%q) not found", name)
			}
			wantDecision := map[string]policy.Decision{"A": policy.Allow, "-": policy.ImplicitDeny, "D": policy.ExplicitDeny}[cells[i]]
			if cells[i] != "A" && cells[i] != "-" && cells[i] != "D" {
				t.Fatalf("row %q: cell %q is not A, - or D", row.action, cells[i])
			}
			req := keyward.AuthzRequest{
				Action:   keyward.Action(row.action),
				Resource: "kw:apikey/key_01",
				SourceIP: "192.0.2.1",
				Time:     now,
			}
			if got := policy.Decide([]keyward.PolicyDocument{role.Document}, req); got != wantDecision {
				t.Errorf("%s × %s = %v, table says %v", name, row.action, got, wantDecision)
			}
			req.Policies = []*keyward.Policy{role}
			err := policy.Evaluator{}.Authorize(t.Context(), req)
			if (err == nil) != (wantDecision == policy.Allow) {
				t.Errorf("Authorize(%s × %s) = %v, table says %v", name, row.action, err, wantDecision)
			}
		}
	}
}

func TestBuiltIns(t *testing.T) {
	all := policy.BuiltIns()
	var names []string
	for _, p := range all {
		names = append(names, p.Name)
		if p.ID != "pol_builtin_"+p.Name || !p.BuiltIn || p.Description == "" {
			t.Errorf("built-in %q: ID %q, BuiltIn %v, Description %q", p.Name, p.ID, p.BuiltIn, p.Description)
		}
		// Each role is a real document: it survives marshal and Parse unchanged.
		b, err := json.Marshal(p.Document)
		if err != nil {
			t.Fatal(err)
		}
		again, err := policy.Parse(b)
		if err != nil {
			t.Errorf("built-in %q does not parse: %v", p.Name, err)
		}
		if !reflect.DeepEqual(again, p.Document) {
			t.Errorf("built-in %q changes through marshal and Parse", p.Name)
		}
		byID, ok := policy.BuiltIn(p.ID)
		if !ok || byID.Name != p.Name {
			t.Errorf("BuiltIn(%q) = %v, %v", p.ID, byID, ok)
		}
	}
	if !reflect.DeepEqual(names, matrixRoles) {
		t.Errorf("BuiltIns names = %v, want %v", names, matrixRoles)
	}
	if _, ok := policy.BuiltIn("root"); ok {
		t.Error(`BuiltIn("root") found a role`)
	}
}

func TestBuiltInReturnsCopies(t *testing.T) {
	p, _ := policy.BuiltIn("reader")
	p.Document.Statement[0].Action[0] = "*"
	p.Document.Statement = append(p.Document.Statement, keyward.Statement{Effect: "Allow"})
	again, _ := policy.BuiltIn("reader")
	if again.Document.Statement[0].Action[0] == "*" || len(again.Document.Statement) != 1 {
		t.Error("modifying a returned built-in changed the next one")
	}
}

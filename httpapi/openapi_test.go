package httpapi

import (
	"encoding/json"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

// The OpenAPI document, as far as these tests read it.
type oaDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Security   []map[string][]string                 `json:"security"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		SecuritySchemes map[string]struct {
			Type   string `json:"type"`
			Scheme string `json:"scheme"`
		} `json:"securitySchemes"`
		Parameters map[string]oaParam `json:"parameters"`
		Schemas    map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

type oaParam struct {
	Ref      string `json:"$ref"`
	Name     string `json:"name"`
	In       string `json:"in"`
	Required bool   `json:"required"`
}

type oaOp struct {
	OperationID string                     `json:"operationId"`
	Action      string                     `json:"x-keyward-action"`
	ReadOnly    *bool                      `json:"x-keyward-readOnly"`
	Security    *[]map[string][]string     `json:"security"`
	Parameters  []oaParam                  `json:"parameters"`
	Responses   map[string]json.RawMessage `json:"responses"`
}

var httpMethods = map[string]bool{"get": true, "put": true, "post": true, "delete": true, "patch": true, "head": true, "options": true, "trace": true}

func loadDoc(t *testing.T) oaDoc {
	t.Helper()
	var doc oaDoc
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	return doc
}

type opKey struct{ method, path string }

// operations returns every documented operation, keyed by METHOD and path,
// with the path-level parameters merged in.
func operations(t *testing.T, doc oaDoc) map[opKey]oaOp {
	t.Helper()
	ops := map[opKey]oaOp{}
	for path, item := range doc.Paths {
		var shared []oaParam
		if raw, ok := item["parameters"]; ok {
			if err := json.Unmarshal(raw, &shared); err != nil {
				t.Fatalf("%s parameters: %v", path, err)
			}
		}
		for method, raw := range item {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			if !httpMethods[method] {
				t.Errorf("%s: unknown key %q in path item", path, method)
				continue
			}
			var op oaOp
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			op.Parameters = append(append([]oaParam(nil), shared...), op.Parameters...)
			ops[opKey{strings.ToUpper(method), path}] = op
		}
	}
	return ops
}

// TestOpenAPIMatchesRoutes holds the document and Routes() to each other,
// both ways.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadDoc(t)
	ops := operations(t, doc)

	routes := map[opKey]Route{}
	for _, rt := range Routes() {
		k := opKey{rt.Method, rt.Pattern}
		if _, dup := routes[k]; dup {
			t.Errorf("route %s %s twice", rt.Method, rt.Pattern)
		}
		routes[k] = rt
	}

	for k, rt := range routes {
		op, ok := ops[k]
		if !ok {
			t.Errorf("route %s %s is not documented", k.method, k.path)
			continue
		}
		if op.Action != string(rt.Action) {
			t.Errorf("%s %s: x-keyward-action %q, route action %q", k.method, k.path, op.Action, rt.Action)
		}
		// The read-only flag comes from the action table; public routes
		// have no action, hence no flag.
		spec, isAction := rt.Action.Spec()
		switch {
		case rt.Public && op.ReadOnly != nil:
			t.Errorf("%s %s: public, yet documents x-keyward-readOnly", k.method, k.path)
		case !rt.Public && (op.ReadOnly == nil || !isAction || *op.ReadOnly != spec.ReadOnly):
			t.Errorf("%s %s: x-keyward-readOnly %v, the action table says %v for %s", k.method, k.path, deref(op.ReadOnly), spec.ReadOnly, rt.Action)
		}
		public := op.Security != nil && len(*op.Security) == 0
		if public != rt.Public {
			t.Errorf("%s %s: documented public=%v, route public=%v", k.method, k.path, public, rt.Public)
		}
	}
	for k := range ops {
		if _, ok := routes[k]; !ok {
			t.Errorf("documented operation %s %s is not a route", k.method, k.path)
		}
	}
}

func TestOpenAPIOperations(t *testing.T) {
	doc := loadDoc(t)
	if s := doc.Components.SecuritySchemes["bearerAuth"]; s.Type != "http" || s.Scheme != "bearer" {
		t.Errorf("bearerAuth scheme = %+v", s)
	}
	if len(doc.Security) != 1 || doc.Security[0]["bearerAuth"] == nil {
		t.Errorf("global security = %v, want bearerAuth", doc.Security)
	}
	if _, ok := doc.Components.Schemas["Error"].Properties["error"]; !ok {
		t.Error("no Error schema with an error property")
	}
	wildcard := regexp.MustCompile(`\{([^}]+)\}`)
	ids := map[string]bool{}
	for k, op := range operations(t, doc) {
		if op.OperationID == "" || ids[op.OperationID] {
			t.Errorf("%s %s: operationId %q missing or repeated", k.method, k.path, op.OperationID)
		}
		ids[op.OperationID] = true
		if len(op.Responses) == 0 {
			t.Errorf("%s %s: no responses", k.method, k.path)
		}
		// Path parameters declared = wildcards of the path.
		var declared, inPath []string
		for _, p := range op.Parameters {
			p = resolveParam(t, doc, p)
			if p.In == "path" {
				if !p.Required {
					t.Errorf("%s %s: path parameter %s not required", k.method, k.path, p.Name)
				}
				declared = append(declared, p.Name)
			}
		}
		for _, m := range wildcard.FindAllStringSubmatch(k.path, -1) {
			inPath = append(inPath, m[1])
		}
		sort.Strings(declared)
		sort.Strings(inPath)
		if !reflect.DeepEqual(declared, inPath) {
			t.Errorf("%s %s: path parameters %v, wildcards %v", k.method, k.path, declared, inPath)
		}
	}
}

func resolveParam(t *testing.T, doc oaDoc, p oaParam) oaParam {
	t.Helper()
	if p.Ref == "" {
		return p
	}
	name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/")
	q, found := doc.Components.Parameters[name]
	if !ok || !found {
		t.Fatalf("unresolved parameter %s", p.Ref)
	}
	return q
}

// TestOpenAPIRefsResolve checks every $ref points into the document.
func TestOpenAPIRefsResolve(t *testing.T) {
	var root any
	if err := json.Unmarshal(OpenAPI(), &root); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if _, ok := pointer(root, ref); !ok {
					t.Errorf("unresolved $ref %s", ref)
				}
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(root)
}

func pointer(root any, ref string) (any, bool) {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	cur := root
	for _, part := range strings.Split(p, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// TestOpenAPISchemasMatchTypes holds the named schemas to the JSON names of
// the Go types they describe, so that a field added to the domain shows up
// here until it is documented.
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	doc := loadDoc(t)
	types := map[string]any{
		"APIKey": keyward.APIKey{}, "StageKey": keyward.StageKey{}, "Scopes": keyward.Scopes{},
		"RoutePattern": keyward.RoutePattern{}, "Credential": keyward.Credential{}, "KeyCreate": keyward.KeyCreate{},
		"CreatedKey": keyward.CreatedKey{}, "KeyUpdate": keyward.KeyUpdate{}, "KeyValue": keyValueBody{},
		"KeyList": listBody[*keyward.APIKey]{}, "UsageDay": keyward.UsageDay{},
		"API": keyward.API{}, "Stage": keyward.Stage{}, "APICreate": keyward.APICreate{}, "APIUpdate": keyward.APIUpdate{},
		"APIList":   listBody[*keyward.API]{},
		"UsagePlan": keyward.UsagePlan{}, "Throttle": keyward.Throttle{}, "Quota": keyward.Quota{},
		"TokenLimits": keyward.TokenLimits{}, "PlanStage": keyward.PlanStage{}, "PlanCreate": keyward.PlanCreate{},
		"PlanUpdate": keyward.PlanUpdate{}, "PlanList": listBody[*keyward.UsagePlan]{},
		"Secret": keyward.Secret{}, "SecretCreate": secretCreateBody{}, "SecretPut": secretPutBody{},
		"SecretValue": secretValueBody{}, "SecretVersionRef": keyward.SecretVersionRef{},
		"SecretUpdate": keyward.SecretUpdate{}, "StageMove": keyward.StageMove{}, "SecretList": listBody[*keyward.Secret]{},
		"Principal": keyward.Principal{}, "PrincipalCreate": keyward.PrincipalCreate{},
		"CreatedPrincipal": keyward.CreatedPrincipal{}, "AdminToken": keyward.AdminToken{}, "CreatedToken": tokenBody{},
		"PrincipalList": listBody[*keyward.Principal]{},
		"Policy":        keyward.Policy{}, "PolicyDocument": keyward.PolicyDocument{}, "Statement": keyward.Statement{},
		"PolicyCreate": keyward.PolicyCreate{}, "PolicyList": listBody[*keyward.Policy]{},
		"AuditRecord": keyward.AuditRecord{}, "AuditEvent": keyward.AuditEvent{}, "UserIdentity": keyward.UserIdentity{},
		"AuditCheckpoint": keyward.AuditCheckpoint{}, "AuditVerification": keyward.AuditVerification{},
		"RotationPolicy": keyward.RotationPolicy{}, "SecretRotation": keyward.SecretRotation{},
		"Rotation": keyward.Rotation{}, "RotationList": listBody[*keyward.Rotation]{}, "KeyRotate": keyward.KeyRotate{},
		"RotatedKey": keyward.RotatedKey{}, "SecretRotate": keyward.SecretRotate{},
		"Webhook": keyward.Webhook{}, "WebhookCreate": keyward.WebhookCreate{}, "CreatedWebhook": keyward.CreatedWebhook{},
		"WebhookList": listBody[*keyward.Webhook]{}, "Delivery": keyward.Delivery{}, "DeliveryAttempt": keyward.DeliveryAttempt{},
		"DeliveryList": listBody[*keyward.Delivery]{}, "Error": errorBody{}, "Health": healthBody{},
	}
	for name, v := range types {
		s, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("no schema %s", name)
			continue
		}
		var documented []string
		for p := range s.Properties {
			documented = append(documented, p)
		}
		sort.Strings(documented)
		if got := jsonNames(reflect.TypeOf(v)); !reflect.DeepEqual(documented, got) {
			t.Errorf("schema %s documents %v; the type marshals %v", name, documented, got)
		}
	}
}

// jsonNames lists the JSON names encoding/json uses for a struct type.
func jsonNames(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// TestEveryActionHasARoute holds the route table to the action table: every
// admin route names exactly one action of the table (a Route carries one),
// public routes none, and every action is reachable by at least one route.
func TestEveryActionHasARoute(t *testing.T) {
	used := map[keyward.Action]int{}
	for _, rt := range Routes() {
		_, isAction := rt.Action.Spec()
		switch {
		case rt.Public && rt.Action != "":
			t.Errorf("public route %s %s has action %q", rt.Method, rt.Pattern, rt.Action)
		case !rt.Public && !isAction:
			t.Errorf("route %s %s has action %q, not in the action table", rt.Method, rt.Pattern, rt.Action)
		case !rt.Public:
			used[rt.Action]++
		}
	}
	companions := 0
	for _, s := range keyward.ActionSpecs() {
		switch {
		case len(s.With) > 0:
			// Checked alongside the actions it names, never on a route of
			// its own; those actions must have routes.
			companions++
			if used[s.Action] > 0 {
				t.Errorf("action %s is checked with %v but has a route of its own", s.Action, s.With)
			}
			for _, w := range s.With {
				if used[w] == 0 {
					t.Errorf("action %s is checked with %s, which has no route", s.Action, w)
				}
			}
		case used[s.Action] == 0:
			t.Errorf("action %s has no route", s.Action)
		}
	}
	if len(used)+companions != len(keyward.Actions()) {
		t.Errorf("routes use %d actions and %d are checked alongside them; the table has %d", len(used), companions, len(keyward.Actions()))
	}
}

func deref(b *bool) any {
	if b == nil {
		return "absent"
	}
	return *b
}

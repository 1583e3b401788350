package provider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/blang/semver"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/integration"
	presource "github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/property"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/cmd/pulumi-resource-keyward/provider"
	"github.com/keyward/keyward/httpapi"
	"github.com/keyward/keyward/server"
)

// harness is a real keyward server on 127.0.0.1:0 in a temp dir, an admin
// client of it, and the provider, configured for it, behind the
// pulumi-go-provider integration server.
type harness struct {
	t      *testing.T
	ctx    context.Context
	url    string // admin API
	token  string // bootstrap admin token
	client *httpapi.Client
	prov   integration.Server
}

func start(t *testing.T) *harness {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.Open(ctx, server.Config{DataDir: dir, AdminAddr: "127.0.0.1:0", GatewayAddr: "127.0.0.1:0"}, io.Discard)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server run: %v", err)
		}
		srv.Close()
	})
	b, err := os.ReadFile(filepath.Join(dir, server.BootstrapTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(b))
	h := &harness{t: t, ctx: ctx, url: srv.AdminURL(), token: token, client: httpapi.NewClient(srv.AdminURL(), token, nil)}
	h.prov = newProviderServer(t, map[string]property.Value{
		"endpoint": property.New(srv.AdminURL()),
		"token":    property.New(token).WithSecret(true),
	})
	return h
}

func newProviderServer(t *testing.T, config map[string]property.Value) integration.Server {
	t.Helper()
	prov, err := provider.New()
	if err != nil {
		t.Fatal(err)
	}
	s, err := integration.NewServer(t.Context(), provider.Name, semver.MustParse(provider.Version), integration.WithProvider(prov))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Configure(p.ConfigureRequest{Args: property.NewMap(config)}); err != nil {
		t.Fatal(err)
	}
	return s
}

func urn(typ, name string) presource.URN {
	return presource.NewURN("test", "keyward", "", tokens.Type(typ), name)
}

// pm builds a property map from plain Go values (string, bool, int,
// float64, []any, map[string]any, property.Value).
func pm(m map[string]any) property.Map {
	out := map[string]property.Value{}
	for k, v := range m {
		out[k] = pv(v)
	}
	return property.NewMap(out)
}

func pv(v any) property.Value {
	switch v := v.(type) {
	case property.Value:
		return v
	case string:
		return property.New(v)
	case bool:
		return property.New(v)
	case int:
		return property.New(float64(v))
	case float64:
		return property.New(v)
	case []any:
		arr := make([]property.Value, 0, len(v))
		for _, e := range v {
			arr = append(arr, pv(e))
		}
		return property.New(arr)
	case map[string]any:
		return property.New(pm(v))
	case map[string]string:
		m := map[string]property.Value{}
		for k, s := range v {
			m[k] = property.New(s)
		}
		return property.New(m)
	}
	panic(fmt.Sprintf("pv: unsupported %T", v))
}

// created is a resource made through the provider, as the engine would:
// Check, then Create.
type created struct {
	urn    presource.URN
	id     string
	inputs property.Map // checked inputs
	props  property.Map // outputs
}

func (h *harness) create(typ, name string, inputs property.Map) created {
	h.t.Helper()
	u := urn(typ, name)
	chk, err := h.prov.Check(p.CheckRequest{Urn: u, Inputs: inputs})
	if err != nil || len(chk.Failures) > 0 {
		h.t.Fatalf("check %s: %v %v", name, err, chk.Failures)
	}
	resp, err := h.prov.Create(p.CreateRequest{Urn: u, Properties: chk.Inputs})
	if err != nil {
		h.t.Fatalf("create %s: %v", name, err)
	}
	if resp.ID == "" {
		h.t.Fatalf("create %s: empty ID", name)
	}
	for what, m := range map[string]property.Map{"inputs": chk.Inputs, "outputs": resp.Properties} {
		for k, v := range m.All {
			if v.IsString() && v.AsString() == "" {
				h.t.Errorf("create %s: %s hold %s: \"\" for an unset field", name, what, k)
			}
		}
	}
	return created{urn: u, id: resp.ID, inputs: chk.Inputs, props: resp.Properties}
}

// diff runs Check and Diff of new inputs against a resource's state, as the
// next `up` would.
func (h *harness) diff(c created, state property.Map, inputs property.Map) p.DiffResponse {
	h.t.Helper()
	chk, err := h.prov.Check(p.CheckRequest{Urn: c.urn, State: c.inputs, Inputs: inputs})
	if err != nil || len(chk.Failures) > 0 {
		h.t.Fatalf("check: %v %v", err, chk.Failures)
	}
	d, err := h.prov.Diff(p.DiffRequest{ID: c.id, Urn: c.urn, State: state, Inputs: chk.Inputs, OldInputs: c.inputs})
	if err != nil {
		h.t.Fatalf("diff: %v", err)
	}
	return d
}

func (h *harness) read(c created) p.ReadResponse {
	h.t.Helper()
	r, err := h.prov.Read(p.ReadRequest{ID: c.id, Urn: c.urn, Properties: c.props, Inputs: c.inputs})
	if err != nil {
		h.t.Fatalf("read %s: %v", c.id, err)
	}
	return r
}

func mustCode(t *testing.T, err error, code string) {
	t.Helper()
	if keyward.ErrorCode(err) != code {
		t.Fatalf("got %v, want code %s", err, code)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// TestSchema checks the package schema: the five resources under their
// tokens, secrets marked in it, replacements declared.
func TestSchema(t *testing.T) {
	h := start(t)
	resp, err := h.prov.GetSchema(p.GetSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	type prop struct {
		Secret bool `json:"secret"`
	}
	type res struct {
		Properties      map[string]prop `json:"properties"`
		InputProperties map[string]struct {
			Secret           bool `json:"secret"`
			ReplaceOnChanges bool `json:"replaceOnChanges"`
		} `json:"inputProperties"`
		RequiredInputs []string `json:"requiredInputs"`
	}
	var s struct {
		Name   string `json:"name"`
		Config struct {
			Variables map[string]prop `json:"variables"`
		} `json:"config"`
		Resources map[string]res `json:"resources"`
	}
	if err := json.Unmarshal([]byte(resp.Schema), &s); err != nil {
		t.Fatal(err)
	}
	if s.Name != "keyward" {
		t.Errorf("package name %q", s.Name)
	}
	for _, tok := range []string{provider.TypeAPIKey, provider.TypeUsagePlan, provider.TypeUsagePlanKey, provider.TypeAPI, provider.TypeSecret} {
		if _, ok := s.Resources[tok]; !ok {
			t.Errorf("schema lacks %s (has %v)", tok, keys(s.Resources))
		}
	}
	if len(s.Resources) != 5 {
		t.Errorf("schema has %d resources: %v", len(s.Resources), keys(s.Resources))
	}
	if !s.Config.Variables["token"].Secret {
		t.Error("config token is not secret")
	}
	if _, ok := s.Config.Variables["endpoint"]; !ok {
		t.Error("config endpoint missing")
	}
	key := s.Resources[provider.TypeAPIKey]
	if !key.Properties["value"].Secret {
		t.Error("ApiKey value output is not secret in the schema")
	}
	if !key.InputProperties["storeValueInSecret"].ReplaceOnChanges || !key.InputProperties["importValue"].Secret {
		t.Errorf("ApiKey inputs: %+v", key.InputProperties)
	}
	if len(key.RequiredInputs) != 0 {
		t.Errorf("ApiKey required inputs %v, want none", key.RequiredInputs)
	}
	if !s.Resources[provider.TypeSecret].InputProperties["value"].Secret || !s.Resources[provider.TypeSecret].Properties["value"].Secret {
		t.Error("Secret value is not secret in the schema")
	}
	pk := s.Resources[provider.TypeUsagePlanKey]
	if !pk.InputProperties["planId"].ReplaceOnChanges || !pk.InputProperties["keyId"].ReplaceOnChanges {
		t.Errorf("UsagePlanKey inputs: %+v", pk.InputProperties)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestConfigChangeDoesNotReplace: a new token (rotation) or endpoint is an
// update of the provider, never a replacement of every resource.
func TestConfigChangeDoesNotReplace(t *testing.T) {
	h := start(t)
	old := pm(map[string]any{"endpoint": "http://127.0.0.1:7070", "token": property.New("kwa_old").WithSecret(true)})
	for name, news := range map[string]property.Map{
		"token":    pm(map[string]any{"endpoint": "http://127.0.0.1:7070", "token": property.New("kwa_new").WithSecret(true)}),
		"endpoint": pm(map[string]any{"endpoint": "http://localhost:7070", "token": property.New("kwa_old").WithSecret(true)}),
	} {
		d, err := h.prov.DiffConfig(p.DiffRequest{Urn: "urn:pulumi:test::keyward::pulumi:providers:keyward::default", State: old, OldInputs: old, Inputs: news})
		if err != nil {
			t.Fatal(err)
		}
		if !d.HasChanges || d.DeleteBeforeReplace {
			t.Errorf("%s: %+v", name, d)
		}
		for k, pd := range d.DetailedDiff {
			if pd.Kind != p.Update {
				t.Errorf("%s: %s is %s, want update", name, k, pd.Kind)
			}
		}
	}
	d, err := h.prov.DiffConfig(p.DiffRequest{State: old, OldInputs: old, Inputs: old})
	if err != nil || d.HasChanges {
		t.Errorf("same config: %+v %v", d, err)
	}
}

// TestConfigFromEnvironment: endpoint and token unset in the config come
// from KEYWARD_ADDR and KEYWARD_TOKEN.
func TestConfigFromEnvironment(t *testing.T) {
	h := start(t)
	t.Setenv("KEYWARD_ADDR", h.url)
	t.Setenv("KEYWARD_TOKEN", h.token)
	envProv := newProviderServer(t, map[string]property.Value{})
	_, err := envProv.Create(p.CreateRequest{Urn: urn(provider.TypeAPIKey, "env"), Properties: pm(map[string]any{"name": "env", "enabled": true})})
	if err != nil {
		t.Fatalf("create with config from the environment: %v", err)
	}
	t.Setenv("KEYWARD_TOKEN", "")
	tokFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokFile, []byte(h.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KEYWARD_TOKEN_FILE", tokFile)
	fileProv := newProviderServer(t, map[string]property.Value{})
	if _, err := fileProv.Create(p.CreateRequest{Urn: urn(provider.TypeAPIKey, "file"), Properties: pm(map[string]any{"name": "file"})}); err != nil {
		t.Fatalf("create with the token from KEYWARD_TOKEN_FILE: %v", err)
	}
	t.Setenv("KEYWARD_TOKEN_FILE", "")
	noTok := newProviderServer(t, map[string]property.Value{})
	if _, err := noTok.Create(p.CreateRequest{Urn: urn(provider.TypeAPIKey, "x"), Properties: pm(map[string]any{"name": "x"})}); err == nil {
		t.Fatal("create without any token succeeded")
	}
}

package e2e_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io/fs"

	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/cmd/pulumi-resource-keyward/e2e"
	"github.com/keyward/keyward/httpapi"
	"github.com/keyward/keyward/mockupstream"
	"github.com/keyward/keyward/server"
	"github.com/keyward/keyward/tlsconfig"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
)

// These tests drive the real Pulumi CLI (built from the module proxy by
// .ci/pulumi.sh, cached by version) against a real keyward server. They
// never skip: without the CLI they build it.

var (
	toolsOnce sync.Once
	toolsDir  string
	toolsErr  error
	provOnce  sync.Once
	provDir   string
	provErr   error
)

// pulumiRoot returns the directory whose bin/ holds pulumi and
// pulumi-language-yaml.
func pulumiRoot(t *testing.T) string {
	t.Helper()
	toolsOnce.Do(func() {
		if d := os.Getenv("KEYWARD_PULUMI_DIR"); d != "" {
			toolsDir = d
			return
		}
		out, err := exec.Command("bash", "../../../.ci/pulumi.sh").Output()
		toolsDir, toolsErr = strings.TrimSpace(string(out)), err
	})
	if toolsErr != nil {
		t.Fatalf("building the Pulumi CLI: %v", toolsErr)
	}
	return toolsDir
}

// providerDir builds pulumi-resource-keyward into a folder of its own.
func providerDir(t *testing.T) string {
	t.Helper()
	provOnce.Do(func() {
		provDir, provErr = os.MkdirTemp("", "keyward-provider-")
		if provErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-ldflags", "-s -w", "-o", filepath.Join(provDir, "pulumi-resource-keyward"), ".")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			provErr = err
			provDir = string(out)
		}
	})
	if provErr != nil {
		t.Fatalf("building the provider: %v\n%s", provErr, provDir)
	}
	return provDir
}

type keywardServer struct {
	srv    *server.Server
	token  string
	client *httpapi.Client
	caFile string       // with TLS: the private CA of its certificate
	hc     *http.Client // trusts caFile
}

// startKeyward runs a keyward server; withTLS serves both listeners over
// HTTPS with a certificate of a private CA (caFile).
func startKeyward(t *testing.T, withTLS bool) *keywardServer {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := server.Config{DataDir: filepath.Join(dir, "data"), AdminAddr: "127.0.0.1:0", GatewayAddr: "127.0.0.1:0", LogLevel: "error"}
	var caFile string
	hc := http.DefaultClient
	if withTLS {
		dev, err := tlsconfig.GenerateDev(filepath.Join(dir, "tls"), []string{"127.0.0.1"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		cfg.TLS.Cert, cfg.TLS.Key, caFile = dev.Cert, dev.Key, dev.CA
		tc, err := tlsconfig.Client(tlsconfig.ClientFiles{CA: caFile})
		if err != nil {
			t.Fatal(err)
		}
		hc = httpapi.NewHTTPClient(tc)
	}
	srv, err := server.Open(ctx, cfg, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	tok, err := os.ReadFile(filepath.Join(cfg.DataDir, server.BootstrapTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tok))
	return &keywardServer{srv: srv, token: token, client: httpapi.NewClient(srv.AdminURL(), token, hc), caFile: caFile, hc: hc}
}

// pulumiEnv is the environment of a CLI run confined to work.
func pulumiEnv(work string) map[string]string {
	os.MkdirAll(filepath.Join(work, "state"), 0o700)
	return map[string]string{
		"PULUMI_BACKEND_URL":                          "file://" + filepath.Join(work, "state"),
		"PULUMI_HOME":                                 filepath.Join(work, "home"),
		"PULUMI_CONFIG_PASSPHRASE":                    "keyward-e2e",
		"PULUMI_SKIP_UPDATE_CHECK":                    "true",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
	}
}

// stateHolds reports which files under dir contain v (raw or base64).
func stateHolds(t *testing.T, dir string, v []byte) []string {
	t.Helper()
	var hits []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, form := range [][]byte{v, []byte(base64.StdEncoding.EncodeToString(v))} {
			if bytes.Contains(b, form) {
				hits = append(hits, path)
			}
		}
		return nil
	})
	return hits
}

// callGateway makes one request through keyward's gateway with value.
func callGateway(t *testing.T, k *keywardServer, value string) int {
	t.Helper()
	if err := k.srv.Gateway().Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", k.srv.GatewayURL()+"/chat/prod/v1/models", nil)
	req.Header.Set("X-Api-Key", value)
	resp, err := k.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// gatewayPlan makes an API in front of a mock upstream and a plan on its
// stage: a key attached to the plan may call it.
func gatewayPlan(t *testing.T, k *keywardServer) *keyward.UsagePlan {
	t.Helper()
	up := httptest.NewServer(mockupstream.Handler())
	t.Cleanup(up.Close)
	ctx := context.Background()
	api, err := k.client.CreateAPI(ctx, keyward.APICreate{Name: "chat", OpenAICompatible: true, Stages: []keyward.Stage{{Name: "prod", UpstreamURL: up.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := k.client.CreatePlan(ctx, keyward.PlanCreate{Name: "pipeline", APIStages: []keyward.PlanStage{{APIID: api.ID, Stage: "prod"}}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The seed as an Automation API inline program: up creates the key and
// exports only its ID; the value reaches the secret, not the state; the
// key works at the gateway; a second up and a refresh change nothing;
// destroy deletes the key.
func TestSeedProgramWithTheRealCLI(t *testing.T) {
	ctx := context.Background()
	root, prov := pulumiRoot(t), providerDir(t)
	k := startKeyward(t, false)
	plan := gatewayPlan(t, k)
	work := t.TempDir()
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	stack, err := e2e.SeedStack(ctx, "dev", e2e.SeedOptions{ProviderDir: prov, Endpoint: k.srv.AdminURL(), Token: k.token,
		Workspace: []auto.LocalWorkspaceOption{auto.Pulumi(cmd), auto.EnvVars(pulumiEnv(work)), auto.PulumiHome(filepath.Join(work, "home"))}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	id, err := e2e.UpSeed(ctx, stack)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pulumi up of the seed program: %v", time.Since(start).Round(time.Millisecond))

	key, err := k.client.GetKey(ctx, id)
	if err != nil {
		t.Fatalf("the exported ID %q is not a key: %v", id, err)
	}
	if key.Description != e2e.KeyDescription || !key.Enabled || key.ValueSecret != e2e.ValueSecret {
		t.Fatalf("key %+v", key)
	}
	sv, err := k.client.GetSecretValue(ctx, e2e.ValueSecret, keyward.SecretSelector{})
	if err != nil {
		t.Fatal(err)
	}
	if hits := stateHolds(t, filepath.Join(work, "state"), sv.Value); len(hits) > 0 {
		t.Fatalf("the key value is in the state: %v", hits)
	}
	if hits := stateHolds(t, filepath.Join(work, "state"), []byte(k.token)); len(hits) > 0 {
		t.Fatalf("the admin token is in the state: %v", hits)
	}

	// The key works at the gateway once it may call a stage (attached to
	// a plan by the platform team, outside this stack).
	if err := k.client.AttachKey(ctx, plan.ID, id); err != nil {
		t.Fatal(err)
	}
	if got := callGateway(t, k, string(sv.Value)); got != 200 {
		t.Fatalf("gateway with the seeded key: %d", got)
	}

	// Nothing to do a second time, nor after a refresh.
	if _, err := stack.Preview(ctx, optpreview.ExpectNoChanges()); err != nil {
		t.Fatalf("preview after up: %v", err)
	}
	res, err := stack.Up(ctx, optup.ExpectNoChanges())
	if err != nil {
		t.Fatalf("second up: %v", err)
	}
	if res.Summary.ResourceChanges == nil {
		t.Fatal("second up reported no change summary")
	}
	for op, n := range *res.Summary.ResourceChanges {
		if op != "same" && n > 0 {
			t.Fatalf("second up did %d %s", n, op)
		}
	}
	if _, err := stack.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := stack.Preview(ctx, optpreview.ExpectNoChanges()); err != nil {
		t.Fatalf("preview after refresh: %v", err)
	}

	if _, err := stack.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := k.client.GetKey(ctx, id); keyward.ErrorCode(err) != keyward.ENOTFOUND {
		t.Fatalf("after destroy: %v", err)
	}
}

// The same seed as the Pulumi YAML program in examples/pulumi-seed, run
// with the CLI and the YAML language host.
func TestSeedYAMLExampleWithTheRealCLI(t *testing.T) {
	root, prov := pulumiRoot(t), providerDir(t)
	k := startKeyward(t, true)
	work := t.TempDir()
	src, err := os.ReadFile("../../../examples/pulumi-seed/Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	yaml := strings.Replace(string(src), "path: ../../cmd/pulumi-resource-keyward/bin", "path: "+prov, 1)
	if yaml == string(src) {
		t.Fatal("the example's plugin path moved; update this test")
	}
	proj := filepath.Join(work, "project")
	if err := os.MkdirAll(proj, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proj, "Pulumi.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	env := os.Environ()
	for k, v := range pulumiEnv(work) {
		env = append(env, k+"="+v)
	}
	env = append(env, "PATH="+filepath.Join(root, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"),
		"KEYWARD_ADDR="+k.srv.AdminURL(), "KEYWARD_TOKEN="+k.token, "KEYWARD_CA_FILE="+k.caFile)
	pulumi := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(root, "bin", "pulumi"), append(args, "--non-interactive")...)
		cmd.Dir, cmd.Env = proj, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("pulumi %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	pulumi("stack", "init", "dev")
	start := time.Now()
	pulumi("up", "--yes", "--skip-preview")
	t.Logf("pulumi up of examples/pulumi-seed: %v", time.Since(start).Round(time.Millisecond))
	id := strings.TrimSpace(pulumi("stack", "output", "api_key_id"))
	if _, err := k.client.GetKey(context.Background(), id); err != nil {
		t.Fatalf("stack output %q: %v", id, err)
	}
	sv, err := k.client.GetSecretValue(context.Background(), "pipeline/my-api-key", keyward.SecretSelector{})
	if err != nil {
		t.Fatal(err)
	}
	if hits := stateHolds(t, filepath.Join(work, "state"), sv.Value); len(hits) > 0 {
		t.Fatalf("the key value is in the state: %v", hits)
	}
	pulumi("up", "--yes", "--expect-no-changes")
	pulumi("destroy", "--yes")
	if _, err := k.client.GetKey(context.Background(), id); keyward.ErrorCode(err) != keyward.ENOTFOUND {
		t.Fatalf("after destroy: %v", err)
	}
}

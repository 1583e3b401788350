package gateway

import (
	"context"
	"crypto/tls"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/changefeed"
	"github.com/keyward/keyward/keyvalue"
	"github.com/keyward/keyward/limit"
	"github.com/keyward/keyward/mockupstream"
	"github.com/keyward/keyward/tlsconfig"
)

// sdkDir holds the Node script and the pinned openai package, which
// .ci/run installs into its node_modules (git-ignored).
const sdkDir = "testdata/openai-sdk"

// The official OpenAI Node SDK against the gateway and the mock upstream,
// in-process on loopback: chat, streaming, a throttle the SDK retries
// through, a spent quota and day budget that fail at once instead of
// sleeping, a bad key raising AuthenticationError, a scoped key's model
// list. The checks are in testdata/openai-sdk/sdk.mjs.
func TestOpenAINodeSDK(t *testing.T) {
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(sdkDir, "node_modules", "openai", "package.json"))
	}
	if err != nil {
		msg := "the OpenAI Node SDK test needs node and the openai package (.ci/run installs it: npm ci in " + sdkDir + "): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// Over plain HTTP, and over HTTPS with a private CA the SDK trusts
	// through NODE_EXTRA_CA_CERTS, as a user of a self-hosted keyward
	// would set it up.
	t.Run("http", func(t *testing.T) { runOpenAINodeSDK(t, node, false) })
	t.Run("https", func(t *testing.T) { runOpenAINodeSDK(t, node, true) })
}

func runOpenAINodeSDK(t *testing.T, node string, withTLS bool) {
	up := httptest.NewServer(mockupstream.Handler())
	defer up.Close()
	hasher, err := keyvalue.NewHasher(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	snap := &keyward.DataPlaneSnapshot{
		APIs: []*keyward.API{{ID: "api_1", Name: "chat", OpenAICompatible: true,
			Stages: []keyward.Stage{{Name: "prod", UpstreamURL: up.URL}}}},
	}
	stage := []keyward.StageKey{{APIID: "api_1", Stage: "prod"}}
	onStage := []keyward.PlanStage{{APIID: "api_1", Stage: "prod"}}
	environ := os.Environ()
	addKey := func(envName string, k *keyward.APIKey, plan *keyward.UsagePlan) {
		value, err := keyvalue.Generate("kw")
		if err != nil {
			t.Fatal(err)
		}
		d := hasher.Digest(value)
		k.ID, k.Enabled = "key_"+envName, true
		k.Credentials = []keyward.Credential{{ID: "cred_" + envName, KeyID: k.ID, Label: keyward.LabelCurrent, Digest: d[:]}}
		if plan != nil {
			plan.ID, plan.Name, plan.APIStages = "plan_"+envName, envName, onStage
			snap.Plans = append(snap.Plans, plan)
			k.PlanIDs = []string{plan.ID}
		} else {
			k.StageKeys = stage
		}
		snap.Keys = append(snap.Keys, k)
		environ = append(environ, envName+"="+value)
	}
	addKey("KW_KEY_ALL", &keyward.APIKey{}, nil)
	addKey("KW_KEY_SCOPED", &keyward.APIKey{Scopes: keyward.Scopes{Models: []string{"gpt-4o*"}}}, nil)
	addKey("KW_KEY_THROTTLE", &keyward.APIKey{}, &keyward.UsagePlan{Throttle: &keyward.Throttle{RateLimit: 1, BurstLimit: 1}})
	addKey("KW_KEY_QUOTA", &keyward.APIKey{}, &keyward.UsagePlan{Quota: &keyward.Quota{Limit: 1, Period: keyward.PeriodMonth}})
	addKey("KW_KEY_DAY", &keyward.APIKey{}, &keyward.UsagePlan{Tokens: &keyward.TokenLimits{PerDay: 20000}})
	// This key's limits cannot be checked (keyDownLimiter).
	addKey("KW_KEY_DOWN", &keyward.APIKey{}, &keyward.UsagePlan{Throttle: &keyward.Throttle{RateLimit: 100, BurstLimit: 100}})

	ctx := context.Background()
	g, err := New(ctx, Config{Source: &fakeSource{snap}, Changes: &changefeed.Local{}, Hasher: hasher,
		Limiter: keyDownLimiter{Limiter: limit.NewLocal(nil), down: "key_KW_KEY_DOWN"}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	scheme, served := "http://", ln
	if withTLS {
		dev, err := tlsconfig.GenerateDev(t.TempDir(), []string{"127.0.0.1"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := tlsconfig.NewServer(tlsconfig.ServerFiles{Cert: dev.Cert, Key: dev.Key, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		scheme, served = "https://", tls.NewListener(ln, srv.Config())
		environ = append(environ, "NODE_EXTRA_CA_CERTS="+dev.CA)
	}
	go g.Serve(ctx, served)
	defer g.Shutdown(ctx)

	runCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(runCtx, node, "sdk.mjs")
	cmd.Dir = sdkDir
	// Keys go in the environment, never on the command line.
	cmd.Env = append(environ, "KW_BASE_URL="+scheme+ln.Addr().String()+"/chat/prod/v1")
	out, err := cmd.CombinedOutput()
	t.Logf("node sdk.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("the OpenAI Node SDK checks failed: %v", err)
	}
}

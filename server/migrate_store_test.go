package server_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
	"github.com/keyward/keyward/mockupstream"
	"github.com/keyward/keyward/server"
)

// TestMigrateStoreToCluster: a single node's deployment, copied into an
// empty PostgreSQL database, serves from a cluster node exactly as it did:
// the same admin token, the same key values admitted (digests under the
// same pepper), a disabled key still refused, a secret still opens (sealed
// under the same keyring), and the audit log verifies; a second copy into
// the now non-empty database is refused.
func TestMigrateStoreToCluster(t *testing.T) {
	url := clusterURL(t)
	ctx := context.Background()
	dir := t.TempDir()
	single := start(t, server.Config{DataDir: dir})
	up := httptest.NewServer(mockupstream.Handler())
	t.Cleanup(up.Close)
	if _, err := single.client.CreateAPI(ctx, keyward.APICreate{Name: "chat", OpenAICompatible: true,
		Stages: []keyward.Stage{{Name: "prod", UpstreamURL: up.URL}}}); err != nil {
		t.Fatal(err)
	}
	stage := []keyward.StageKey{{APIID: "chat", Stage: "prod"}}
	good, err := single.client.CreateKey(ctx, keyward.KeyCreate{Name: "good", StageKeys: stage})
	if err != nil {
		t.Fatal(err)
	}
	off := false
	bad, err := single.client.CreateKey(ctx, keyward.KeyCreate{Name: "off", StageKeys: stage, Enabled: &off})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := single.client.CreateSecret(ctx, keyward.SecretCreate{Name: "upstream", Value: []byte("s3cret-upstream-value")}); err != nil {
		t.Fatal(err)
	}
	before, err := single.client.VerifyAudit(ctx)
	if err != nil || !before.OK {
		t.Fatalf("before: %+v %v", before, err)
	}
	single.stop()

	counts, err := server.MigrateStore(ctx, server.MigrateStoreConfig{DataDir: dir, DatabaseURL: url})
	if err != nil {
		t.Fatal(err)
	}
	if counts["api_keys"] != 2 || counts["audit_records"] < int(before.Records) || counts["principals"] < 1 {
		t.Fatalf("copied %v", counts)
	}
	if _, err := server.MigrateStore(ctx, server.MigrateStoreConfig{DataDir: dir, DatabaseURL: url}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("a second copy into the same database: %v", err)
	}

	node := start(t, server.Config{DatabaseURL: url, KeyringURL: "file://" + filepath.Join(dir, server.MasterKeyFile)})
	if node.token != "" {
		t.Fatal("the cluster node made a bootstrap admin of its own")
	}
	node.token = single.token
	node.client = httpapi.NewClient(node.srv.AdminURL(), single.token, nil)
	if got := chat(t, node.srv.GatewayURL(), good.Value); got != 200 {
		t.Errorf("the good key on the cluster: %d", got)
	}
	if got := chat(t, node.srv.GatewayURL(), bad.Value); got != 401 {
		t.Errorf("the disabled key on the cluster: %d", got)
	}
	v, err := node.client.GetSecretValue(ctx, "upstream", keyward.SecretSelector{})
	if err != nil || string(v.Value) != "s3cret-upstream-value" {
		t.Fatalf("the secret on the cluster: %+v %v", v, err)
	}
	after, err := node.client.VerifyAudit(ctx)
	if err != nil || !after.OK || after.Records <= before.Records {
		t.Fatalf("the audit log on the cluster: %+v %v", after, err)
	}
}

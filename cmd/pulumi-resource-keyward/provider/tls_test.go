package provider_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi/sdk/v3/go/property"

	"github.com/keyward/keyward/cmd/pulumi-resource-keyward/provider"
	"github.com/keyward/keyward/server"
	"github.com/keyward/keyward/tlsconfig"
)

// TestHTTPSEndpointIsVerified runs the provider against an admin API over
// HTTPS with a private CA: with the CA (config caFile, or
// $KEYWARD_CA_FILE) it works; without it, it fails with an error that
// names the certificate problem. Nothing turns verification off.
func TestHTTPSEndpointIsVerified(t *testing.T) {
	dir := t.TempDir()
	dev, err := tlsconfig.GenerateDev(filepath.Join(dir, "tls"), []string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.Open(ctx, server.Config{DataDir: filepath.Join(dir, "data"), AdminAddr: "127.0.0.1:0", GatewayAddr: "127.0.0.1:0",
		TLS: server.TLSConfig{Cert: dev.Cert, Key: dev.Key}}, io.Discard)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	b, err := os.ReadFile(filepath.Join(dir, "data", server.BootstrapTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(b))
	create := func(config map[string]property.Value, name string) error {
		prov := newProviderServer(t, config)
		_, err := prov.Create(p.CreateRequest{Urn: urn(provider.TypeAPIKey, name), Properties: pm(map[string]any{"name": name, "enabled": true})})
		return err
	}
	base := map[string]property.Value{"endpoint": property.New(srv.AdminURL()), "token": property.New(token).WithSecret(true)}

	if err := create(base, "untrusted"); err == nil || !strings.Contains(err.Error(), "not trusted") {
		t.Fatalf("without the CA: %v, want an error naming the untrusted certificate", err)
	}
	withCA := map[string]property.Value{"caFile": property.New(dev.CA)}
	for k, v := range base {
		withCA[k] = v
	}
	if err := create(withCA, "by-config"); err != nil {
		t.Fatalf("caFile in the config: %v", err)
	}
	t.Setenv(tlsconfig.EnvCAFile, dev.CA)
	if err := create(base, "by-env"); err != nil {
		t.Fatalf("$KEYWARD_CA_FILE: %v", err)
	}
}

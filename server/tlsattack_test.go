package server_test

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
	"github.com/keyward/keyward/server"
	"github.com/keyward/keyward/tlsconfig"
)

// TestAttackClientCARotationKeepsOpenConnections: there is no CRL or OCSP,
// so replacing the --tls-client-ca file (dropping a compromised client
// CA) is the only way to revoke client certificates without a restart.
// The reload takes it for new handshakes only: a client already connected
// with a certificate of the dropped CA keeps using the admin API over its
// open (HTTP/2, kept alive) connection for as long as it keeps it busy.
func TestAttackClientCARotationKeepsOpenConnections(t *testing.T) {
	ca := newTestCA(t, "keyward test CA")
	certFile, keyFile, _ := ca.issue("server", tlsconfig.Template{Hosts: []string{"127.0.0.1"}, Server: true})
	opsCert, opsKey, _ := ca.issue("ops", tlsconfig.Template{CommonName: "ops"})
	clientCA := ca.dir + "/clients-ca.pem"
	b, _ := os.ReadFile(ca.file)
	if err := os.WriteFile(clientCA, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := start(t, server.Config{TLS: server.TLSConfig{Cert: certFile, Key: keyFile, ClientCA: clientCA,
		ClientPrincipals: []string{"cn:ops=bootstrap-admin"}, ReloadInterval: 100 * time.Millisecond}})
	ctx := context.Background()
	hc := ca.client(opsCert, opsKey)
	stolen := httpapi.NewClient(r.srv.AdminURL(), r.token, hc)
	if _, _, err := stolen.ListKeys(ctx, keyward.KeyFilter{}); err != nil {
		t.Fatal(err)
	}
	// The operator drops the compromised CA: the client CA file now holds
	// a new CA only.
	newCA := newTestCA(t, "new client CA")
	b, _ = os.ReadFile(newCA.file)
	if err := os.WriteFile(clientCA, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r.srv.ReloadTLS()
	eventually(t, "new handshakes refuse the dropped CA", func() bool {
		_, _, err := httpapi.NewClient(r.srv.AdminURL(), r.token, ca.client(opsCert, opsKey)).ListKeys(ctx, keyward.KeyFilter{})
		return err != nil
	})
	for i := 0; i < 5; i++ {
		time.Sleep(200 * time.Millisecond)
		if _, _, err := stolen.ListKeys(ctx, keyward.KeyFilter{}); err == nil {
			t.Fatalf("after the client CA was replaced and reloaded, a connection made with a certificate of the dropped CA still acts as bootstrap-admin (request %d)", i+1)
		}
	}
}

// TestAttackNoStoreNotOnEveryAdminAnswer: README: "Every admin answer
// (values, tokens, secrets included) is Cache-Control: no-store". Answers
// that do not reach a route (404, 405, HEAD on an admin route) and the
// public ones (/metrics, /readyz) come without it.
func TestAttackNoStoreNotOnEveryAdminAnswer(t *testing.T) {
	r := start(t, server.Config{})
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/v1/nope"},
		{http.MethodPut, "/v1/keys"},
		{http.MethodHead, "/v1/keys"},
		{http.MethodGet, "/metrics"},
		{http.MethodGet, "/readyz"},
	} {
		req, _ := http.NewRequest(c.method, r.srv.AdminURL()+c.path, nil)
		req.Header.Set("Authorization", "Bearer "+r.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: %d without Cache-Control: no-store (got %q)", c.method, c.path, resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
	}
}

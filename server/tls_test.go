package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
	"github.com/keyward/keyward/mockupstream"
	"github.com/keyward/keyward/server"
	"github.com/keyward/keyward/tlsconfig"
)

// testCA is a throwaway CA whose certificates the tests write to a
// directory.
type testCA struct {
	t    *testing.T
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // the CA's PEM file
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	cert, key, err := tlsconfig.NewCA(name, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{t: t, dir: t.TempDir(), cert: cert, key: key}
	ca.file = filepath.Join(ca.dir, "ca.pem")
	if err := tlsconfig.WritePair(ca.file, filepath.Join(ca.dir, "ca-key.pem"), cert, key); err != nil {
		t.Fatal(err)
	}
	return ca
}

// issue writes name.pem and name-key.pem for tmpl and returns their paths.
func (ca *testCA) issue(name string, tmpl tlsconfig.Template) (certFile, keyFile string, cert *x509.Certificate) {
	ca.t.Helper()
	cert, key, err := tlsconfig.Issue(ca.cert, ca.key, tmpl, time.Hour)
	if err != nil {
		ca.t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(ca.dir, name+".pem"), filepath.Join(ca.dir, name+"-key.pem")
	if err := tlsconfig.WritePair(certFile, keyFile, cert, key); err != nil {
		ca.t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// client is an HTTP client trusting the CA, presenting the given client
// certificate files when not empty.
func (ca *testCA) client(certKey ...string) *http.Client {
	ca.t.Helper()
	files := tlsconfig.ClientFiles{CA: ca.file}
	if len(certKey) == 2 {
		files.Cert, files.Key = certKey[0], certKey[1]
	}
	tc, err := tlsconfig.Client(files)
	if err != nil {
		ca.t.Fatal(err)
	}
	return httpapi.NewHTTPClient(tc)
}

// httpsUpstream runs the mock AI upstream over HTTPS with a certificate
// of ca.
func httpsUpstream(t *testing.T, ca *testCA) string {
	t.Helper()
	certFile, keyFile, _ := ca.issue("upstream", tlsconfig.Template{CommonName: "upstream", Hosts: []string{"127.0.0.1"}, Server: true})
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewUnstartedServer(mockupstream.Handler())
	up.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	up.StartTLS()
	t.Cleanup(up.Close)
	return up.URL
}

func chatOver(t *testing.T, hc *http.Client, url, value string) (int, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+value)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func servedSerial(t *testing.T, hc *http.Client, url string) string {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.TLS.PeerCertificates[0].SerialNumber.String()
}

// TestTLSOnBothListeners serves the admin API and the gateway over TLS,
// with an HTTPS upstream of a private CA: everything works through clients
// that trust the CA, nothing through those that do not, TLS 1.1 is
// refused, and a certificate replaced on disk is served to the next
// connection.
func TestTLSOnBothListeners(t *testing.T) {
	ca := newTestCA(t, "keyward test CA")
	certFile, keyFile, first := ca.issue("server", tlsconfig.Template{CommonName: "keyward", Hosts: []string{"127.0.0.1"}, Server: true})
	r := start(t, server.Config{TLS: server.TLSConfig{Cert: certFile, Key: keyFile, CAFile: ca.file}})
	if !strings.HasPrefix(r.srv.AdminURL(), "https://") || !strings.HasPrefix(r.srv.GatewayURL(), "https://") {
		t.Fatalf("URLs %s %s", r.srv.AdminURL(), r.srv.GatewayURL())
	}
	ctx := context.Background()
	admin := httpapi.NewClient(r.srv.AdminURL(), r.token, ca.client())

	// An HTTPS upstream signed by the CA given with --ca-file, and one
	// signed by a CA nobody trusts.
	trusted := httpsUpstream(t, ca)
	untrusted := httpsUpstream(t, newTestCA(t, "rogue CA"))
	for name, up := range map[string]string{"chat": trusted, "rogue": untrusted} {
		if _, err := admin.CreateAPI(ctx, keyward.APICreate{Name: name, OpenAICompatible: true,
			Stages: []keyward.Stage{{Name: "prod", UpstreamURL: up}}}); err != nil {
			t.Fatal(err)
		}
	}
	ck, err := admin.CreateKey(ctx, keyward.KeyCreate{Name: "k",
		StageKeys: []keyward.StageKey{{APIID: "chat", Stage: "prod"}, {APIID: "rogue", Stage: "prod"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.srv.Gateway().Reload(ctx); err != nil {
		t.Fatal(err)
	}
	gw := ca.client()
	if code, err := chatOver(t, gw, r.srv.GatewayURL()+"/chat/prod/v1/chat/completions", ck.Value); err != nil || code != http.StatusOK {
		t.Fatalf("gateway over TLS to a trusted HTTPS upstream: %d %v", code, err)
	}
	if code, err := chatOver(t, gw, r.srv.GatewayURL()+"/rogue/prod/v1/chat/completions", ck.Value); err != nil || code != http.StatusBadGateway {
		t.Fatalf("upstream with an untrusted certificate: %d %v, want 502", code, err)
	}

	// The admin API speaks HTTP/2 with HSTS and no-store; the gateway
	// HTTP/1.1.
	req, _ := http.NewRequest(http.MethodGet, r.srv.AdminURL()+"/v1/keys", nil)
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := ca.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.Header.Get("Strict-Transport-Security") == "" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("admin answer: %s, HSTS %q, Cache-Control %q", resp.Proto, resp.Header.Get("Strict-Transport-Security"), resp.Header.Get("Cache-Control"))
	}
	resp, err = gw.Get(r.srv.GatewayURL() + "/chat/prod/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 1 || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("gateway answer: %s", resp.Proto)
	}

	// A client without the CA is refused, and told why.
	_, _, err = httpapi.NewClient(r.srv.AdminURL(), r.token, nil).ListKeys(ctx, keyward.KeyFilter{})
	if keyward.ErrorCode(err) != keyward.EUNAVAILABLE || !strings.Contains(err.Error(), "not trusted") || !strings.Contains(err.Error(), "KEYWARD_CA_FILE") {
		t.Errorf("client without the CA: %v", err)
	}
	// TLS 1.0 and 1.1 are refused on both listeners, even to a client
	// willing to use them.
	for _, url := range []string{r.srv.AdminURL(), r.srv.GatewayURL()} {
		tc, _ := tlsconfig.Client(tlsconfig.ClientFiles{CA: ca.file})
		tc.MinVersion, tc.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
		old := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
		if resp, err := old.Get(url + "/healthz"); err == nil {
			resp.Body.Close()
			t.Errorf("%s: a TLS 1.1 client was served", url)
		}
	}

	// A new certificate written over the files (no restart): the next
	// connection gets it, on both listeners.
	_, _, second := ca.issue("server", tlsconfig.Template{CommonName: "keyward-renewed", Hosts: []string{"127.0.0.1"}, Server: true})
	if second.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatal("same serial")
	}
	r.srv.ReloadTLS() // SIGHUP; the file watcher would find it within --tls-reload-interval too
	for _, url := range []string{r.srv.AdminURL() + "/healthz", r.srv.GatewayURL() + "/chat/prod/v1/models"} {
		eventually(t, "renewed certificate served at "+url, func() bool {
			fresh := ca.client() // a new connection
			return servedSerial(t, fresh, url) == second.SerialNumber.String()
		})
	}
	// The admin client from before keeps working over its connection
	// or a new one.
	if _, _, err := admin.ListKeys(ctx, keyward.KeyFilter{}); err != nil {
		t.Fatal(err)
	}
}

// TestMutualTLSBindsTokensToCertificates requires client certificates on
// the admin API and binds principals to them: a token works only with its
// principal's certificate, so a stolen token alone (or with someone
// else's certificate) is refused, and the refusal is audited.
func TestMutualTLSBindsTokensToCertificates(t *testing.T) {
	ca := newTestCA(t, "keyward test CA")
	certFile, keyFile, _ := ca.issue("server", tlsconfig.Template{Hosts: []string{"127.0.0.1"}, Server: true})
	opsCert, opsKey, _ := ca.issue("ops", tlsconfig.Template{CommonName: "ops"})
	ciCert, ciKey, _ := ca.issue("ci", tlsconfig.Template{CommonName: "pipeline", URIs: []string{"spiffe://acme/ci/deployer"}})
	r := start(t, server.Config{TLS: server.TLSConfig{Cert: certFile, Key: keyFile, ClientCA: ca.file,
		ClientPrincipals: []string{"cn:ops=bootstrap-admin", "uri:spiffe://acme/ci/deployer=ci"}}})
	ctx := context.Background()
	ops := httpapi.NewClient(r.srv.AdminURL(), r.token, ca.client(opsCert, opsKey))
	created, err := ops.CreatePrincipal(ctx, keyward.PrincipalCreate{Name: "ci", Roles: []string{"deployer"}})
	if err != nil {
		t.Fatal(err)
	}

	// No client certificate: no handshake.
	_, _, err = httpapi.NewClient(r.srv.AdminURL(), r.token, ca.client()).ListKeys(ctx, keyward.KeyFilter{})
	if keyward.ErrorCode(err) != keyward.EUNAVAILABLE {
		t.Errorf("no client certificate: %v", err)
	}
	// A certificate of another CA: no handshake either.
	rogue := newTestCA(t, "rogue CA")
	rc, rk, _ := rogue.issue("ops", tlsconfig.Template{CommonName: "ops"})
	if _, _, err := httpapi.NewClient(r.srv.AdminURL(), r.token, ca.client(rc, rk)).ListKeys(ctx, keyward.KeyFilter{}); err == nil {
		t.Error("a client certificate of another CA was accepted")
	}
	// The right certificate with each token.
	ci := httpapi.NewClient(r.srv.AdminURL(), created.Token, ca.client(ciCert, ciKey))
	if _, err := ci.CreateKey(ctx, keyward.KeyCreate{Name: "from-ci", StoreSecret: "ci/from-ci"}); err != nil {
		t.Fatalf("ci token with the ci certificate: %v", err)
	}
	// Crossed: each token with the other's certificate.
	for name, c := range map[string]*httpapi.Client{
		"ci token, ops certificate":       httpapi.NewClient(r.srv.AdminURL(), created.Token, ca.client(opsCert, opsKey)),
		"bootstrap token, ci certificate": httpapi.NewClient(r.srv.AdminURL(), r.token, ca.client(ciCert, ciKey)),
	} {
		if _, _, err := c.ListKeys(ctx, keyward.KeyFilter{}); keyward.ErrorCode(err) != keyward.EUNAUTHORIZED {
			t.Errorf("%s: %v, want unauthorized", name, err)
		}
	}
	recs, err := ops.ListAudit(ctx, keyward.AuditFilter{EventName: string(keyward.ActionKeyList)})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, rec := range recs {
		found = found || strings.Contains(string(rec.Event), `"authFailure":"certificate"`)
		if strings.Contains(string(rec.Event), created.Token) || strings.Contains(string(rec.Event), r.token) {
			t.Fatal("audit record holds a token")
		}
	}
	if !found {
		t.Errorf("no audited certificate refusal among %d records", len(recs))
	}
}

// TestPlaintextRefusedOffLoopback: a listener on anything but loopback
// needs TLS or --allow-plaintext; the quickstart's loopback stays plain.
func TestPlaintextRefusedOffLoopback(t *testing.T) {
	for _, tt := range []struct {
		admin, gateway string
		tls            server.TLSConfig
		ok             bool
	}{
		{"127.0.0.1:7070", "127.0.0.1:8080", server.TLSConfig{}, true},
		{"[::1]:7070", "localhost:8080", server.TLSConfig{}, true},
		{"127.0.0.2:7070", "127.0.0.1:8080", server.TLSConfig{}, true},
		{":7070", "127.0.0.1:8080", server.TLSConfig{}, false},
		{"127.0.0.1:7070", "0.0.0.0:8080", server.TLSConfig{}, false},
		{"10.1.2.3:7070", "127.0.0.1:8080", server.TLSConfig{}, false},
		{"keyward.internal:7070", "127.0.0.1:8080", server.TLSConfig{}, false},
		{"[::]:7070", "127.0.0.1:8080", server.TLSConfig{}, false},
		{"0.0.0.0:7070", "0.0.0.0:8080", server.TLSConfig{AllowPlaintext: true}, true},
		{"0.0.0.0:7070", "0.0.0.0:8080", server.TLSConfig{Cert: "c.pem", Key: "k.pem"}, true},
		{"0.0.0.0:7070", "0.0.0.0:8080", server.TLSConfig{AdminCert: "c.pem", AdminKey: "k.pem"}, false}, // the gateway has none
		{"127.0.0.1:7070", "0.0.0.0:8080", server.TLSConfig{GatewayCert: "c.pem", GatewayKey: "k.pem"}, true},
	} {
		err := server.Config{AdminAddr: tt.admin, GatewayAddr: tt.gateway, TLS: tt.tls}.Defaults().Validate()
		if (err == nil) != tt.ok {
			t.Errorf("%s %s %+v: %v", tt.admin, tt.gateway, tt.tls, err)
		}
		if err != nil && !strings.Contains(err.Error(), "--allow-plaintext") {
			t.Errorf("the refusal does not say how to proceed: %v", err)
		}
	}
}

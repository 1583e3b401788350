package webhook

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/keyward/keyward/tlsconfig"
)

// TestEndpointCertificatesAreVerified: an HTTPS endpoint of a private CA is
// called only when that CA is given (the server's --ca-file); without it
// the call fails on the certificate and nothing is delivered.
func TestEndpointCertificatesAreVerified(t *testing.T) {
	dev, err := tlsconfig.GenerateDev(t.TempDir(), []string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(dev.Cert, dev.Key)
	if err != nil {
		t.Fatal(err)
	}
	delivered := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { delivered++ }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()

	post := func(c *http.Client) (int, error) {
		return Post(context.Background(), c, srv.URL+"/hook", []byte("whsec_x"), nil, []byte("{}"), time.Now())
	}
	if status, err := post(NewClient(2*time.Second, nil)); err == nil || status != 0 {
		t.Fatalf("untrusted endpoint: %d %v", status, err)
	}
	withCA, err := tlsconfig.Client(tlsconfig.ClientFiles{CA: dev.CA})
	if err != nil {
		t.Fatal(err)
	}
	if status, err := post(NewClient(2*time.Second, withCA)); err != nil || status != http.StatusOK {
		t.Fatalf("endpoint of the given CA: %d %v", status, err)
	}
	if delivered != 1 {
		t.Fatalf("delivered %d times, want 1 (only with the CA)", delivered)
	}
}

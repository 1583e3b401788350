package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestGuardedClientRefusesMetadataAddresses(t *testing.T) {
	for addr, want := range map[string]bool{
		"169.254.169.254": true, "[fe80::1]": true, "0.0.0.0": true, "224.0.0.1": true, "[::]": true,
		"127.0.0.1": false, "10.1.2.3": false, "[::1]": false, "[::ffff:169.254.169.254]": true,
	} {
		a := netip.MustParseAddr(strings.Trim(addr, "[]"))
		if got := blocked(a); got != want {
			t.Errorf("blocked(%s) = %v, want %v", addr, got, want)
		}
	}
	// A real call to a blocked address fails in the dialer, before any
	// packet is sent; a loopback endpoint works.
	c := NewClient(2*time.Second, nil)
	status, err := Post(context.Background(), c, "http://169.254.169.254/latest/meta-data/", []byte("whsec_x"), nil, []byte("{}"), time.Now())
	if err == nil || status != 0 {
		t.Fatalf("metadata address: %d %v", status, err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	if status, err := Post(context.Background(), c, srv.URL, []byte("whsec_x"), nil, []byte("{}"), time.Now()); err != nil || status != 200 {
		t.Fatalf("loopback: %d %v", status, err)
	}
}

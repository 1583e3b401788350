package webhook

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBlockedAddresses(t *testing.T) {
	for addr, want := range map[string]bool{
		"169.254.0.1": true, "169.254.255.255": true, "169.254.169.254": true, "169.254.170.2": true,
		"fe80::1": true, "fe80::1%eth0": true, "febf:ffff::1": true,
		"fd00:ec2::254": true, "100.100.100.200": true,
		"::ffff:169.254.169.254": true, "::ffff:100.100.100.200": true, "::a9fe:a9fe": true,
		"64:ff9b::a9fe:a9fe": true, "64:ff9b::169.254.169.254": true,
		"0.0.0.0": true, "::": true, "224.0.0.251": true, "ff02::1": true,

		"127.0.0.1": false, "::1": false, "::ffff:127.0.0.1": false, "10.0.0.1": false, "192.168.1.1": false,
		"fd00::1": false, "fd00:ec2::253": false, "169.253.255.255": false, "169.255.0.0": false,
		"100.100.100.100": false, "8.8.8.8": false, "2001:db8::1": false, "64:ff9b::808:808": false,
	} {
		if got := blocked(netip.MustParseAddr(addr)); got != want {
			t.Errorf("blocked(%s) = %v, want %v", addr, got, want)
		}
	}
}

// hosts is a Resolver over a fixed table; a name not in it does not resolve.
type hosts map[string][]string

func (h hosts) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	as, ok := h[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, a := range as {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

// TestCheckURLAtCreate is the check an endpoint's URL gets when it is
// created: a literal address, or a name resolving to one, that keyward
// never calls is refused, naming the host.
func TestCheckURLAtCreate(t *testing.T) {
	r := hosts{
		"imds.internal":   {"10.0.0.7", "169.254.169.254"},
		"imds6.internal":  {"fd00:ec2::254"},
		"rotator.local":   {"127.0.0.1", "::1"},
		"svc.corp.test":   {"10.1.2.3"},
		"mapped.internal": {"::ffff:169.254.169.254"},
	}
	tests := []struct {
		url, host, addr string // host "" when allowed
	}{
		{"http://169.254.169.254/latest/meta-data/", "169.254.169.254", "169.254.169.254"},
		{"https://169.254.170.2/v2/credentials", "169.254.170.2", "169.254.170.2"},
		{"http://[fd00:ec2::254]/latest/api/token", "fd00:ec2::254", "fd00:ec2::254"},
		{"http://[fe80::1%25eth0]:8080/", "fe80::1%eth0", "fe80::1"},
		{"http://[::ffff:169.254.169.254]/", "::ffff:169.254.169.254", "::ffff:169.254.169.254"},
		{"http://[64:ff9b::a9fe:a9fe]/", "64:ff9b::a9fe:a9fe", "64:ff9b::a9fe:a9fe"},
		{"http://100.100.100.200/latest/meta-data/", "100.100.100.200", "100.100.100.200"},
		{"https://imds.internal/hook", "imds.internal", "169.254.169.254"},
		{"https://imds6.internal:8443/hook", "imds6.internal", "fd00:ec2::254"},
		{"https://mapped.internal/hook", "mapped.internal", "::ffff:169.254.169.254"},

		{"http://127.0.0.1:9/rotate", "", ""},
		{"http://[::1]:9/rotate", "", ""},
		{"http://rotator.local/rotate", "", ""},
		{"https://svc.corp.test/hook", "", ""},
		{"https://not-yet.corp.test/hook", "", ""}, // does not resolve now: the dialer checks later
		{"::not a url", "", ""},
	}
	for _, tt := range tests {
		err := CheckURL(context.Background(), r, tt.url)
		var be *BlockedError
		switch {
		case tt.host == "" && err != nil:
			t.Errorf("CheckURL(%s) = %v, want nil", tt.url, err)
		case tt.host != "" && !errors.As(err, &be):
			t.Errorf("CheckURL(%s) = %v, want a *BlockedError", tt.url, err)
		case tt.host != "" && (be.Host != tt.host || be.Addr != netip.MustParseAddr(tt.addr)):
			t.Errorf("CheckURL(%s) refused host %q address %s, want %q %s", tt.url, be.Host, be.Addr, tt.host, tt.addr)
		case tt.host != "" && !strings.Contains(err.Error(), tt.host):
			t.Errorf("CheckURL(%s): message %q does not name the host", tt.url, err)
		}
	}
}

// TestDNSRebindingRefusedAtSend: a name that resolved to loopback when the
// endpoint was created, and to a metadata address when keyward calls it, is
// refused by the dialer before anything is sent. Names resolve through a
// DNS server in the test (no real DNS) and the allowed endpoint is on
// loopback; the refused addresses are never connected to.
func TestDNSRebindingRefusedAtSend(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	hookURL := "http://rebind.test:" + port + "/hook"

	dns := &fakeDNS{}
	dns.answer.Store(&[]netip.Addr{netip.MustParseAddr("127.0.0.1")})
	r := dns.resolver()

	if err := CheckURL(context.Background(), r, hookURL); err != nil {
		t.Fatalf("at create, resolving to loopback: %v", err)
	}
	send := func() (int, error) {
		// A client per call, as if time had passed: a pooled connection
		// would still go to the first address, which is safe but not
		// what this test is about.
		resp, err := newClient(5*time.Second, r, nil).Post(hookURL, "application/json", strings.NewReader("{}"))
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if status, err := send(); err != nil || status != http.StatusOK {
		t.Fatalf("first send to loopback: %d %v", status, err)
	}
	for _, evil := range []string{"169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254", "fe80::1", "64:ff9b::a9fe:a9fe"} {
		dns.answer.Store(&[]netip.Addr{netip.MustParseAddr(evil)})
		if _, err := send(); !errors.Is(err, errBlockedAddress) {
			t.Errorf("send after rebinding to %s: %v, want errBlockedAddress", evil, err)
		}
		// Through Post, the dispatcher's and rotator's call: a failure.
		if status, err := Post(context.Background(), newClient(5*time.Second, r, nil), hookURL, []byte("whsec_x"), nil, []byte("{}"), time.Now()); err == nil || status != 0 {
			t.Errorf("Post after rebinding to %s: %d %v, want a failure", evil, status, err)
		}
		var be *BlockedError
		if err := CheckURL(context.Background(), r, hookURL); !errors.As(err, &be) || be.Host != "rebind.test" {
			t.Errorf("CheckURL after rebinding to %s: %v", evil, err)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("endpoint reached %d times, want once (before rebinding)", n)
	}
	if dns.queries.Load() == 0 {
		t.Errorf("the fake DNS server was never asked: the test resolved elsewhere")
	}
}

// fakeDNS answers every A and AAAA query with the addresses in answer, over
// an in-memory connection (DNS over TCP framing: a 2-byte length first).
type fakeDNS struct {
	answer  atomic.Pointer[[]netip.Addr]
	queries atomic.Int32
}

func (d *fakeDNS) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		client, server := net.Pipe()
		go d.serve(server)
		return client, nil
	}}
}

func (d *fakeDNS) serve(c net.Conn) {
	defer c.Close()
	var once sync.Once
	for {
		var n [2]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			return
		}
		q := make([]byte, binary.BigEndian.Uint16(n[:]))
		if _, err := io.ReadFull(c, q); err != nil {
			return
		}
		once.Do(func() { d.queries.Add(1) })
		resp := d.respond(q)
		if resp == nil {
			return
		}
		out := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
		if _, err := c.Write(append(out, resp...)); err != nil {
			return
		}
	}
}

// respond builds the answer to query q: its ID and question, and one record
// per address of the asked type.
func (d *fakeDNS) respond(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	end := 12
	for end < len(q) && q[end] != 0 {
		end += int(q[end]) + 1
	}
	end += 5 // the root label, QTYPE, QCLASS
	if end > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[end-4:])
	var records [][]byte
	for _, a := range *d.answer.Load() {
		switch {
		case qtype == 1 && a.Is4():
			b := a.As4()
			records = append(records, b[:])
		case qtype == 28 && a.Is6():
			b := a.As16()
			records = append(records, b[:])
		}
	}
	resp := append([]byte(nil), q[:2]...) // ID
	resp = append(resp, 0x81, 0x80, 0, 1) // response, recursion; one question
	resp = binary.BigEndian.AppendUint16(resp, uint16(len(records)))
	resp = append(resp, 0, 0, 0, 0)   // no authority, no additional
	resp = append(resp, q[12:end]...) // the question
	for _, rd := range records {
		resp = append(resp, 0xc0, 12) // the name: a pointer to the question's
		resp = binary.BigEndian.AppendUint16(resp, qtype)
		resp = append(resp, 0, 1, 0, 0, 0, 0) // class IN, TTL 0
		resp = binary.BigEndian.AppendUint16(resp, uint16(len(rd)))
		resp = append(resp, rd...)
	}
	return resp
}

package server_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
	"github.com/keyward/keyward/mockupstream"
	"github.com/keyward/keyward/server"
)

// cutProxy forwards TCP connections to target until cut: then it closes
// every connection and refuses new ones, as a database that went away
// would, until restored. Loopback only.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]struct{}
}

func newCutProxy(t testing.TB, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { ln.Close(); p.setCut(true) })
	go p.serve()
	return p
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

// setCut cuts (closing every open connection) or restores the link.
func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		p.conns = map[net.Conn]struct{}{}
	}
}

// TestClusterSurvivesADatabaseOutage: two nodes reach PostgreSQL through a
// link the test cuts. While it is down the gateways serve from memory (a
// key revoked before the outage stays refused, a good one is admitted),
// the admin API answers 503 with Retry-After, and /readyz says not ready.
// Once the link is back both nodes recover on their own: admin calls
// work, the change feed has resynchronized, and a change made then is
// enforced on both.
func TestClusterSurvivesADatabaseOutage(t *testing.T) {
	base := clusterURL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCutProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	dbURL := u.String()

	first := start(t, server.Config{DatabaseURL: dbURL})
	second := start(t, server.Config{DatabaseURL: dbURL, KeyringURL: "file://" + filepath.Join(first.dir, server.MasterKeyFile)})
	second.client = httpapi.NewClient(second.srv.AdminURL(), first.token, nil)
	nodes := []*running{first, second}
	ctx := context.Background()
	up := httptest.NewServer(mockupstream.Handler())
	t.Cleanup(up.Close)
	if _, err := first.client.CreateAPI(ctx, keyward.APICreate{Name: "chat", OpenAICompatible: true,
		Stages: []keyward.Stage{{Name: "prod", UpstreamURL: up.URL}}}); err != nil {
		t.Fatal(err)
	}
	stage := []keyward.StageKey{{APIID: "chat", Stage: "prod"}}
	good, err := first.client.CreateKey(ctx, keyward.KeyCreate{Name: "good", StageKeys: stage})
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := first.client.CreateKey(ctx, keyward.KeyCreate{Name: "revoked", StageKeys: stage})
	if err != nil {
		t.Fatal(err)
	}
	// Both keys are known on both nodes before anything else: an unknown
	// key is refused too, so without this a revocation could look
	// enforced, and a node cut off before the feed brought it the good
	// key would refuse that (under load it did).
	for _, n := range nodes {
		for _, v := range []string{good.Value, revoked.Value} {
			eventually(t, "the keys are served", func() bool { return chat(t, n.srv.GatewayURL(), v) == 200 })
		}
	}
	off := false
	if _, err := second.client.UpdateKey(ctx, revoked.Key.ID, keyward.KeyUpdate{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		eventually(t, "the revocation is enforced", func() bool { return chat(t, n.srv.GatewayURL(), revoked.Value) == 401 })
	}

	proxy.setCut(true)
	for i, n := range nodes {
		if got := chat(t, n.srv.GatewayURL(), good.Value); got != 200 {
			t.Errorf("node %d during the outage: the good key got %d", i, got)
		}
		if got := chat(t, n.srv.GatewayURL(), revoked.Value); got != 401 {
			t.Errorf("node %d during the outage: the revoked key got %d", i, got)
		}
	}
	// An admin write: 503 with Retry-After (a fresh token, so that no
	// cache answers for the database).
	req, _ := http.NewRequest(http.MethodPost, first.srv.AdminURL()+"/v1/keys", strings.NewReader(`{"name":"during"}`))
	req.Header.Set("Authorization", "Bearer "+first.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("an admin write during the outage: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	eventually(t, "/readyz says not ready", func() bool { return status(t, first.srv.AdminURL()+"/readyz") == 503 })

	proxy.setCut(false)
	eventually(t, "the admin API recovers", func() bool {
		_, err := first.client.CreateKey(ctx, keyward.KeyCreate{Name: "after"})
		return err == nil
	})
	for _, n := range nodes {
		eventually(t, "/readyz recovers", func() bool { return status(t, n.srv.AdminURL()+"/readyz") == 200 })
		// The feed lost its connection: it came back and had the node
		// reload everything, and says so.
		if m := metricsText(t, n.srv.AdminURL()); !strings.Contains(m, "keyward_cluster_feed_resyncs_total 1") || !strings.Contains(m, "keyward_cluster_feed_listening 1") {
			t.Errorf("cluster metrics after the outage:\n%s", grepLines(m, "keyward_cluster_"))
		}
	}
	on := true
	if _, err := second.client.UpdateKey(ctx, revoked.Key.ID, keyward.KeyUpdate{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		eventually(t, "a change after the outage is enforced", func() bool { return chat(t, n.srv.GatewayURL(), revoked.Value) == 200 })
	}
}

func status(t testing.TB, u string) int {
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func metricsText(t testing.TB, adminURL string) string {
	resp, err := http.Get(adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

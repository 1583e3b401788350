package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
	"github.com/keyward/keyward/internal/testpg"
	"github.com/keyward/keyward/mockupstream"
	"github.com/keyward/keyward/server"
)

// clusterURL is a URL of the machine's PostgreSQL whose tables live in a
// fresh schema, dropped after the test (testpg.SchemaURL).
func clusterURL(t testing.TB) string { return testpg.SchemaURL(t) }

// startCluster starts n nodes on one database, all with the first node's
// keyring (its master key file), as an operator would deploy them.
func startCluster(t testing.TB, n int) []*running {
	return startClusterWith(t, n, server.Config{})
}

// startClusterWith is startCluster with more settings for every node (and
// its own database, when base names one).
func startClusterWith(t testing.TB, n int, base server.Config) []*running {
	t.Helper()
	cfg := base
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = clusterURL(t)
	}
	first := start(t, cfg)
	nodes := []*running{first}
	cfg.KeyringURL = "file://" + filepath.Join(first.dir, server.MasterKeyFile)
	for range n - 1 {
		r := start(t, cfg)
		if r.token != "" {
			t.Fatalf("a later node wrote a bootstrap token too")
		}
		r.token = first.token
		r.client = httpapi.NewClient(r.srv.AdminURL(), first.token, nil)
		nodes = append(nodes, r)
	}
	return nodes
}

// TestClusterEnforcesChangesOnEveryNode: three nodes on one PostgreSQL.
// A key created through one node is admitted by every node's gateway; a
// disable made through another node is enforced by all three (the change
// feed); the bootstrap admin exists once; exactly one node leads.
func TestClusterEnforcesChangesOnEveryNode(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx := context.Background()
	up := httptest.NewServer(mockupstream.Handler())
	t.Cleanup(up.Close)
	if _, err := nodes[0].client.CreateAPI(ctx, keyward.APICreate{Name: "chat", OpenAICompatible: true,
		Stages: []keyward.Stage{{Name: "prod", UpstreamURL: up.URL}}}); err != nil {
		t.Fatal(err)
	}
	created, err := nodes[1].client.CreateKey(ctx, keyward.KeyCreate{Name: "k",
		StageKeys: []keyward.StageKey{{APIID: "chat", Stage: "prod"}}})
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		eventually(t, fmt.Sprintf("node %d admits the key", i), func() bool { return chat(t, n.srv.GatewayURL(), created.Value) == 200 })
	}
	off := false
	if _, err := nodes[2].client.UpdateKey(ctx, created.Key.ID, keyward.KeyUpdate{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		eventually(t, fmt.Sprintf("node %d refuses the disabled key", i), func() bool { return chat(t, n.srv.GatewayURL(), created.Value) == 401 })
	}
	// Without Redis, each node says at start that its limits are its own.
	for i, n := range nodes {
		if !strings.Contains(n.logs.String(), "each node enforces usage plans on its own") {
			t.Errorf("node %d does not warn that limits are per node without Redis", i)
		}
	}
	eventually(t, "one leader", func() bool {
		leaders := 0
		for _, n := range nodes {
			if n.srv.Leading() {
				leaders++
			}
		}
		return leaders == 1
	})
	// /readyz says which node leads, and that each listens.
	leaders := 0
	for i, n := range nodes {
		resp, err := http.Get(n.srv.AdminURL() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Node httpapi.NodeState `json:"node"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || body.Node.Store != "postgres" || body.Node.ChangeFeed != "listening" {
			t.Errorf("node %d /readyz: %+v %v", i, body.Node, err)
		}
		if body.Node.Leader {
			leaders++
		}
	}
	if leaders != 1 {
		t.Errorf("/readyz names %d leaders", leaders)
	}
	ps, _, err := nodes[0].client.ListPrincipals(ctx, keyward.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 {
		t.Fatalf("%d principals after three starts, want the one bootstrap admin", len(ps))
	}
}

// TestClusterAuditStaysIntact: the three nodes write at once (keys created
// through each), and the one audit log still verifies, every record in
// sequence.
func TestClusterAuditStaysIntact(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 3*20)
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				if _, err := n.client.CreateKey(ctx, keyward.KeyCreate{Name: fmt.Sprintf("n%d-%d", i, j)}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, n := range nodes {
		v, err := n.client.VerifyAudit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// What the leader has not signed yet is checked by its tail tags.
		if !v.OK || v.Verified+v.TailRecords != v.Records || (v.TailRecords > 0 && !v.TailTagged) || v.Records < 60 {
			t.Fatalf("node %d: audit verification %+v", i, v)
		}
	}
	keys, _, err := nodes[0].client.ListKeys(ctx, keyward.KeyFilter{Page: keyward.Page{Limit: 100}})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 60 {
		t.Fatalf("%d keys, want 60", len(keys))
	}
}

// TestClusterLeaderFailover: when the leading node goes away (its
// connections end, as they do when the process is killed), another node
// takes over the background work.
func TestClusterLeaderFailover(t *testing.T) {
	nodes := startCluster(t, 3)
	var leader *running
	eventually(t, "a leader", func() bool {
		for _, n := range nodes {
			if n.srv.Leading() {
				leader = n
				return true
			}
		}
		return false
	})
	// Every node has tried the lock by now (each tries as it starts,
	// then every 2 s): the takeover below is a follower's retry.
	time.Sleep(2500 * time.Millisecond)
	stopped := time.Now()
	leader.stop()
	defer func() { t.Logf("another node led %v after the leader stopped", time.Since(stopped)) }()
	eventually(t, "another node leads", func() bool {
		for _, n := range nodes {
			if n != leader && n.srv.Leading() {
				return true
			}
		}
		return false
	})
}

// TestClusterForgetsARevokedTokenAtOnce: a token that another node has
// used (and cached) stops working there as soon as its principal is
// deleted through the first node: the access change travels on the feed,
// well before the auth cache's 5-second bound.
func TestClusterForgetsARevokedTokenAtOnce(t *testing.T) {
	nodes := startCluster(t, 2)
	ctx := context.Background()
	p, err := nodes[0].client.CreatePrincipal(ctx, keyward.PrincipalCreate{Name: "ci-reader", Roles: []string{"reader"}})
	if err != nil {
		t.Fatal(err)
	}
	other := httpapi.NewClient(nodes[1].srv.AdminURL(), p.Token, nil)
	if _, _, err := other.ListKeys(ctx, keyward.KeyFilter{}); err != nil {
		t.Fatalf("the new token on the other node: %v", err)
	}
	if err := nodes[0].client.DeletePrincipal(ctx, "ci-reader"); err != nil {
		t.Fatal(err)
	}
	deleted := time.Now()
	for {
		_, _, err := other.ListKeys(ctx, keyward.KeyFilter{})
		if keyward.ErrorCode(err) == keyward.EUNAUTHORIZED {
			t.Logf("refused on the other node %v after the deletion", time.Since(deleted))
			return
		}
		if time.Since(deleted) > 3*time.Second {
			t.Fatalf("the deleted principal's token still works on the other node after 3 s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// On PostgreSQL a batch keeps its writes back and runs again, statement by
// statement, when one of them fails: an import's bad row is still reported
// by its line, and the batch leaves nothing behind, while other creates
// share its batches.
func TestClusterImportReportsTheBadRowsLine(t *testing.T) {
	nodes := startCluster(t, 1)
	ctx := context.Background()
	c := nodes[0].client
	value := func(i int) string { return fmt.Sprintf("sk-cluster-import-%04d-abcdefghij", i) }
	var rows []keyward.KeyImportRow
	for i := range 5 {
		rows = append(rows, keyward.KeyImportRow{Line: i + 2, Name: fmt.Sprintf("k%d", i), Value: value(i)})
	}
	if _, err := c.ImportKeys(ctx, keyward.KeyImport{Rows: rows}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 { // creates sharing the import's batches
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := c.CreateKey(ctx, keyward.KeyCreate{Name: "beside"}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for round := range 10 {
		var bad []keyward.KeyImportRow
		for i := range 20 {
			bad = append(bad, keyward.KeyImportRow{Line: i + 2, Name: "b", Value: value(100*(round+1) + i)})
		}
		bad[11].Value = value(3) // line 13: a value already in use
		_, err := c.ImportKeys(ctx, keyward.KeyImport{Rows: bad})
		if keyward.ErrorCode(err) != keyward.ECONFLICT || !strings.Contains(err.Error(), "line 13:") {
			t.Fatalf("round %d: a value in use at line 13: %v", round, err)
		}
	}
	close(stop)
	wg.Wait()
	keys, _, err := c.ListKeys(ctx, keyward.KeyFilter{NamePrefix: "b", Page: keyward.Page{Limit: 100}})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.Name == "b" {
			t.Fatalf("a failed import left key %s behind", k.ID)
		}
	}
}

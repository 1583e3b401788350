package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/mockupstream"
	"github.com/keyward/keyward/server"
	"github.com/keyward/keyward/webhook/webhooktest"
)

// TestNothingWrittenHoldsAnIssuedValue issues keys (generated, recoverable,
// imported, delivered to a secret), admin tokens and secrets, provokes errors
// that involve them, then searches everything the system wrote (database
// and WAL files, logs, the JSONL audit file, the audit API, /metrics) for
// every value it issued or was given.
func TestNothingWrittenHoldsAnIssuedValue(t *testing.T) {
	auditFile := filepath.Join(t.TempDir(), "audit.jsonl")
	r := start(t, server.Config{AuditFile: auditFile, GatewayKeyLabels: true})
	ctx := context.Background()
	c := r.client
	var values [][]byte
	issued := func(v string) { values = append(values, []byte(v)) }

	api, err := c.CreateAPI(ctx, keyward.APICreate{Name: "chat", Stages: []keyward.Stage{{Name: "prod", UpstreamURL: "http://127.0.0.1:9"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []keyward.KeyCreate{
		{Name: "plain", StageKeys: []keyward.StageKey{{APIID: api.ID, Stage: "prod"}}},
		{Name: "recoverable", Recoverable: true},
		{Name: "imported", Value: "imported-custom-value-Zq81x"},
		{Name: "recoverable-imported", Value: "imported-recoverable-Kx92z", Recoverable: true},
	} {
		ck, err := c.CreateKey(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		issued(ck.Value)
		if in.Recoverable {
			v, err := c.ReadKeyValue(ctx, ck.Key.ID)
			if err != nil || v != ck.Value {
				t.Fatalf("read value: %v", err)
			}
		}
	}
	if _, err := c.CreateKey(ctx, keyward.KeyCreate{Name: "dup", Value: "imported-custom-value-Zq81x"}); keyward.ErrorCode(err) != keyward.ECONFLICT {
		t.Fatalf("duplicate import: %v", err)
	}
	// Bulk import: a batch that lands, one that fails on a short value,
	// one that fails on a duplicate.
	bulk := []keyward.KeyImportRow{{Line: 2, Name: "bulk-1", Value: "bulk-imported-value-Qw19a"}, {Line: 3, Name: "bulk-2", Value: "bulk-imported-value-Er28b"}}
	if _, err := c.ImportKeys(ctx, keyward.KeyImport{Rows: bulk}); err != nil {
		t.Fatal(err)
	}
	issued("bulk-imported-value-Qw19a")
	issued("bulk-imported-value-Er28b")
	if _, err := c.ImportKeys(ctx, keyward.KeyImport{Rows: []keyward.KeyImportRow{{Line: 2, Name: "ok", Value: "bulk-unwritten-value-Ty37c"}, {Line: 3, Name: "short", Value: "bulk-short-Ui46"}}}); keyward.ErrorCode(err) != keyward.EINVALID {
		t.Fatalf("import with a short value: %v", err)
	}
	issued("bulk-unwritten-value-Ty37c")
	issued("bulk-short-Ui46")
	if _, err := c.ImportKeys(ctx, keyward.KeyImport{Rows: []keyward.KeyImportRow{{Line: 9, Name: "dup", Value: "bulk-imported-value-Qw19a"}}}); keyward.ErrorCode(err) != keyward.ECONFLICT {
		t.Fatalf("import of a used value: %v", err)
	}
	pipeline, err := c.CreateKey(ctx, keyward.KeyCreate{Name: "pipeline", StoreSecret: "pipeline/key"})
	if err != nil {
		t.Fatal(err)
	}
	sv, err := c.GetSecretValue(ctx, "pipeline/key", keyward.SecretSelector{})
	if err != nil {
		t.Fatal(err)
	}
	issued(string(sv.Value))

	if _, err := c.CreateSecret(ctx, keyward.SecretCreate{Name: "vendor/openai", Value: []byte("sk-vendor-secret-0001-abcdef")}); err != nil {
		t.Fatal(err)
	}
	issued("sk-vendor-secret-0001-abcdef")
	bin := []byte{0xde, 0xad, 0xbe, 0xef, 'b', 'i', 'n', 'a', 'r', 'y', '-', 's', 'e', 'c', 'r', 'e', 't', 0x01, 0x02}
	if _, err := c.PutSecretValue(ctx, "vendor/openai", keyward.SecretPut{Value: bin, Binary: true, ClientToken: "bin-1"}); err != nil {
		t.Fatal(err)
	}
	values = append(values, bin)
	if _, err := c.PutSecretValue(ctx, "vendor/openai", keyward.SecretPut{Value: []byte("sk-other-value-for-conflict"), ClientToken: "bin-1"}); keyward.ErrorCode(err) != keyward.ECONFLICT {
		t.Fatalf("conflicting put: %v", err)
	}
	issued("sk-other-value-for-conflict")
	if _, err := c.GetSecretValue(ctx, "vendor/openai", keyward.SecretSelector{Stage: keyward.StagePrevious}); err != nil {
		t.Fatal(err)
	}
	cp, err := c.CreatePrincipal(ctx, keyward.PrincipalCreate{Name: "ci", Roles: []string{"deployer"}})
	if err != nil {
		t.Fatal(err)
	}
	issued(cp.Token)
	tok, _, err := c.CreateToken(ctx, "ci")
	if err != nil {
		t.Fatal(err)
	}
	issued(tok)
	issued(r.token)

	// Gateway traffic: good keys, bad keys, keys in odd places, and an
	// upstream that receives the vendor key from a secret.
	up := httptest.NewServer(mockupstream.Handler())
	defer up.Close()
	if _, err := c.CreateSecret(ctx, keyward.SecretCreate{Name: "vendor/live", Value: []byte("sk-live-upstream-0002-xyzzy")}); err != nil {
		t.Fatal(err)
	}
	issued("sk-live-upstream-0002-xyzzy")
	live, err := c.CreateAPI(ctx, keyward.APICreate{Name: "live", OpenAICompatible: true,
		Stages: []keyward.Stage{{Name: "prod", UpstreamURL: up.URL, UpstreamSecret: "vendor/live"}}})
	if err != nil {
		t.Fatal(err)
	}
	gk, err := c.CreateKey(ctx, keyward.KeyCreate{Name: "gateway-user", StageKeys: []keyward.StageKey{{APIID: live.ID, Stage: "prod"}},
		Scopes: keyward.Scopes{Models: []string{"gpt-4o-mini"}}})
	if err != nil {
		t.Fatal(err)
	}
	issued(gk.Value)
	if err := r.srv.Gateway().Reload(ctx); err != nil {
		t.Fatal(err)
	}
	gw := r.srv.GatewayURL() + "/live/prod/v1/chat/completions"
	for i, tc := range []struct {
		hdr  [2]string
		url  string
		body string
		want int
	}{
		{[2]string{"X-Api-Key", gk.Value}, gw, `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true}}`, 200},
		{[2]string{"Authorization", "Bearer " + gk.Value}, gw, `{"model":"gpt-4o-mini"}`, 200},
		{[2]string{"X-Api-Key", gk.Value}, gw, `{"model":"gpt-5"}`, 403},
		{[2]string{"X-Api-Key", gk.Value}, gw, `{"model":"gpt-4o-mini","model":"x"}`, 400},
		{[2]string{"X-Api-Key", gk.Value[:len(gk.Value)-2]}, gw, `{"model":"gpt-4o-mini"}`, 401},
		{[2]string{"X-Api-Key", "imported-custom-value-Zq81x"}, gw, `{"model":"gpt-4o-mini"}`, 403},
		{[2]string{"X-Api-Key", gk.Value + "\tjunk"}, gw, `{"model":"gpt-4o-mini"}`, 401},
		{[2]string{"X-Other", "x"}, gw + "?api_key=" + gk.Value, `{"model":"gpt-4o-mini"}`, 401},
		{[2]string{"X-Api-Key", gk.Value}, r.srv.GatewayURL() + "/nope/prod/" + gk.Value, ``, 404},
	} {
		req, _ := http.NewRequest("POST", tc.url, strings.NewReader(tc.body))
		req.Header.Set(tc.hdr[0], tc.hdr[1])
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("gateway call %d: %d %s, want %d", i, resp.StatusCode, body, tc.want)
		}
		if bytes.Contains(body, []byte(gk.Value)) || bytes.Contains(body, []byte("sk-live-upstream")) {
			t.Errorf("gateway call %d echoes a value", i)
		}
	}

	// Rotation: a shown-once new value, a new value delivered to a secret,
	// a webhook signing secret, and notifications sent for real.
	recv := webhooktest.NewReceiver(t, nil)
	wh, err := c.CreateWebhook(ctx, keyward.WebhookCreate{URL: recv.URL() + "/hook"})
	if err != nil {
		t.Fatal(err)
	}
	recv.SetSecret([]byte(wh.Secret))
	issued(wh.Secret)
	rk, err := c.RotateKey(ctx, gk.Key.ID, keyward.KeyRotate{ClientToken: "leak-1"})
	if err != nil || rk.Value == "" {
		t.Fatalf("rotate: %v", err)
	}
	issued(rk.Value)
	if _, err := c.RotateKey(ctx, pipeline.Key.ID, keyward.KeyRotate{}); err != nil {
		t.Fatal(err)
	}
	if sv, err = c.GetSecretValue(ctx, "pipeline/key", keyward.SecretSelector{}); err != nil {
		t.Fatal(err)
	}
	issued(string(sv.Value))
	if _, err := c.RotateKey(ctx, gk.Key.ID, keyward.KeyRotate{ClientToken: "leak-1"}); err != nil {
		t.Fatal(err) // a replay: the value is not shown again, nor written anywhere
	}
	for _, ev := range recv.WaitEvents(2, 10*time.Second) {
		for _, v := range values {
			if bytes.Contains(ev.Body, v) {
				t.Errorf("webhook %s carries an issued value", ev.Type)
			}
		}
	}

	var metrics []byte
	if resp, err := http.Get(r.srv.AdminURL() + "/metrics"); err == nil {
		metrics, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	recs, err := c.ListAudit(ctx, keyward.AuditFilter{Limit: 1000})
	if err != nil || len(recs) < 10 {
		t.Fatalf("audit: %d records, %v", len(recs), err)
	}
	r.stop()

	places := map[string][]byte{"logs": []byte(r.logs.String()), "metrics": metrics}
	for _, rec := range recs {
		places["audit API"] = append(places["audit API"], rec.Event...)
	}
	for _, root := range []string{r.dir, filepath.Dir(auditFile)} {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if filepath.Base(path) == server.BootstrapTokenFile {
				return nil // the one place the bootstrap token is meant to be, 0600
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			places[path] = b
			return nil
		})
	}
	if len(places[auditFile]) == 0 {
		t.Fatal("the JSONL audit sink wrote nothing")
	}
	for where, content := range places {
		for _, v := range values {
			for _, form := range [][]byte{v, []byte(base64.StdEncoding.EncodeToString(v)), []byte(base64.RawURLEncoding.EncodeToString(v))} {
				if bytes.Contains(content, form) {
					t.Errorf("%s holds an issued value (%d bytes)", where, len(v))
				}
			}
		}
	}
	t.Logf("searched %d places for %d values", len(places), len(values))
}

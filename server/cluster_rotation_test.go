package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
	"github.com/keyward/keyward/mockupstream"
	"github.com/keyward/keyward/server"
)

// TestClusterRotationResumesOnAnotherNode: node A runs a key rotation and
// stops dead after its setSecret step (the new value is in the secret,
// the key's PENDING credential is not tested yet); A then goes away. Node
// B's scheduler sees the rotation untouched by A's heartbeat, takes it
// over and finishes it, exactly once: one CURRENT (the secret's new
// value, admitted by B's gateway), one PREVIOUS (the old value, within
// its grace), one rotation, and the audit log verifies.
func TestClusterRotationResumesOnAnotherNode(t *testing.T) {
	url := clusterURL(t)
	stalled := make(chan *keyward.Rotation, 1)
	// Node A is started by hand: it cannot shut down cleanly (its rotate
	// call never ends), which start would report as a failure.
	aCtx, killA := context.WithCancel(context.Background())
	aDir := t.TempDir()
	aSrv, err := server.Open(aCtx, server.Config{DataDir: aDir, AdminAddr: "127.0.0.1:0", GatewayAddr: "127.0.0.1:0",
		DatabaseURL: url, LogLevel: "error", AfterRotationStep: func(ctx context.Context, r *keyward.Rotation) {
			if r.Kind == keyward.RotationKey && r.Step == keyward.StepSet {
				stalled <- r
				select {} // dead here, as a process killed between two steps
			}
		}}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	aDone := make(chan struct{})
	go func() { _ = aSrv.Run(aCtx); aSrv.Close(); close(aDone) }()
	token, err := readToken(aSrv)
	if err != nil {
		t.Fatal(err)
	}
	a := &running{srv: aSrv, dir: aDir, token: token}
	a.client = httpapi.NewClient(aSrv.AdminURL(), a.token, nil)
	b := start(t, server.Config{DatabaseURL: url, RotationCheckInterval: 200 * time.Millisecond,
		KeyringURL: "file://" + filepath.Join(a.dir, server.MasterKeyFile)})
	b.client = httpapi.NewClient(b.srv.AdminURL(), a.token, nil)
	ctx := context.Background()
	up := httptest.NewServer(mockupstream.Handler())
	t.Cleanup(up.Close)
	if _, err := a.client.CreateAPI(ctx, keyward.APICreate{Name: "chat", OpenAICompatible: true,
		Stages: []keyward.Stage{{Name: "prod", UpstreamURL: up.URL}}}); err != nil {
		t.Fatal(err)
	}
	ck, err := a.client.CreateKey(ctx, keyward.KeyCreate{Name: "pipeline", StoreSecret: "ci/key",
		StageKeys: []keyward.StageKey{{APIID: "chat", Stage: "prod"}}})
	if err != nil {
		t.Fatal(err)
	}
	oldValue := readSecret(t, b.client, "ci/key", keyward.StageCurrent)
	grace := keyward.Duration(time.Hour)
	go func() { _, _ = a.client.RotateKey(ctx, ck.Key.ID, keyward.KeyRotate{Grace: &grace}) }()
	var rot *keyward.Rotation
	select {
	case rot = <-stalled:
	case <-time.After(20 * time.Second):
		t.Fatal("node A did not reach setSecret")
	}
	killA() // A goes away (its in-flight rotate call never ends)
	<-aDone
	took := time.Now()
	var got *keyward.Rotation
	for deadline := time.Now().Add(120 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		rots, _, err := b.client.ListKeyRotations(ctx, ck.Key.ID, keyward.RotationFilter{})
		if err == nil && len(rots) > 0 && rots[0].State != keyward.RotationInProgress {
			got = rots[0]
			if len(rots) != 1 {
				t.Fatalf("%d rotations of the key, want the one", len(rots))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("node B did not take the rotation over within 120 s")
		}
	}
	t.Logf("node B finished the rotation %v after node A went away", time.Since(took).Round(100*time.Millisecond))
	if got.ID != rot.ID || got.State != keyward.RotationSucceeded {
		t.Fatalf("rotation %s: %s (%s), want %s SUCCEEDED", got.ID, got.State, got.Error, rot.ID)
	}
	k, err := b.client.GetKey(ctx, ck.Key.ID)
	if err != nil {
		t.Fatal(err)
	}
	count := map[keyward.CredentialLabel]int{}
	for _, cr := range k.Credentials {
		count[cr.Label]++
	}
	if count[keyward.LabelCurrent] != 1 || count[keyward.LabelPrevious] != 1 || len(k.Credentials) != 2 {
		t.Fatalf("credentials after the takeover: %+v", k.Credentials)
	}
	newValue := readSecret(t, b.client, "ci/key", keyward.StageCurrent)
	if newValue == oldValue || readSecret(t, b.client, "ci/key", keyward.StagePrevious) != oldValue {
		t.Fatal("the secret's labels did not move with the key's")
	}
	for _, v := range []string{newValue, oldValue} {
		eventually(t, "B's gateway admits the new and the previous value", func() bool {
			return chat(t, b.srv.GatewayURL(), v) == http.StatusOK
		})
	}
	if v, err := b.client.VerifyAudit(ctx); err != nil || !v.OK {
		t.Fatalf("audit after the takeover: %+v %v", v, err)
	}
}

func readSecret(t *testing.T, c *httpapi.Client, name, stage string) string {
	t.Helper()
	v, err := c.GetSecretValue(context.Background(), name, keyward.SecretSelector{Stage: stage})
	if err != nil {
		t.Fatal(err)
	}
	return string(v.Value)
}

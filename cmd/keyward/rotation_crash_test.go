package main

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
	"github.com/keyward/keyward/mockupstream"
)

// TestRotationSurvivesKill9AtEachStep stops a real server process with
// SIGKILL right after each step of a key rotation has committed, restarts
// it on the same data directory, and checks that the rotation was resumed
// or rolled back cleanly: one CURRENT credential, no PENDING left, and a
// value that opens the key at the gateway wherever the caller can find it
// (the linked secret's CURRENT); the old value keeps working (as PREVIOUS
// within its grace, or as CURRENT after a roll back); the audit chain
// verifies.
func TestRotationSurvivesKill9AtEachStep(t *testing.T) {
	bin, stalling := testCommand(t, "keyward"), testCommand(t, "keyward-stalling")
	upstream := httptest.NewServer(mockupstream.Handler())
	t.Cleanup(upstream.Close)
	cases := []struct {
		step        keyward.RotationStep
		toSecret    bool
		recoverable bool
		wantState   keyward.RotationState
	}{
		{keyward.StepCreate, true, false, keyward.RotationRolledBack},
		{keyward.StepSet, true, false, keyward.RotationSucceeded},
		{keyward.StepTest, true, false, keyward.RotationSucceeded},
		{keyward.StepFinish, true, false, keyward.RotationSucceeded},
		{keyward.StepSet, false, false, keyward.RotationRolledBack}, // shown once: nobody got the new value
		{keyward.StepTest, false, true, keyward.RotationSucceeded},  // recoverable: the value is sealed in the store
	}
	for _, tc := range cases {
		name := string(tc.step)
		switch {
		case tc.recoverable:
			name += "/recoverable"
		case !tc.toSecret:
			name += "/shown-once"
		}
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			addr, gw := freeAddr(t), freeAddr(t)
			srv, stderr := startStalling(t, stalling, dir, addr, gw, string(tc.step))
			c := httpapi.NewClient("http://"+addr, readFile(t, filepath.Join(dir, "bootstrap-token")), nil)
			ctx := context.Background()
			if _, err := c.CreateAPI(ctx, keyward.APICreate{Name: "chat", OpenAICompatible: true,
				Stages: []keyward.Stage{{Name: "prod", UpstreamURL: upstream.URL}}}); err != nil {
				t.Fatal(err)
			}
			in := keyward.KeyCreate{Name: "pipeline", StageKeys: []keyward.StageKey{{APIID: "chat", Stage: "prod"}}, Recoverable: tc.recoverable}
			if tc.toSecret {
				in.StoreSecret = "ci/key"
			}
			ck, err := c.CreateKey(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			oldValue := ck.Value
			if tc.toSecret {
				oldValue = secretString(t, c, "ci/key", keyward.StageCurrent)
			}
			waitGateway(t, gw, oldValue, http.StatusOK)

			go func() { _, _ = c.RotateKey(ctx, ck.Key.ID, keyward.KeyRotate{Grace: durp(time.Hour)}) }()
			select {
			case <-stderr:
			case <-time.After(20 * time.Second):
				t.Fatal("the server did not reach the step")
			}
			if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = srv.Wait()

			startProcessGateway(t, bin, dir, addr, gw)
			rot := waitKeyRotation(t, c, ck.Key.ID)
			if rot.State != tc.wantState {
				t.Fatalf("rotation after restart: %s (%s), want %s", rot.State, rot.Error, tc.wantState)
			}
			k, err := c.GetKey(ctx, ck.Key.ID)
			if err != nil {
				t.Fatal(err)
			}
			count := map[keyward.CredentialLabel]int{}
			for _, cr := range k.Credentials {
				count[cr.Label]++
			}
			if count[keyward.LabelCurrent] != 1 || count[keyward.LabelPending] != 0 {
				t.Fatalf("credentials after restart: %+v", k.Credentials)
			}
			if tc.wantState == keyward.RotationSucceeded {
				var newValue string
				if tc.toSecret {
					newValue = secretString(t, c, "ci/key", keyward.StageCurrent)
					if secretString(t, c, "ci/key", keyward.StagePrevious) != oldValue {
						t.Fatal("the secret's labels did not move with the key's")
					}
				} else if newValue, err = c.ReadKeyValue(ctx, ck.Key.ID); err != nil {
					t.Fatal(err)
				}
				if newValue == oldValue {
					t.Fatal("no new value")
				}
				waitGateway(t, gw, newValue, http.StatusOK)
				waitGateway(t, gw, oldValue, http.StatusOK) // PREVIOUS, within its grace
				if count[keyward.LabelPrevious] != 1 {
					t.Fatalf("credentials after restart: %+v", k.Credentials)
				}
			} else {
				waitGateway(t, gw, oldValue, http.StatusOK)
				if len(k.Credentials) != 1 {
					t.Fatalf("credentials after roll back: %+v", k.Credentials)
				}
				if tc.toSecret && secretString(t, c, "ci/key", keyward.StageCurrent) != oldValue {
					t.Fatal("roll back must leave the secret's CURRENT alone")
				}
			}
			if v, err := c.VerifyAudit(ctx); err != nil || !v.OK {
				t.Fatalf("audit after kill -9: %+v %v", v, err)
			}
		})
	}
}

func durp(d time.Duration) *keyward.Duration { v := keyward.Duration(d); return &v }

func secretString(t *testing.T, c *httpapi.Client, name, stage string) string {
	t.Helper()
	v, err := c.GetSecretValue(context.Background(), name, keyward.SecretSelector{Stage: stage})
	if err != nil {
		t.Fatalf("secret %s %s: %v", name, stage, err)
	}
	return string(v.Value)
}

// waitKeyRotation waits until the key's newest rotation has ended: the
// restarted server resumes or rolls back in the background.
func waitKeyRotation(t *testing.T, c *httpapi.Client, keyID string) *keyward.Rotation {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		rots, _, err := c.ListKeyRotations(context.Background(), keyID, keyward.RotationFilter{})
		if err == nil && len(rots) > 0 && rots[0].State != keyward.RotationInProgress {
			return rots[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the rotation was neither resumed nor rolled back")
	return nil
}

// waitGateway waits until a chat request with value answers want: the
// gateway loads its table in the background after a start.
func waitGateway(t *testing.T, gw, value string, want int) {
	t.Helper()
	var got int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+gw+"/chat/prod/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer "+value)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue
		}
		resp.Body.Close()
		if got = resp.StatusCode; got == want {
			return
		}
	}
	t.Fatalf("gateway answered %d, want %d", got, want)
}

// startStalling starts keyward-stalling, a server that hangs after the named
// rotation step, and returns a channel told when it says so.
func startStalling(t *testing.T, bin, dir, addr, gw, step string) (*exec.Cmd, <-chan struct{}) {
	t.Helper()
	cmd := exec.Command(bin, "server", "--data-dir", dir, "--admin-addr", addr, "--gateway-addr", gw, "--log-level", "error")
	cmd.Env = append(cmd.Environ(), stallEnv+"="+step)
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	stalled := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "stalled after "+step) {
				close(stalled)
				for sc.Scan() {
				}
				return
			}
		}
	}()
	waitListening(t, cmd)
	return cmd, stalled
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/server"
)

// stallEnv names the rotation step after which keyward-stalling (see
// TestMain) hangs: with setSecret, the server announces on stderr and then
// hangs right after a key rotation's setSecret step commits, so that a test
// can kill -9 it between two steps. Only this test binary reads it.
const stallEnv = "KEYWARD_TEST_STALL_AFTER_ROTATION_STEP"

// stallAfter returns the server adjustment that installs the stall.
func stallAfter(step string) func(cfg *server.Config, stderr io.Writer) {
	return func(cfg *server.Config, stderr io.Writer) {
		if step == "" {
			return
		}
		cfg.AfterRotationStep = func(ctx context.Context, r *keyward.Rotation) {
			if r.Kind == keyward.RotationKey && string(r.Step) == step {
				fmt.Fprintf(stderr, "keyward: stalled after %s of %s\n", step, r.ID)
				select {}
			}
		}
	}
}

// testCommand returns the path of a command TestMain installed in $PATH:
// this test binary, run as that command in a process of its own.
func testCommand(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not in $PATH (TestMain installs it): %v", name, err)
	}
	return path
}

// TestShippedBinaryHasNoFaultHook builds keyward as it ships and checks that
// the crash tests' fault hook is not in it: neither its environment
// variable nor its message.
func TestShippedBinaryHasNoFaultHook(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "keyward")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("KEYWARD_GATEWAY_MAX_BODY")) {
		t.Fatal("the binary lacks a setting it must have: the search below proves nothing")
	}
	for _, s := range []string{"KEYWARD_TEST_STALL", "stalled after"} {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("the shipped binary contains %q", s)
		}
	}
}

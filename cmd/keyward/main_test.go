package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/server"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the txtar scripts run `keyward` in-process (testscript
// re-executes this test binary as the command, found in $PATH). The crash
// tests run the same commands as processes to kill; keyward-stalling is
// keyward with a fault hook that only this test binary has (fault_test.go).
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"keyward":          func() { os.Exit(run(os.Args[1:])) },
		"keyward-stalling": func() { os.Exit(runAdjusted(os.Args[1:], stallAfter(os.Getenv(stallEnv)))) },
	})
}

// TestScripts runs the CLI as a user types it, against a real server on
// 127.0.0.1 with a fresh data directory per script. Scripts see
// KEYWARD_ADDR and KEYWARD_TOKEN (the bootstrap admin), and DATA_DIR.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			dir := filepath.Join(env.WorkDir, ".keyward-data")
			ctx, cancel := context.WithCancel(context.Background())
			srv, err := server.Open(ctx, server.Config{DataDir: dir, AdminAddr: "127.0.0.1:0", GatewayAddr: "127.0.0.1:0", LogLevel: "error",
				CheckpointInterval: 100 * time.Millisecond}, nil)
			if err != nil {
				cancel()
				return err
			}
			done := make(chan error, 1)
			go func() { done <- srv.Run(ctx) }()
			env.Defer(func() { cancel(); <-done; srv.Close() })
			token, err := os.ReadFile(srv.BootstrapTokenPath)
			if err != nil {
				return err
			}
			env.Setenv("KEYWARD_ADDR", srv.AdminURL())
			env.Setenv("KEYWARD_ADDR_HOSTPORT", strings.TrimPrefix(srv.AdminURL(), "http://"))
			env.Setenv("KEYWARD_TOKEN", strings.TrimSpace(string(token)))
			env.Setenv("DATA_DIR", dir)
			env.Setenv("KEYWARD_GATEWAY", srv.GatewayURL())
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){"call": callCmd},
	})
}

// callCmd is `call URL [HEADER=VALUE-FILE...]`: one GET, printing the
// status code and body to stdout. A header's value is read from a file in
// the work directory, so that scripts never put a key value in argv.
func callCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: call URL [HEADER=VALUE-FILE...]")
	}
	req, err := http.NewRequest(http.MethodGet, args[0], nil)
	ts.Check(err)
	for _, h := range args[1:] {
		name, file, ok := strings.Cut(h, "=")
		if !ok {
			ts.Fatalf("header %q is not NAME=FILE", h)
		}
		req.Header.Set(name, strings.TrimSpace(ts.ReadFile(file)))
	}
	resp, err := http.DefaultClient.Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Fprintf(ts.Stdout(), "%d %s\n", resp.StatusCode, body)
	if neg == (resp.StatusCode < 400) {
		ts.Fatalf("status %d", resp.StatusCode)
	}
}

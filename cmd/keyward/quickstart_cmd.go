package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/mockupstream"
	"github.com/keyward/keyward/server"
	"github.com/spf13/cobra"
)

func quickstartCommand() *cobra.Command {
	var dataDir, adminAddr string
	var once bool
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "Start a throw-away keyward with a mock AI upstream, an API, a plan and a key",
		Long: `Start keyward on a temporary data directory, next to a built-in
OpenAI-compatible mock upstream, and create an API, a usage plan and a key so
there is something to look at. Everything lives in the temporary directory;
nothing touches ./keyward-data.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if dataDir == "" {
				dir, err := os.MkdirTemp("", "keyward-quickstart-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				dataDir = dir
			}
			return quickstart(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), dataDir, adminAddr, once)
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "data directory (default: a new temporary directory, removed on exit)")
	cmd.Flags().StringVar(&adminAddr, "admin-addr", "127.0.0.1:7070", "admin API listen address (use 127.0.0.1:0 for any free port)")
	cmd.Flags().BoolVar(&once, "once", false, "set everything up, print it, and exit instead of serving")
	return cmd
}

func quickstart(ctx context.Context, out, logOut io.Writer, dataDir, adminAddr string, once bool) error {
	upstreamLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	upstream := &http.Server{Handler: mockupstream.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go upstream.Serve(upstreamLn)
	defer upstream.Close()
	upstreamURL := "http://" + upstreamLn.Addr().String()

	srv, err := server.Open(ctx, server.Config{DataDir: dataDir, AdminAddr: adminAddr, LogLevel: "warn"}, logOut)
	if err != nil {
		if strings.Contains(err.Error(), "address already in use") {
			return fmt.Errorf("%w (is another keyward running? --admin-addr 127.0.0.1:0 picks a free port)", err)
		}
		return err
	}
	defer srv.Close()
	token, err := os.ReadFile(srv.BootstrapTokenPath)
	if err != nil {
		return fmt.Errorf("quickstart needs a fresh data directory: %w", err)
	}
	svc := srv.Service()
	p, tok, err := svc.Authenticate(ctx, strings.TrimSpace(string(token)))
	if err != nil {
		return err
	}
	ctx2 := keyward.WithCaller(ctx, keyward.Caller{Principal: p, TokenID: tok.ID, SourceIP: "127.0.0.1", UserAgent: "keyward-quickstart"})
	api, err := svc.CreateAPI(ctx2, keyward.APICreate{Name: "demo", OpenAICompatible: true,
		Description: "the quickstart's mock OpenAI-compatible upstream",
		Stages:      []keyward.Stage{{Name: "prod", UpstreamURL: upstreamURL}}})
	if err != nil {
		return err
	}
	plan, err := svc.CreatePlan(ctx2, keyward.PlanCreate{Name: "starter",
		Throttle: &keyward.Throttle{RateLimit: 1, BurstLimit: 2},
		Quota:    &keyward.Quota{Limit: 1000, Period: keyward.PeriodDay},
		Tokens:   &keyward.TokenLimits{PerMinute: 10000, PerDay: 100000, DefaultMaxTokens: 256}})
	if err != nil {
		return err
	}
	created, err := svc.CreateKey(ctx2, keyward.KeyCreate{Name: "quickstart-key", Description: "made by keyward quickstart",
		StageKeys: []keyward.StageKey{{APIID: api.Name, Stage: "prod"}}, PlanIDs: []string{plan.Name},
		Scopes: keyward.Scopes{Models: []string{"gpt-4o-mini"}}})
	if err != nil {
		return err
	}
	tokenPath, _ := filepath.Abs(srv.BootstrapTokenPath)
	fmt.Fprintf(out, `keyward quickstart is running.

  admin API      %s
  mock upstream  %s (OpenAI-compatible: POST /v1/chat/completions)
  data dir       %s (temporary)

Created:
  API   %s (%s), stage prod -> %s
  plan  %s (%s): 1 req/s, burst 2, 1000 req/day, 10k tokens/min
  key   %s (%s), value (shown once): %s

Try, in another shell:
  export KEYWARD_ADDR=%s KEYWARD_TOKEN_FILE=%s
  go run ./cmd/keyward keys list
  go run ./cmd/keyward keys get %s -o json
  go run ./cmd/keyward plans get starter
  echo -n 'sk-vendor-example' | go run ./cmd/keyward secrets create demo/upstream-key --stdin
  go run ./cmd/keyward audit list
  go run ./cmd/keyward audit verify

The gateway that checks that key in front of the upstream is the next piece of
keyward (see the README); this quickstart already holds everything it will
enforce. Stop with Ctrl-C.
`, srv.AdminURL(), upstreamURL, dataDir, api.Name, api.ID, upstreamURL, plan.Name, plan.ID,
		created.Key.Name, created.Key.ID, created.Value, srv.AdminURL(), tokenPath, created.Key.ID)
	if once {
		return nil
	}
	return srv.Run(ctx)
}

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
	var dataDir, adminAddr, gatewayAddr string
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
			err := quickstart(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), server.Config{DataDir: dataDir, AdminAddr: adminAddr, GatewayAddr: gatewayAddr, LogLevel: "warn"}, once)
			return namedByFlags(err, cmd.Flags())
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "data directory (default: a new temporary directory, removed on exit)")
	cmd.Flags().StringVar(&adminAddr, "admin-addr", "127.0.0.1:7070", "admin API listen address (use 127.0.0.1:0 for any free port)")
	cmd.Flags().StringVar(&gatewayAddr, "gateway-addr", "127.0.0.1:8080", "gateway listen address (use 127.0.0.1:0 for any free port)")
	cmd.Flags().BoolVar(&once, "once", false, "set everything up, print it, and exit instead of serving")
	withoutClientFlags(cmd)
	return cmd
}

func quickstart(ctx context.Context, out, logOut io.Writer, cfg server.Config, once bool) error {
	upstreamLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	upstream := &http.Server{Handler: mockupstream.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go upstream.Serve(upstreamLn)
	defer upstream.Close()
	upstreamURL := "http://" + upstreamLn.Addr().String()

	srv, err := server.Open(ctx, cfg, logOut)
	if err != nil {
		if strings.Contains(err.Error(), "address already in use") {
			return fmt.Errorf("%w (is another keyward running? --admin-addr and --gateway-addr 127.0.0.1:0 pick free ports)", err)
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
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(runCtx) }()
	if err := srv.Gateway().Reload(ctx); err != nil {
		return err
	}
	url := srv.GatewayURL() + "/demo/prod/v1/chat/completions"
	tokenPath, _ := filepath.Abs(srv.BootstrapTokenPath)
	fmt.Fprintf(out, `keyward quickstart is running.

  admin API      %s
  gateway        %s
  mock upstream  %s (OpenAI-compatible: POST /v1/chat/completions)
  data dir       %s (temporary)

Created:
  API   %s (%s), stage prod -> %s
  plan  %s (%s): 1 req/s, burst 2, 1000 req/day, 10k tokens/min
  key   %s (%s), model gpt-4o-mini only
        value (shown once): %s

Call the AI API through the gateway, in another shell:
  export KEY='%s'
  # with the key: 200, the mock upstream's completion
  curl -s %s -H "x-api-key: $KEY" -H 'content-type: application/json' \
       -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
  # without it: 403
  curl -s -w ' %%{http_code}\n' %s -d '{"model":"gpt-4o-mini"}'
  # faster than 1 request a second with a burst of 2: the third gets 429
  for i in 1 2 3; do curl -s -o /dev/null -w '%%{http_code}\n' %s -H "x-api-key: $KEY" \
       -H 'content-type: application/json' -d '{"model":"gpt-4o-mini"}'; done

Manage it:
  export KEYWARD_ADDR=%s KEYWARD_TOKEN_FILE=%s
  go run ./cmd/keyward keys list
  go run ./cmd/keyward keys usage %s
  go run ./cmd/keyward plans get starter
  # a new value, same key ID; the old one keeps working for an hour
  go run ./cmd/keyward keys rotate %s --grace 1h
  go run ./cmd/keyward audit verify
`, srv.AdminURL(), srv.GatewayURL(), upstreamURL, cfg.DataDir, api.Name, api.ID, upstreamURL, plan.Name, plan.ID,
		created.Key.Name, created.Key.ID, created.Value, created.Value, url, url, url,
		srv.AdminURL(), tokenPath, created.Key.ID, created.Key.ID)
	codes, err := demoCalls(ctx, url, created.Value)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nChecked just now: with the key %d, without %d, third call in a burst %d.\n", codes[0], codes[1], codes[2])
	if once {
		stopRun()
		return <-runErr
	}
	fmt.Fprintln(out, "Stop with Ctrl-C.")
	return <-runErr
}

// demoCalls makes the quickstart's three example calls: with the key,
// without it, and a burst past the throttle.
func demoCalls(ctx context.Context, url, key string) ([3]int, error) {
	var codes [3]int
	call := func(withKey bool) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		if withKey {
			req.Header.Set("X-Api-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	var err error
	if codes[0], err = call(true); err != nil {
		return codes, err
	}
	if codes[1], err = call(false); err != nil {
		return codes, err
	}
	// The first call took one of the burst of two; two more within the
	// same second: the second of them is over the limit.
	if _, err = call(true); err != nil {
		return codes, err
	}
	codes[2], err = call(true)
	return codes, err
}

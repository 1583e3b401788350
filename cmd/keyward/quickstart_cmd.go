package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/mockupstream"
	"github.com/keyward/keyward/server"
	"github.com/keyward/keyward/tlsconfig"
	"github.com/spf13/cobra"
)

func quickstartCommand() *cobra.Command {
	var dataDir, adminAddr, gatewayAddr string
	var once, withTLS bool
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "Start a throw-away keyward with a mock AI upstream, an API, a plan and a key",
		Long: `Start keyward on a temporary data directory, next to a built-in
OpenAI-compatible mock upstream, and create an API, a usage plan and a key so
there is something to look at. Everything lives in the temporary directory;
nothing touches ./keyward-data. Ctrl-C stops it and removes the directory.

With --tls both listeners serve HTTPS with a certificate from a throwaway
CA made in the data directory (tls/ca.pem); the commands it prints trust
that CA (curl --cacert, KEYWARD_CA_FILE).

With --once it sets up, checks, and exits, keeping the data directory: it
prints the two commands that start the mock upstream and the server on it
again, so that every command it shows works after it is gone.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			temporary := dataDir == ""
			if temporary {
				dir, err := os.MkdirTemp("", "keyward-quickstart-")
				if err != nil {
					return err
				}
				if !once {
					defer os.RemoveAll(dir)
				}
				dataDir = dir
			}
			abs, err := filepath.Abs(dataDir)
			if err != nil {
				return err
			}
			cfg := server.Config{DataDir: abs, AdminAddr: adminAddr, GatewayAddr: gatewayAddr, LogLevel: "warn"}
			mode := quickstartMode{once: once, temporary: temporary}
			if withTLS {
				if err := os.MkdirAll(filepath.Join(abs, "tls"), 0o700); err != nil {
					return err
				}
				files, err := tlsconfig.GenerateDev(filepath.Join(abs, "tls"), []string{"127.0.0.1", "::1", "localhost"}, 30*24*time.Hour)
				if err != nil {
					return err
				}
				cfg.TLS.Cert, cfg.TLS.Key, mode.ca = files.Cert, files.Key, files.CA
			}
			err = quickstart(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), cfg, mode)
			if err != nil && temporary && once {
				os.RemoveAll(dataDir) // nothing worth keeping was printed
			}
			return namedByFlags(err, cmd.Flags())
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "data directory (default: a new temporary directory, removed on exit unless --once)")
	cmd.Flags().StringVar(&adminAddr, "admin-addr", "127.0.0.1:7070", "admin API listen address (use 127.0.0.1:0 for any free port)")
	cmd.Flags().StringVar(&gatewayAddr, "gateway-addr", "127.0.0.1:8080", "gateway listen address (use 127.0.0.1:0 for any free port)")
	cmd.Flags().BoolVar(&withTLS, "tls", false, "serve HTTPS with a throwaway CA and certificate made in the data directory")
	cmd.Flags().BoolVar(&once, "once", false, "set everything up, check it, print how to start it again, and exit")
	withoutClientFlags(cmd)
	return cmd
}

// quickstartMode is how quickstart runs: serving until Ctrl-C, or --once;
// on a directory of its own making, or on the user's.
type quickstartMode struct {
	once, temporary bool
	ca              string // with --tls: the throwaway CA's PEM file
}

func quickstart(ctx context.Context, out, logOut io.Writer, cfg server.Config, mode quickstartMode) error {
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
	p, tok, err := svc.Access.Authenticate(ctx, strings.TrimSpace(string(token)))
	if err != nil {
		return err
	}
	ctx2 := keyward.WithCaller(ctx, keyward.Caller{Principal: p, TokenID: tok.ID, SourceIP: "127.0.0.1", UserAgent: "keyward-quickstart"})
	api, err := svc.APIs.CreateAPI(ctx2, keyward.APICreate{Name: "demo", OpenAICompatible: true,
		Description: "the quickstart's mock OpenAI-compatible upstream",
		Stages:      []keyward.Stage{{Name: "prod", UpstreamURL: upstreamURL}}})
	if err != nil {
		return err
	}
	plan, err := svc.Plans.CreatePlan(ctx2, keyward.PlanCreate{Name: "starter",
		Throttle: &keyward.Throttle{RateLimit: 1, BurstLimit: 2},
		Quota:    &keyward.Quota{Limit: 1000, Period: keyward.PeriodDay},
		Tokens:   &keyward.TokenLimits{PerMinute: 10000, PerDay: 100000, DefaultMaxTokens: 256}})
	if err != nil {
		return err
	}
	created, err := svc.Keys.CreateKey(ctx2, keyward.KeyCreate{Name: "quickstart-key", Description: "made by keyward quickstart",
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
	self := selfCommand()
	dirNote := "kept"
	switch {
	case mode.temporary && !mode.once:
		dirNote = "temporary, removed when quickstart stops"
	case mode.temporary:
		dirNote = "temporary, kept after --once"
	}
	header := "keyward quickstart is running."
	if mode.once {
		header = "keyward quickstart (--once): set up and checked; it stops after this."
	}
	fmt.Fprintf(out, `%s

  admin API      %s
  gateway        %s
  mock upstream  %s (OpenAI-compatible: POST /v1/chat/completions)
  data dir       %s (%s)

Created:
  API   %s (%s), stage prod -> %s
  plan  %s (%s): 1 req/s, burst 2, 1000 req/day, 10k tokens/min
  key   %s (%s), model gpt-4o-mini only
        value (shown once): %s
`, header, srv.AdminURL(), srv.GatewayURL(), upstreamURL, cfg.DataDir, dirNote, api.Name, api.ID, upstreamURL, plan.Name, plan.ID,
		created.Key.Name, created.Key.ID, created.Value)
	hc := http.DefaultClient
	curlCA, envCA, serverTLS := "", "", ""
	if mode.ca != "" {
		tc, err := tlsconfig.Client(tlsconfig.ClientFiles{CA: mode.ca})
		if err != nil {
			return err
		}
		hc = &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
		curlCA = " --cacert " + shellQuote(mode.ca)
		envCA = " " + tlsconfig.EnvCAFile + "=" + shellQuote(mode.ca)
		serverTLS = " --tls-cert " + shellQuote(cfg.TLS.Cert) + " --tls-key " + shellQuote(cfg.TLS.Key)
		fmt.Fprintf(out, "  TLS   certificate for 127.0.0.1, ::1 and localhost from the throwaway CA %s\n", mode.ca)
	}
	codes, err := demoCalls(ctx, hc, url, created.Value)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nChecked just now: with the key %d, without %d, a burst of %d at once %d.\n", codes[0], codes[1], burstCalls, codes[2])
	if mode.once {
		// Everything printed from here on must work after this process
		// is gone: the mock upstream and the server come back on the
		// same addresses (the API's stage points at the mock's) and the
		// same data directory.
		fmt.Fprintf(out, `
Start it again, each in a shell of its own (same addresses, same data):
  %s mock-upstream --addr %s
  %s server --data-dir %s --admin-addr %s --gateway-addr %s%s
`, self, strings.TrimPrefix(upstreamURL, "http://"), self, shellQuote(cfg.DataDir),
			hostPort(srv.AdminURL()), hostPort(srv.GatewayURL()), serverTLS)
	}
	fmt.Fprintf(out, `
Call the AI API through the gateway, in another shell:
  export KEY='%s'
  # with the key: 200, the mock upstream's completion
  curl -s%s %s -H "x-api-key: $KEY" -H 'content-type: application/json' \
       -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
  # without it: 401
  curl -s%s -w ' %%{http_code}\n' %s -d '{"model":"gpt-4o-mini"}'
  # faster than 1 request a second with a burst of 2: the third gets 429
  for i in 1 2 3; do curl -s%s -o /dev/null -w '%%{http_code}\n' %s -H "x-api-key: $KEY" \
       -H 'content-type: application/json' -d '{"model":"gpt-4o-mini"}'; done

Manage it:
  export KEYWARD_ADDR=%s KEYWARD_TOKEN_FILE=%s%s
  %s keys list
  %s keys usage %s
  %s plans get starter
  # a new value, same key ID; the old one keeps working for an hour
  %s keys rotate %s --grace 1h
  %s audit verify
`, created.Value, curlCA, url, curlCA, url, curlCA, url, srv.AdminURL(), shellQuote(tokenPath), envCA,
		self, self, created.Key.ID, self, self, created.Key.ID, self)
	if mode.once {
		stopRun()
		return <-runErr
	}
	fmt.Fprintln(out, "\nStop with Ctrl-C.")
	return <-runErr
}

// selfCommand is how the user started this binary, for commands printed
// to be pasted: its name when found on PATH, "go run ./cmd/keyward" under
// go run (whose binary lives in a temporary build directory), else its path.
func selfCommand() string {
	arg0 := os.Args[0]
	if !strings.ContainsRune(arg0, filepath.Separator) {
		if _, err := exec.LookPath(arg0); err == nil {
			return arg0
		}
	}
	if exe, err := os.Executable(); err == nil && strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return "go run ./cmd/keyward"
	}
	if abs, err := filepath.Abs(arg0); err == nil {
		return shellQuote(abs)
	}
	return arg0
}

// shellQuote quotes s for a POSIX shell when it holds anything but plain
// path characters.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:=@,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// demoCalls makes the quickstart's three example calls: with the key,
// without it, and a burst past the throttle.
func demoCalls(ctx context.Context, hc *http.Client, url, key string) ([3]int, error) {
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
		resp, err := hc.Do(req)
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
	// A burst past the throttle (1 a second, burst 2), sent at once rather
	// than one after another: on a busy machine calls in a row can be a
	// second apart, and then each finds a token refilled. Ten at once are
	// over the limit whatever the machine; the answer is 429 if any was
	// refused.
	codes[2] = http.StatusOK
	results := make(chan error, burstCalls)
	var mu sync.Mutex
	for range burstCalls {
		go func() {
			code, err := call(true)
			if err == nil && code == http.StatusTooManyRequests {
				mu.Lock()
				codes[2] = code
				mu.Unlock()
			}
			results <- err
		}()
	}
	for range burstCalls {
		if e := <-results; e != nil && err == nil {
			err = e
		}
	}
	return codes, err
}

// burstCalls is the size of the quickstart's burst.
const burstCalls = 10

// hostPort is a base URL's host:port.
func hostPort(base string) string {
	_, hp, _ := strings.Cut(base, "://")
	return hp
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/keyward/keyward/mockupstream"
	"github.com/spf13/cobra"
)

// defaultMockUpstreamAddr is where `keyward mock-upstream` listens by
// default: loopback, next to the server's default ports (7070, 8080).
const defaultMockUpstreamAddr = "127.0.0.1:8081"

func mockUpstreamCommand() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "mock-upstream [--addr HOST:PORT]",
		Short: "Run the built-in OpenAI-compatible mock upstream on its own",
		Long: `Run the OpenAI-compatible mock that quickstart puts behind keyward, on its
own: POST /v1/chat/completions (JSON, or server-sent events with
"stream": true, with a usage block) and GET /v1/models. Point an API's
stage at the URL it prints to try the gateway without a real AI service.
It needs no key and serves loopback unless --addr says otherwise.`,
		Example: `  keyward mock-upstream
  keyward mock-upstream --addr 127.0.0.1:0      # any free port
  keyward apis create demo --stage prod=http://127.0.0.1:8081 --openai-compatible`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("--addr %q: %w", addr, err)
			}
			return serveMockUpstream(ctx, ln, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&addr, "addr", defaultMockUpstreamAddr, "listen address (127.0.0.1:0 picks a free port)")
	return cmd
}

// serveMockUpstream serves the mock on ln until ctx ends, after printing
// its URL to out.
func serveMockUpstream(ctx context.Context, ln net.Listener, out io.Writer) error {
	srv := &http.Server{Handler: mockupstream.Handler(), ReadHeaderTimeout: 5 * time.Second}
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "keyward mock upstream (OpenAI-compatible): %s\n", url)
	fmt.Fprintf(out, "  POST %s/v1/chat/completions\n  GET  %s/v1/models\nStop with Ctrl-C.\n", url, url)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

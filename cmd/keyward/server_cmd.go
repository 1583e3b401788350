package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/keyward/keyward/server"
	"github.com/spf13/cobra"
)

// serverCommand returns `keyward server`. adjust, when not nil, may change
// the settings just before the server opens: tests install fault hooks
// there (server.Config.AfterRotationStep), so the shipped binary has none.
func serverCommand(adjust func(cfg *server.Config, stderr io.Writer)) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the keyward server (admin API, gateway, metrics, health)",
		Long: `Run the keyward server. On first start with an empty data directory it
creates the database, the master key, the pepper and the audit signing key
(all 0600), and writes a bootstrap admin token to <data-dir>/bootstrap-token.

Each setting is a flag or its KEYWARD_* environment variable (the flag wins).
A value that does not parse or is out of range stops the server with an
error naming the flag or variable it came from.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, named, err := loadServerConfig(cmd.Flags(), os.LookupEnv)
			if err != nil {
				return err
			}
			if adjust != nil {
				adjust(&cfg, cmd.ErrOrStderr())
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return named(serve(ctx, cfg, cmd))
		},
	}
	addServerFlags(cmd.Flags())
	withoutClientFlags(cmd)
	return cmd
}

func serve(ctx context.Context, cfg server.Config, cmd *cobra.Command) error {
	srv, err := server.Open(ctx, cfg, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer srv.Close()
	// SIGHUP reloads the TLS certificates at once (they are also reloaded
	// when their files change).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			srv.ReloadTLS()
		}
	}()
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "keyward admin API: %s\n", srv.AdminURL())
	if srv.BootstrapTokenPath != "" {
		fmt.Fprintf(out, "bootstrap admin token written to %s (0600); use it with:\n", srv.BootstrapTokenPath)
		fmt.Fprintf(out, "  export KEYWARD_ADDR=%s KEYWARD_TOKEN_FILE=%s\n", srv.AdminURL(), srv.BootstrapTokenPath)
		if strings.HasPrefix(srv.AdminURL(), "https://") {
			fmt.Fprintf(out, "  export KEYWARD_CA_FILE=<the PEM file of the CA that issued the certificate>   # if it is a private CA\n")
		}
	}
	return srv.Run(ctx)
}

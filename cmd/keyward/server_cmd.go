package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/server"
	"github.com/spf13/cobra"
)

// env returns the value of a KEYWARD_* variable, or def.
func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// serverFlags binds every server setting to a flag whose default comes from
// its KEYWARD_* environment variable, so both ways of configuring agree.
func serverFlags(cmd *cobra.Command, cfg *server.Config, proxies *string, checkpoint *time.Duration) {
	d := server.Config{}.Defaults()
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", env("KEYWARD_DATA_DIR", d.DataDir), "data directory (KEYWARD_DATA_DIR)")
	f.StringVar(&cfg.AdminAddr, "admin-addr", env("KEYWARD_ADMIN_ADDR", d.AdminAddr), "admin API listen address (KEYWARD_ADMIN_ADDR)")
	f.StringVar(&cfg.GatewayAddr, "gateway-addr", env("KEYWARD_GATEWAY_ADDR", d.GatewayAddr), "gateway listen address (KEYWARD_GATEWAY_ADDR)")
	f.StringVar(&cfg.KeyringURL, "keyring", env("KEYWARD_KEYRING", ""), "key-encryption keyring URL; default file://<data-dir>/master.key (KEYWARD_KEYRING)")
	f.StringVar(&cfg.AuditFile, "audit-file", env("KEYWARD_AUDIT_FILE", ""), "also append audit records to this JSONL file (KEYWARD_AUDIT_FILE)")
	f.BoolVar(&cfg.AuditStdout, "audit-stdout", env("KEYWARD_AUDIT_STDOUT", "") == "true", "also write audit records to stdout (KEYWARD_AUDIT_STDOUT)")
	def, _ := time.ParseDuration(env("KEYWARD_AUDIT_CHECKPOINT_INTERVAL", "1m"))
	f.DurationVar(checkpoint, "audit-checkpoint-interval", def, "how often the audit chain head is signed (KEYWARD_AUDIT_CHECKPOINT_INTERVAL)")
	f.StringVar(proxies, "trusted-proxies", env("KEYWARD_TRUSTED_PROXIES", ""), "comma-separated CIDRs whose X-Forwarded-For is believed (KEYWARD_TRUSTED_PROXIES)")
	f.BoolVar(&cfg.GatewayKeyLabels, "gateway-key-labels", env("KEYWARD_GATEWAY_KEY_LABELS", "") == "true", "label gateway request metrics by key ID too (KEYWARD_GATEWAY_KEY_LABELS)")
	maxBody, _ := strconv.Atoi(env("KEYWARD_GATEWAY_MAX_BODY", strconv.Itoa(d.GatewayMaxBody)))
	f.IntVar(&cfg.GatewayMaxBody, "gateway-max-body", maxBody, "largest request body the gateway accepts, in bytes (KEYWARD_GATEWAY_MAX_BODY)")
	timeout, _ := time.ParseDuration(env("KEYWARD_GATEWAY_TIMEOUT", d.GatewayTimeout.String()))
	f.DurationVar(&cfg.GatewayTimeout, "gateway-timeout", timeout, "limit on one upstream exchange, streams included (KEYWARD_GATEWAY_TIMEOUT)")
	rotCheck, _ := time.ParseDuration(env("KEYWARD_ROTATION_CHECK_INTERVAL", "30s"))
	f.DurationVar(&cfg.RotationCheckInterval, "rotation-check-interval", rotCheck, "how often the scheduler looks for due rotations and deadlines to announce (KEYWARD_ROTATION_CHECK_INTERVAL)")
	f.StringVar(&cfg.LogFormat, "log-format", env("KEYWARD_LOG_FORMAT", d.LogFormat), "text or json (KEYWARD_LOG_FORMAT)")
	f.StringVar(&cfg.LogLevel, "log-level", env("KEYWARD_LOG_LEVEL", d.LogLevel), "debug, info, warn or error (KEYWARD_LOG_LEVEL)")
}

// urlCarriesSecret reports whether a keyring URL holds key material or
// credentials: base64key:// URLs are the key itself, userinfo is a password.
func urlCarriesSecret(raw string) bool {
	u, err := url.Parse(raw)
	return err != nil || u.User != nil || strings.EqualFold(u.Scheme, "base64key")
}

func parseProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is not a CIDR", part)
		}
		out = append(out, p)
	}
	return out, nil
}

func serverCommand() *cobra.Command {
	var cfg server.Config
	var proxies string
	var checkpoint time.Duration
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the keyward server (admin API, gateway, metrics, health)",
		Long: `Run the keyward server. On first start with an empty data directory it
creates the database, the master key, the pepper and the audit signing key
(all 0600), and writes a bootstrap admin token to <data-dir>/bootstrap-token.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if cfg.TrustedProxies, err = parseProxies(proxies); err != nil {
				return err
			}
			cfg.CheckpointInterval = checkpoint
			if cmd.Flags().Changed("keyring") && urlCarriesSecret(cfg.KeyringURL) {
				return fmt.Errorf("--keyring: this URL carries a key or credentials, which must not be on the command line (ps, shell history): set KEYWARD_KEYRING instead")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cfg, cmd)
		},
	}
	serverFlags(cmd, &cfg, &proxies, &checkpoint)
	return cmd
}

// stallEnv names a fault-injection hook for the crash tests: with
// KEYWARD_TEST_STALL_AFTER_ROTATION_STEP=setSecret, the server announces
// on stderr and then hangs right after a key rotation's setSecret step
// commits, so that a test can kill -9 it between two steps.
const stallEnv = "KEYWARD_TEST_STALL_AFTER_ROTATION_STEP"

func stallAfter(step string, stderr io.Writer) func(context.Context, *keyward.Rotation) {
	return func(ctx context.Context, r *keyward.Rotation) {
		if r.Kind == keyward.RotationKey && string(r.Step) == step {
			fmt.Fprintf(stderr, "keyward: stalled after %s of %s\n", step, r.ID)
			select {}
		}
	}
}

func serve(ctx context.Context, cfg server.Config, cmd *cobra.Command) error {
	if step := os.Getenv(stallEnv); step != "" {
		cfg.AfterRotationStep = stallAfter(step, cmd.ErrOrStderr())
	}
	srv, err := server.Open(ctx, cfg, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer srv.Close()
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "keyward admin API: %s\n", srv.AdminURL())
	if srv.BootstrapTokenPath != "" {
		fmt.Fprintf(out, "bootstrap admin token written to %s (0600); use it with:\n", srv.BootstrapTokenPath)
		fmt.Fprintf(out, "  export KEYWARD_ADDR=%s KEYWARD_TOKEN_FILE=%s\n", srv.AdminURL(), srv.BootstrapTokenPath)
	}
	return srv.Run(ctx)
}

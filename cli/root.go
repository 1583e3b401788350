package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/tlsconfig"
)

// Environment variables read by the CLI. Each global flag has one; the admin
// token has no flag at all, so it never appears in argv or shell history.
const (
	EnvAddr      = "KEYWARD_ADDR"
	EnvToken     = "KEYWARD_TOKEN"
	EnvTokenFile = "KEYWARD_TOKEN_FILE"
	EnvOutput    = "KEYWARD_OUTPUT"
	// EnvAllowPlaintext=true lets the CLI talk plain HTTP to a host other
	// than loopback.
	EnvAllowPlaintext = "KEYWARD_ALLOW_PLAINTEXT"
)

// DefaultAddr is the admin API address used when neither --addr nor
// KEYWARD_ADDR is set.
const DefaultAddr = "http://127.0.0.1:7070"

// NewRoot returns the "keyward" command with its global flags and every noun
// (apis, keys, plans, secrets, webhooks, principals, policies, audit). extra
// commands (the server, quickstart) are added at the top level; they see the
// same stdin, stdout and stderr, and their errors are printed the same way.
func NewRoot(extra ...*cobra.Command) *cobra.Command {
	root := &cobra.Command{
		Use:   "keyward",
		Short: "Manage API keys, usage plans, secrets, webhooks and the audit trail of a keyward server",
		Long: `keyward manages a keyward server over its admin API.

The server address comes from --addr or KEYWARD_ADDR (default ` + DefaultAddr + `).
The admin token comes from KEYWARD_TOKEN, or from the file named by
--token-file or KEYWARD_TOKEN_FILE; it is never accepted on the command line.
An https server's certificate is always verified: against the system's roots
and the CA file of --ca-file or KEYWARD_CA_FILE.

Exit codes: 0 ok, 1 error, 2 usage or invalid input, 3 not found,
4 unauthorized or forbidden, 5 conflict, 6 audit verification failed,
7 audit verification found nothing wrong but had no pinned key (UNPINNED).`,
		Args:          nounArgs,
		RunE:          nounRun,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	pf := root.PersistentFlags()
	pf.String("addr", DefaultAddr, "admin API address (env "+EnvAddr+")")
	pf.String("ca-file", "", "PEM CA certificates to trust for an https server besides the system's (env "+tlsconfig.EnvCAFile+")")
	pf.String("client-cert", "", "PEM client certificate, for a server that requires mutual TLS (env "+tlsconfig.EnvClientCert+")")
	pf.String("client-key", "", "PEM private key of --client-cert (env "+tlsconfig.EnvClientKey+")")
	pf.String("token-file", "", "read the admin token from this file (env "+EnvTokenFile+"; "+EnvToken+" holds the token itself)")
	pf.StringP("output", "o", formatTable, "output format: table or json (env "+EnvOutput+")")
	pf.String("token", "", "not supported: tokens are never read from the command line")
	_ = pf.MarkHidden("token")

	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &usageError{msg: err.Error()}
	})

	root.AddCommand(
		newAPIsCmd(),
		newKeysCmd(),
		newPlansCmd(),
		newSecretsCmd(),
		newWebhooksCmd(),
		newPrincipalsCmd(),
		newPoliciesCmd(),
		newAuditCmd(),
	)
	for _, c := range extra {
		wrapArgs(c)
		root.AddCommand(c)
	}
	return root
}

// wrapArgs makes argument-count errors of extra commands usage errors.
func wrapArgs(c *cobra.Command) {
	if c.Args != nil {
		orig := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := orig(cmd, args); err != nil {
				return &usageError{msg: err.Error()}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}

// newNoun returns a command that only groups verbs.
func newNoun(use, short string, verbs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: nounArgs, RunE: nounRun}
	c.AddCommand(verbs...)
	return c
}

// nounArgs rejects unknown verbs with a suggestion; cobra would otherwise
// print the help and exit 0.
func nounArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %q?", s[0])
	}
	return &usageError{msg: msg}
}

// nounRun prints the help of a noun given without a verb.
func nounRun(cmd *cobra.Command, _ []string) error { return cmd.Help() }

// exactArgs requires exactly the named positional arguments.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usagef("%s takes %d argument(s): %s (got %d)", cmd.CommandPath(), len(names), strings.Join(names, " "), len(args))
		}
		for i, a := range args {
			if strings.TrimSpace(a) == "" {
				return usagef("%s must not be empty", names[i])
			}
		}
		return nil
	}
}

// env is what a command body works with: the run's state, its streams, the
// chosen output format and, on demand, a client.
type env struct {
	ctx    context.Context
	cmd    *cobra.Command
	st     *state
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	json   bool
}

// run adapts a command body to cobra: it resolves the global settings first
// and makes sure whatever the body returns is safe to print.
func run(fn func(e *env, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		e, err := newEnv(cmd)
		if err != nil {
			return err
		}
		return safeError(fn(e, args))
	}
}

func newEnv(cmd *cobra.Command) (*env, error) {
	st := stateFrom(cmd.Context())
	if f := cmd.Flags().Lookup("token"); f != nil && f.Changed {
		return nil, usagef("--token is not supported: admin tokens are never read from the command line; set %s or use --token-file "+
			"(an idempotency token is --client-token)", EnvToken)
	}
	format, err := setting(cmd, st, "output", EnvOutput)
	if err != nil {
		return nil, err
	}
	switch format {
	case formatTable, formatJSON:
	default:
		return nil, usagef("unknown output format %q: want table or json", format)
	}
	return &env{
		ctx:    cmd.Context(),
		cmd:    cmd,
		st:     st,
		stdin:  cmd.InOrStdin(),
		stdout: cmd.OutOrStdout(),
		stderr: cmd.ErrOrStderr(),
		json:   format == formatJSON,
	}, nil
}

// setting returns a global flag's value: the flag when given, else its
// environment variable when set, else the flag's default.
func setting(cmd *cobra.Command, st *state, name, envVar string) (string, error) {
	f := cmd.Flags().Lookup(name)
	if f == nil {
		f = cmd.Root().PersistentFlags().Lookup(name)
	}
	if f == nil {
		return "", fmt.Errorf("no flag --%s", name)
	}
	if f.Changed {
		return f.Value.String(), nil
	}
	if v := st.getenv(envVar); v != "" {
		return v, nil
	}
	return f.DefValue, nil
}

// client returns the admin API client, building it on first use: commands that
// fail on their flags never need a token.
func (e *env) client() (Client, error) {
	if e.st.client != nil {
		return e.st.client, nil
	}
	addr, err := setting(e.cmd, e.st, "addr", EnvAddr)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("invalid server address %q: want http(s)://host:port", addr)
	}
	token, err := e.token()
	if err != nil {
		return nil, err
	}
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		// As the server refuses plain HTTP off loopback unless told, so
		// does the CLI: a typo (http for https) must not send the token.
		if e.st.getenv(EnvAllowPlaintext) != "true" {
			return nil, usagef("refusing to send the admin token over plain HTTP to %s: it would cross the network in clear; use https:// "+
				"(or set %s=true when a TLS-terminating proxy on the way is the only path)", u.Host, EnvAllowPlaintext)
		}
		fmt.Fprintf(e.stderr, "keyward: warning: %s is plain HTTP to another host: the admin token crosses the network in clear\n", u.Host)
	}
	var files tlsconfig.ClientFiles
	for _, f := range []struct {
		dst       *string
		flag, env string
	}{{&files.CA, "ca-file", tlsconfig.EnvCAFile}, {&files.Cert, "client-cert", tlsconfig.EnvClientCert}, {&files.Key, "client-key", tlsconfig.EnvClientKey}} {
		if *f.dst, err = setting(e.cmd, e.st, f.flag, f.env); err != nil {
			return nil, err
		}
	}
	c, err := e.st.newClient(strings.TrimRight(addr, "/"), token, files)
	if err != nil {
		return nil, err
	}
	e.st.client = c
	return c, nil
}

// token returns the admin token: from --token-file when given, else from
// KEYWARD_TOKEN, else from the file named by KEYWARD_TOKEN_FILE.
func (e *env) token() (string, error) {
	f := e.cmd.Flags().Lookup("token-file")
	if f != nil && f.Changed {
		return e.readToken(f.Value.String(), "--token-file")
	}
	if t := strings.TrimSpace(e.st.getenv(EnvToken)); t != "" {
		e.st.secret(t)
		return t, nil
	}
	if p := e.st.getenv(EnvTokenFile); p != "" {
		return e.readToken(p, EnvTokenFile)
	}
	return "", keyward.Errorf(keyward.EUNAUTHORIZED, "no admin token: set %s to the token, or %s or --token-file to a file holding it",
		EnvToken, EnvTokenFile)
}

func (e *env) readToken(path, from string) (string, error) {
	b, err := readLimited(path, nil, 4096)
	if err != nil {
		return "", localf("read token file (%s): %v", from, err)
	}
	t := strings.TrimSpace(string(b))
	e.st.secret(t)
	if t == "" {
		return "", keyward.Errorf(keyward.EUNAUTHORIZED, "the token file (%s) is empty", from)
	}
	return t, nil
}

// now returns the current time in UTC.
func (e *env) now() time.Time { return e.st.now().UTC() }

// out prints v as JSON when -o json was chosen, and otherwise calls tableFn.
func (e *env) out(v any, tableFn func(w io.Writer) error) error {
	if e.json {
		return writeJSON(e.stdout, v)
	}
	return tableFn(e.stdout)
}

// done reports a change that returns no object: a line for people, a small
// JSON object for scripts.
func (e *env) done(v map[string]any, format string, args ...any) error {
	if e.json {
		return writeJSON(e.stdout, v)
	}
	_, err := fmt.Fprintf(e.stdout, format+"\n", args...)
	return err
}

// stdinIsTerminal reports whether stdin is an interactive terminal, so that
// a prompt can say what is being waited for.
func (e *env) stdinIsTerminal() bool { return isTerminal(e.stdin) }

// stdoutIsTerminal reports whether stdout is a terminal rather than a pipe
// or a file, so that output for people can be finished for people.
func (e *env) stdoutIsTerminal() bool {
	if e.st.isTerminal != nil {
		return e.st.isTerminal(e.stdout)
	}
	return isTerminal(e.stdout)
}

// isTerminal reports whether s is a character device: a terminal (or
// /dev/null), never a pipe or a regular file.
func isTerminal(s any) bool {
	f, ok := s.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// changed reports whether a flag was given on the command line.
func changed(cmd *cobra.Command, name string) bool {
	f := cmd.Flags().Lookup(name)
	return f != nil && f.Changed
}

// loopbackHost reports whether host is a loopback address or localhost.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

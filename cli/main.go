package cli

import (
	"context"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/tlsconfig"
)

// Client is everything the CLI asks of the admin API: the domain's service
// interfaces. The HTTP client implements it (client.go); tests use a fake.
type Client interface {
	keyward.KeyService
	keyward.UsageService
	keyward.APIService
	keyward.PlanService
	keyward.SecretService
	keyward.PrincipalService
	keyward.PolicyService
	keyward.AuditService
	keyward.RotationService
	keyward.WebhookService
}

// clientFactory builds a Client for an admin API address, token and TLS
// files (a private CA, a client certificate).
type clientFactory func(addr, token string, tls tlsconfig.ClientFiles) (Client, error)

// Main runs the keyward command line with args (without the program name) and
// returns the exit code; errors are printed to stderr as
// "keyward: <code>: <message>". extra commands (the server, quickstart) are
// added at the top level as NewRoot does. Main never calls os.Exit, so tests
// and testscript can run it in process.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer, extra ...*cobra.Command) int {
	return execute(NewRoot(extra...), args, stdin, stdout, stderr, &state{
		getenv:    os.Getenv,
		newClient: newHTTPClient,
		now:       time.Now,
	})
}

// state is what one run of the command needs beyond its flags: where the
// environment and the clock come from, how to reach the server, and which
// strings must never be printed.
type state struct {
	getenv     func(string) string
	newClient  clientFactory
	now        func() time.Time
	isTerminal func(any) bool // nil: isTerminal; tests stand in for a terminal

	client    Client
	sensitive []string
}

type stateKey struct{}

// stateFrom returns the run's state, or a default one when the command was run
// without Main.
func stateFrom(ctx context.Context) *state {
	if st, ok := ctx.Value(stateKey{}).(*state); ok {
		return st
	}
	return &state{getenv: os.Getenv, newClient: newHTTPClient, now: time.Now}
}

// secret records a string that must never appear in an error message.
func (st *state) secret(s string) {
	if s != "" {
		st.sensitive = append(st.sensitive, s)
	}
}

func execute(root *cobra.Command, args []string, stdin io.Reader, stdout, stderr io.Writer, st *state) int {
	if args == nil {
		args = []string{} // nil would make cobra read os.Args
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SilenceErrors = true
	root.SilenceUsage = true

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx = context.WithValue(ctx, stateKey{}, st)

	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	hint := ""
	if cmd != nil {
		hint = "Run '" + cmd.CommandPath() + " --help' for usage."
	}
	return printError(stderr, err, hint, st.sensitive)
}

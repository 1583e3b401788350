package cli

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/tlsconfig"
)

// result is what one run of the command printed and returned.
type result struct {
	code           int
	stdout, stderr string
	factoryCalled  bool
	addr, token    string
}

// runCLI runs the command line args against fake with the given environment
// and stdin.
func runCLI(t *testing.T, fake *fakeClient, envv map[string]string, stdin string, args ...string) result {
	t.Helper()
	return runCLIOn(t, false, fake, envv, stdin, args...)
}

// runCLIOn is runCLI with stdout taken for a terminal, or not.
func runCLIOn(t *testing.T, terminal bool, fake *fakeClient, envv map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	var res result
	st := &state{
		getenv: func(k string) string { return envv[k] },
		newClient: func(addr, token string, _ tlsconfig.ClientFiles) (Client, error) {
			res.factoryCalled, res.addr, res.token = true, addr, token
			return fake, nil
		},
		now:        func() time.Time { return t0 },
		isTerminal: func(any) bool { return terminal },
	}
	var in io.Reader = strings.NewReader(stdin)
	res.code = execute(NewRoot(), args, in, &out, &errb, st)
	res.stdout, res.stderr = out.String(), errb.String()
	return res
}

// adminEnv is an environment with a token.
var adminEnv = map[string]string{EnvToken: "kwa_admintokenadmintoken"}

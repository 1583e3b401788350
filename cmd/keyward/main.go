// Command keyward is the one binary of keyward: the server (`keyward
// server`), a one-command demo (`keyward quickstart`), the demo's mock AI
// upstream on its own (`keyward mock-upstream`), and the CLI over the admin
// API (`keyward <noun> <verb>`).
package main

import (
	"io"
	"os"

	"github.com/keyward/keyward/cli"
	"github.com/keyward/keyward/server"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run is main without the exit, so tests (testscript) call it in-process.
func run(args []string) int { return runAdjusted(args, nil) }

// runAdjusted is run with a function that may change the server's settings
// before it opens (see serverCommand): the tests' way in, not a setting.
func runAdjusted(args []string, adjust func(cfg *server.Config, stderr io.Writer)) int {
	return cli.Main(args, os.Stdin, os.Stdout, os.Stderr, serverCommand(adjust), quickstartCommand(), mockUpstreamCommand(), migrateStoreCommand())
}

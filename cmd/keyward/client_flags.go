package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// withoutClientFlags keeps the CLI's global flags (--addr, --token-file,
// -o: how to reach a running server) out of a command that runs one
// itself. Its help lists only its own flags, and giving a global one is an
// error rather than silently ignored: `keyward server --addr` looks like
// a listen address and is not one.
func withoutClientFlags(cmd *cobra.Command) {
	cmd.SetUsageFunc(func(c *cobra.Command) error {
		_, err := fmt.Fprintf(c.OutOrStderr(), "Usage:\n  %s\n\nFlags:\n%s", c.UseLine(), c.LocalFlags().FlagUsages())
		return err
	})
	cmd.PreRunE = func(c *cobra.Command, _ []string) error {
		var given []string
		c.InheritedFlags().VisitAll(func(f *pflag.Flag) {
			if f.Changed {
				given = append(given, "--"+f.Name)
			}
		})
		if len(given) > 0 {
			return fmt.Errorf("%s: not a flag of %s, which takes only those listed by '%s --help'",
				strings.Join(given, ", "), c.CommandPath(), c.CommandPath())
		}
		return nil
	}
}

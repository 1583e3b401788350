package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/keyward/keyward/server"
	"github.com/spf13/cobra"
)

func migrateStoreCommand() *cobra.Command {
	var mc server.MigrateStoreConfig
	var urlFile string
	cmd := &cobra.Command{
		Use:   "migrate-store --from-data-dir DIR --database-url URL",
		Short: "Copy a single node's deployment into an empty PostgreSQL database, for a cluster",
		Long: `Copy a stopped single node's deployment (its SQLite store and key
material) into an empty PostgreSQL database: keys, secrets (still sealed),
principals, policies, usage, rotations, webhooks and the audit log, which
still verifies, and the pepper and audit keys, sealed by the keyring the
node ran with (its master.key, or --keyring). Start the cluster's nodes
with that keyring and --database-url. A database that holds anything is
refused. The URL's password comes from KEYWARD_DATABASE_URL, PGPASSWORD or
--database-url-file, never from the command line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if mc.DataDir == "" {
				return fmt.Errorf("--from-data-dir is required")
			}
			switch {
			case urlFile != "":
				b, err := os.ReadFile(urlFile)
				if err != nil {
					return fmt.Errorf("--database-url-file: %w", err)
				}
				mc.DatabaseURL = strings.TrimSpace(string(b))
			case mc.DatabaseURL != "":
				if databaseURLCarriesPassword(mc.DatabaseURL) {
					return fmt.Errorf("--database-url: this URL carries a password, which must not be on the command line: set KEYWARD_DATABASE_URL, PGPASSWORD or --database-url-file instead")
				}
			default:
				mc.DatabaseURL = os.Getenv("KEYWARD_DATABASE_URL")
			}
			if mc.DatabaseURL == "" {
				return fmt.Errorf("--database-url (or KEYWARD_DATABASE_URL) is required")
			}
			if mc.KeyringURL == "" {
				mc.KeyringURL = os.Getenv("KEYWARD_KEYRING")
			}
			counts, err := server.MigrateStore(cmd.Context(), mc)
			if err != nil {
				return err
			}
			tables := make([]string, 0, len(counts))
			for t := range counts {
				tables = append(tables, t)
			}
			sort.Strings(tables)
			out := cmd.OutOrStdout()
			for _, t := range tables {
				fmt.Fprintf(out, "%-24s %d rows\n", t, counts[t])
			}
			fmt.Fprintln(out, "copied, with the pepper and audit keys sealed by the keyring; start every node with that keyring and the database URL")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&mc.DataDir, "from-data-dir", "", "data dir of the single node (stopped)")
	f.StringVar(&mc.KeyringURL, "keyring", "", "the keyring that node ran with (default its master.key; env KEYWARD_KEYRING)")
	f.StringVar(&mc.DatabaseURL, "database-url", "", "the empty PostgreSQL database (env KEYWARD_DATABASE_URL)")
	f.StringVar(&urlFile, "database-url-file", "", "read the database URL from this file")
	withoutClientFlags(cmd)
	return cmd
}

package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/keyimport"
)

func newKeysImportCmd() *cobra.Command {
	var (
		file   string
		stages = newListFlag("API/STAGE", parseStageKey)
		plans  = stringsFlag("PLAN")
	)
	cmd := &cobra.Command{
		Use:   "import --file keys.csv [--stage API/STAGE ...] [--plan PLAN ...]",
		Short: "Import keys with values made elsewhere, from an AWS ImportApiKeys CSV file",
		Long: `Import API keys from a CSV file in the shape of AWS API Gateway's
ImportApiKeys: a header row naming the columns (Name and Key required;
Description, Enabled, UsagePlanIds optional; any order, any case), then one
key per row. Key is the value, at least 20 characters; UsagePlanIds lists
plan IDs or names separated by ";". --stage and --plan bind every imported
key (repeatable). Use - as the file for standard input.

Keys go to the server in batches of ` + fmt.Sprint(keyward.MaxImportRows) + ` rows, each written whole or not at all
with one audit record naming its key IDs. A bad row stops the import with
its line number: the batches before it stay imported (the count is
printed), nothing of its own batch is written, so fixing the row and
importing from that batch's first row on continues where it stopped. The
values are never printed; a progress bar shows on a terminal.`,
		Example: `  keyward keys import --file keys.csv --stage chat/prod --plan gold
  keyward keys import --file - -o json < keys.csv`,
		Args: exactArgs(),
		RunE: run(func(e *env, _ []string) error {
			if file == "" {
				return usagef("--file is required (- for standard input)")
			}
			in := e.stdin
			if file != "-" {
				f, err := os.Open(file)
				if err != nil {
					return localf("open --file: %v", err)
				}
				defer f.Close()
				in = f
			}
			rows, err := keyimport.NewReader(in)
			if err != nil {
				return keyward.Errorf(keyward.EINVALID, "%s: %v", file, err)
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			importer, ok := c.(keyward.KeyImporter)
			if !ok {
				return keyward.Errorf(keyward.EINTERNAL, "this client cannot import keys")
			}
			progress := newProgress(e)
			var ids []string
			batch := make([]keyward.KeyImportRow, 0, keyward.MaxImportRows)
			send := func() error {
				if len(batch) == 0 {
					return nil
				}
				out, err := importer.ImportKeys(e.ctx, keyward.KeyImport{Rows: batch, StageKeys: stages.items, PlanIDs: plans.items})
				if err != nil {
					progress.done()
					if len(ids) > 0 {
						fmt.Fprintf(e.stderr, "keyward: %d keys were imported before the failing batch; that batch (lines %d to %d) was not written\n",
							len(ids), batch[0].Line, batch[len(batch)-1].Line)
					}
					return err
				}
				ids = append(ids, out.KeyIDs...)
				progress.update(len(ids))
				batch = batch[:0]
				return nil
			}
			for {
				row, err := rows.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					if serr := send(); serr != nil {
						return serr
					}
					progress.done()
					return keyward.Errorf(keyward.EINVALID, "%s: %v (%d keys imported before it)", file, err, len(ids))
				}
				batch = append(batch, row)
				if len(batch) == keyward.MaxImportRows {
					if err := send(); err != nil {
						return err
					}
				}
			}
			if err := send(); err != nil {
				return err
			}
			progress.done()
			if len(ids) == 0 {
				return keyward.Errorf(keyward.EINVALID, "%s: no rows to import", file)
			}
			return e.out(map[string]any{"imported": len(ids), "keyIds": ids}, func(w io.Writer) error {
				noun := "keys"
				if len(ids) == 1 {
					noun = "key"
				}
				_, err := fmt.Fprintf(w, "imported %d %s\n", len(ids), noun)
				return err
			})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&file, "file", "", "CSV file to import (- for standard input)")
	f.Var(stages, "stage", "API stage every imported key may call, as API/STAGE (repeatable)")
	f.Var(plans, "plan", "usage plan to attach every imported key to, by name or ID (repeatable)")
	return cmd
}

// progress draws "imported N keys" on stderr when it is a terminal, in
// place; elsewhere it stays silent.
type progress struct {
	w  io.Writer
	on bool
}

func newProgress(e *env) *progress {
	on := isTerminal(e.stderr)
	if e.st.isTerminal != nil {
		on = e.st.isTerminal(e.stderr)
	}
	return &progress{w: e.stderr, on: on}
}

func (p *progress) update(n int) {
	if p.on {
		fmt.Fprintf(p.w, "\rimporting: %d keys", n)
	}
}

func (p *progress) done() {
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
)

func newAuditExportCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "export [--out FILE]",
		Short: "Export the audit log, up to its latest checkpoint, as JSONL",
		Long: `Export the audit log as JSONL: first a key line naming the checkpoint key,
then records 1 to S in sequence order, each checkpoint right after the
record it covers, where S is the size of the latest checkpoint when the
export starts. The export therefore ends with a checkpoint covering its last
record; newer records (not yet checkpointed) are left out, and the done
message says how many. A server with no checkpoint yet exports only the key
line.

It goes to stdout or to a new file (created 0600; an existing file is never
overwritten). Check an export with:
  keyward audit verify --file FILE --public-key-file KEY`,
		Args: exactArgs(),
		RunE: run(func(e *env, _ []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			var w io.Writer = e.stdout
			var f *os.File
			if out != "" && out != "-" {
				f, err = os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
				if err != nil {
					return localf("create --out: %v", err)
				}
				w = f
			}
			res, err := exportAudit(e, c, w)
			if f != nil {
				if cerr := f.Close(); err == nil && cerr != nil {
					err = localf("write %s: %v", out, cerr)
				}
				if err != nil {
					os.Remove(out) // a partial export would verify as a shorter log
					return err
				}
			}
			if err != nil {
				return err
			}
			dest := "stdout"
			if f != nil {
				dest = sanitizeLine(out)
			}
			msg := fmt.Sprintf("Exported %d records and %d checkpoints to %s", res.Records, res.Checkpoints, dest)
			switch {
			case res.Size == 0:
				msg = "No checkpoint yet: exported only the key line to " + dest + " (records are exported once a checkpoint covers them)."
			case res.LeftOut > 0:
				msg += fmt.Sprintf(", up to the latest checkpoint (%d records); %d newer records were left out: no checkpoint covers them yet.", res.Size, res.LeftOut)
			default:
				msg += fmt.Sprintf(", up to the latest checkpoint (%d records).", res.Size)
			}
			v := map[string]any{"file": out, "records": res.Records, "checkpoints": res.Checkpoints, "treeSize": res.Size, "leftOut": res.LeftOut}
			if f == nil {
				// stdout holds the export: the summary goes to stderr.
				if !e.json {
					fmt.Fprintln(e.stderr, msg)
				}
				return nil
			}
			return e.done(v, "%s", msg)
		}),
	}
	cmd.Flags().StringVar(&out, "out", "", "write to this new file instead of stdout")
	return cmd
}

// exportResult says what an export wrote.
type exportResult struct {
	Records     int64
	Checkpoints int
	Size        int64 // the tree size of the last checkpoint written
	LeftOut     int64 // records after it at the end of the export
}

// exportAudit writes the key line, then the records of the latest checkpoint
// at its start and the checkpoints up to it, to w.
func exportAudit(e *env, c Client, w io.Writer) (*exportResult, error) {
	k, err := c.PublicKey(e.ctx)
	if err != nil {
		return nil, err
	}
	cv, err := audit.ParseVerifierKey(k)
	if err != nil {
		return nil, localf("the server's audit key: %v", err)
	}
	// Reading the log is itself audited, so it grows while it is read: the
	// export stops at the latest checkpoint seen now, and only checkpoints
	// (which come in size order) are read to find it.
	var cps []*keyward.AuditCheckpoint
	var after int64
	for {
		page, err := c.ListCheckpoints(e.ctx, after, maxAuditPage)
		if err != nil {
			return nil, err
		}
		for _, cp := range page {
			if cp == nil || cp.Size <= after {
				return nil, keyward.Errorf(keyward.EINTERNAL, "the server returned checkpoints out of order")
			}
			after = cp.Size
		}
		cps = append(cps, page...)
		if len(page) < maxAuditPage {
			break
		}
	}
	res := &exportResult{Size: after}

	bw := bufio.NewWriter(w)
	jw := audit.NewJSONLWriter(bw)
	if err := jw.WriteKey(cv); err != nil {
		return nil, localf("write key line: %v", err)
	}
	var seq int64
	for seq < res.Size {
		page, err := c.ListAudit(e.ctx, keyward.AuditFilter{AfterSeq: seq, Limit: int(min(maxAuditPage, res.Size-seq))})
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			return nil, keyward.Errorf(keyward.EINTERNAL, "the server has no record %d, which its checkpoint of %d records covers", seq+1, res.Size)
		}
		for _, r := range page {
			if r == nil || r.Seq != seq+1 || r.Seq > res.Size {
				return nil, keyward.Errorf(keyward.EINTERNAL, "the server returned audit records out of order")
			}
			if err := jw.WriteRecord(r); err != nil {
				return nil, localf("write record: %v", err)
			}
			res.Records++
			seq = r.Seq
			for len(cps) > 0 && cps[0].Size <= seq {
				if err := jw.WriteCheckpoint(cps[0]); err != nil {
					return nil, localf("write checkpoint: %v", err)
				}
				cps = cps[1:]
				res.Checkpoints++
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return nil, localf("write export: %v", err)
	}
	// How many records the export leaves out: the newest one's number.
	newest, err := c.ListAudit(e.ctx, keyward.AuditFilter{Descending: true, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(newest) > 0 && newest[0].Seq > res.Size {
		res.LeftOut = newest[0].Seq - res.Size
	}
	return res, nil
}

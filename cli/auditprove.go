package cli

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
)

func newAuditPublicKeyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "public-key",
		Short: "Print the key that signs audit checkpoints",
		Long: `Print the key that signs audit checkpoints, as a signed-note verifier key
(keyward/audit/<key id>+<hash>+<base64 key>), one line. Keep it where the
server cannot change it and pass it to --public-key-file. A key read from
the server proves nothing against the server itself: compare it, once, with
the data dir's audit-signing.pub (the same key in hex), which this command
also accepts.`,
		Args: exactArgs(),
		RunE: run(func(e *env, _ []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			k, err := c.PublicKey(e.ctx)
			if err != nil {
				return err
			}
			cv, err := audit.ParseVerifierKey(k)
			if err != nil {
				return localf("the server's audit key: %v", err)
			}
			return e.out(map[string]string{"verifierKey": cv.VerifierKey()}, func(w io.Writer) error {
				_, err := fmt.Fprintln(w, cv.VerifierKey())
				return err
			})
		}),
	}
}

// proveResult is what prove prints with --output json: the proof as the
// server sent it and what checking it here found.
type proveResult struct {
	*keyward.AuditProof
	Included bool   `json:"included"`
	Pinned   bool   `json:"pinned"`
	Reason   string `json:"reason,omitempty"`
}

func newAuditProveCmd() *cobra.Command {
	var size int64
	var keyFile string
	cmd := &cobra.Command{
		Use:   "prove SEQ [--size S] [--public-key-file F]",
		Short: "Prove that one audit record is in the signed log",
		Long: `Fetch the RFC 6962 inclusion proof of record SEQ in the tree of a signed
checkpoint (the latest, or the one of tree size --size) and check it here:
the checkpoint's signature, the record's leaf hash, and the path from it to
the checkpoint's root.

--public-key-file pins the checkpoint key (see keyward audit verify).
Without it the key the server reports is used and an UNPINNED line says so.

Exit status 0 when the proof holds, 6 when it does not.`,
		Args: exactArgs("SEQ"),
		RunE: run(func(e *env, args []string) error {
			seq, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || seq < 1 {
				return usagef("SEQ must be a record number from 1")
			}
			if size < 0 {
				return usagef("--size must not be negative")
			}
			pinned, err := pinnedVerifier(keyFile)
			if err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			cv := pinned
			if cv == nil {
				if cv, err = serverVerifier(e, c); err != nil {
					return err
				}
			}
			p, err := c.ProveRecord(e.ctx, seq, size)
			if err != nil {
				return err
			}
			res := &proveResult{AuditProof: p, Pinned: pinned != nil, Included: true}
			if err := audit.CheckProof(p, cv); err != nil {
				res.Included, res.Reason = false, err.Error()
			}
			if err := e.out(res, func(w io.Writer) error { return proofTable(w, res) }); err != nil {
				return err
			}
			if !res.Included {
				return &exitError{code: ExitAuditBroken}
			}
			if pinned == nil {
				unpinned(e, "the proof was checked against the key the server reports, not a pinned one")
			}
			return nil
		}),
	}
	cmd.Flags().Int64Var(&size, "size", 0, "prove against the checkpoint of this tree size (default: the latest)")
	cmd.Flags().StringVar(&keyFile, "public-key-file", "", "trust only checkpoints signed by this key")
	return cmd
}

func proofTable(w io.Writer, r *proveResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if rec := r.Record; rec != nil {
		fmt.Fprintf(tw, "record\t%d\n", rec.Seq)
		fmt.Fprintf(tw, "leaf hash\t%s\n", sanitizeLine(rec.Hash))
	}
	if cp := r.Checkpoint; cp != nil {
		fmt.Fprintf(tw, "tree size\t%d\n", cp.Size)
		fmt.Fprintf(tw, "root\t%s\n", sanitizeLine(cp.Root))
		fmt.Fprintf(tw, "checkpoint time\t%s\n", cp.Time.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(tw, "proof\t%d hashes\n", len(r.Proof))
	if err := tw.Flush(); err != nil {
		return err
	}
	var err error
	if r.Included {
		_, err = fmt.Fprintf(w, "included: record %d is in the signed tree of %d records\n", r.Record.Seq, r.Checkpoint.Size)
	} else {
		_, err = fmt.Fprintf(w, "NOT included: %s\n", sanitizeLine(r.Reason))
	}
	return err
}

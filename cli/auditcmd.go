package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
)

func newAuditCmd() *cobra.Command {
	return newNoun("audit", "Read, prove, verify and export the tamper-evident audit log",
		newAuditListCmd(),
		newAuditVerifyCmd(),
		newAuditProveCmd(),
		newAuditPublicKeyCmd(),
		newAuditExportCmd(),
	)
}

// maxAuditPage is the largest page of audit records the server serves.
const maxAuditPage = 1000

// auditExitCodes is the exit status part of the audit commands' help.
const auditExitCodes = `Exit status:
  0  verified (against the pinned key when one was given)
  6  the log, the file or the proof failed verification
  7  nothing wrong was found, but no --public-key-file was given: only the
     file's (or the server's) own key was used, which proves internal
     consistency, not who signed it (an UNPINNED line says so)
  other codes as for every command (1 error, 2 usage, 3 not found, 4 denied)`

func newAuditVerifyCmd() *cobra.Command {
	var file, keyFile, since string
	var allowTail bool
	cmd := &cobra.Command{
		Use:   "verify [--file EXPORT.jsonl [--allow-tail] | --since CHECKPOINT_FILE] [--public-key-file F]",
		Short: "Verify the audit log: on the server, in an exported file, or against a kept checkpoint",
		Long: `Verify that no audit record was changed, removed, inserted or reordered.

Without --file or --since the server checks its own store (records, tree,
signed checkpoints, the tail's tags and the witness) and reports how many
records are verified (covered by a signed checkpoint), how many are in the
tail (written after the last checkpoint, not yet verified) and which records
carried from the pre-tree chain no old checkpoint covered.

--file checks an export (keyward audit export) here, without the server. An
export ends with a checkpoint; records after the last one fail unless
--allow-tail (a live JSONL sink file), and are then reported as the tail.

--since checks that the server's log only grew since a checkpoint you kept
(the data dir's audit-witness file, or the note of a checkpoint line of an
export, or that whole line): the server sends an RFC 6962 consistency proof
from that checkpoint's size to its latest checkpoint, checked here.

--public-key-file pins the checkpoint key: the verifier key printed by
keyward audit public-key, or the Ed25519 key as PEM, hex (the data dir's
audit-signing.pub), base64 or 32 raw bytes. Without it --file trusts the
file's own key line and --since the key the server reports, which proves
only internal consistency: an UNPINNED line says so and the exit status is 7.

` + auditExitCodes,
		Args: exactArgs(),
		RunE: run(func(e *env, _ []string) error {
			switch {
			case file != "" && since != "":
				return usagef("--file and --since are two different checks: give one")
			case keyFile != "" && file == "" && since == "":
				return usagef("--public-key-file needs --file or --since")
			case allowTail && file == "":
				return usagef("--allow-tail needs --file")
			}
			pinned, err := pinnedVerifier(keyFile)
			if err != nil {
				return err
			}
			if since != "" {
				return verifySince(e, since, pinned)
			}
			var v *keyward.AuditVerification
			if file != "" {
				v, err = verifyFile(e, file, audit.FileOptions{Pinned: pinned, AllowTail: allowTail})
			} else {
				var c Client
				if c, err = e.client(); err != nil {
					return err
				}
				v, err = c.VerifyAudit(e.ctx)
			}
			if err != nil {
				return err
			}
			if v == nil {
				return keyward.Errorf(keyward.EINTERNAL, "no verification result")
			}
			if err := e.out(v, func(w io.Writer) error {
				_, err := fmt.Fprintln(w, verificationLine(v))
				return err
			}); err != nil {
				return err
			}
			if !v.OK {
				return &exitError{code: ExitAuditBroken}
			}
			if file != "" && pinned == nil {
				unpinned(e, "checked against the file's own key line only: the file is consistent with itself, which does not show who wrote it")
				return &exitError{code: ExitAuditUnpinned}
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&file, "file", "", "verify this exported JSONL file instead of the server's store (- for stdin)")
	cmd.Flags().StringVar(&since, "since", "", "check the server's log only grew since the checkpoint note in this file")
	cmd.Flags().StringVar(&keyFile, "public-key-file", "", "trust only checkpoints signed by this key")
	cmd.Flags().BoolVar(&allowTail, "allow-tail", false, "with --file: accept records after the last checkpoint (reported as the tail, not verified)")
	return cmd
}

// verificationLine says what a verification found: how many records, how
// many of them a signed checkpoint covers, the tail, and the legacy records
// nothing vouches for.
func verificationLine(v *keyward.AuditVerification) string {
	if !v.OK {
		reason := sanitizeLine(v.Reason)
		if reason == "" {
			reason = "unknown reason"
		}
		if v.FirstBadSeq > 0 {
			return fmt.Sprintf("audit log broken at record %d: %s", v.FirstBadSeq, reason)
		}
		return "audit log broken: " + reason
	}
	var b strings.Builder
	fmt.Fprintf(&b, "audit log intact: %d records", v.Records)
	if v.FirstSeq > 1 && v.Records > 0 {
		fmt.Fprintf(&b, " (%d-%d)", v.FirstSeq, v.FirstSeq+v.Records-1)
	}
	fmt.Fprintf(&b, ", %d verified by %d checkpoint", v.Verified, v.Checkpoints)
	if v.Checkpoints != 1 {
		b.WriteString("s")
	}
	if v.TreeSize > 0 {
		fmt.Fprintf(&b, " (latest: tree size %d)", v.TreeSize)
	}
	if v.TailRecords > 0 {
		fmt.Fprintf(&b, ", %d in the tail after the last checkpoint (not yet verified", v.TailRecords)
		if v.TailSince != nil {
			fmt.Fprintf(&b, ", oldest %s", v.TailSince.UTC().Format(time.RFC3339))
		}
		if v.TailTagged {
			b.WriteString(", tags checked")
		}
		b.WriteString(")")
	}
	if r := v.LegacyUnverified; r != nil {
		fmt.Fprintf(&b, "; records %d-%d, carried from the old hash chain, were covered by no signed checkpoint of it: unverified before the upgrade", r.First, r.Last)
	}
	return b.String()
}

func verifyFile(e *env, path string, o audit.FileOptions) (*keyward.AuditVerification, error) {
	var r io.Reader = e.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, localf("open --file: %v", err)
		}
		defer f.Close()
		r = f
	}
	v, err := audit.VerifyJSONL(bufio.NewReader(r), o)
	if err != nil {
		var de *keyward.Error
		if errors.As(err, &de) {
			return nil, err
		}
		return nil, localf("verify %s: %v", path, err)
	}
	return v, nil
}

// consistencyResult is what verify --since prints with --output json.
type consistencyResult struct {
	OK       bool                      `json:"ok"`
	Pinned   bool                      `json:"pinned"`
	From     int64                     `json:"from"`
	To       int64                     `json:"to,omitempty"`
	Reason   string                    `json:"reason,omitempty"`
	Proof    *keyward.AuditConsistency `json:"proof,omitempty"`
	KeptRoot string                    `json:"keptRoot,omitempty"`
}

// verifySince checks that the server's log only grew since the checkpoint
// kept in path.
func verifySince(e *env, path string, pinned *audit.CheckpointVerifier) error {
	note, err := readKeptCheckpoint(e, path)
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
	res := &consistencyResult{Pinned: pinned != nil}
	finish := func() error {
		if err := e.out(res, func(w io.Writer) error {
			if res.OK {
				_, err := fmt.Fprintf(w, "log grew from %d to %d records: consistent\n", res.From, res.To)
				return err
			}
			_, err := fmt.Fprintf(w, "log NOT consistent with the kept checkpoint: %s\n", sanitizeLine(res.Reason))
			return err
		}); err != nil {
			return err
		}
		if !res.OK {
			return &exitError{code: ExitAuditBroken}
		}
		if pinned == nil {
			unpinned(e, "both checkpoints were checked against the key the server reports, not a pinned one")
			return &exitError{code: ExitAuditUnpinned}
		}
		return nil
	}
	old, err := cv.Open(note)
	if err != nil {
		res.Reason = "the kept checkpoint: " + err.Error()
		return finish()
	}
	res.From, res.KeptRoot = old.Size, old.Root
	if old.Size < 1 {
		return usagef("--since: the kept checkpoint is of an empty log: there is nothing to check")
	}
	proof, err := c.ProveConsistency(e.ctx, old.Size, 0)
	if err != nil {
		if keyward.ErrorCode(err) != keyward.EINVALID {
			return err
		}
		// The server refuses a size beyond its latest checkpoint: unless
		// it has none that large, the kept one is not the problem.
		cps, lerr := c.ListCheckpoints(e.ctx, old.Size-1, 1)
		if lerr != nil || len(cps) > 0 {
			return err
		}
		res.Reason = fmt.Sprintf("the kept checkpoint covers %d records, but the server has no checkpoint that large: the log was truncated or rolled back", old.Size)
		return finish()
	}
	res.Proof = proof
	_, to, err := audit.CheckConsistency(note, proof, cv)
	if err != nil {
		res.Reason = err.Error()
		return finish()
	}
	res.OK, res.To = true, to.Size
	return finish()
}

// readKeptCheckpoint reads a checkpoint note from path: the note itself (a
// witness file), or a checkpoint line of an export.
func readKeptCheckpoint(e *env, path string) ([]byte, error) {
	b, err := readLimited(path, e.stdin, 4*audit.MaxNoteBytes)
	if err != nil {
		return nil, localf("read --since: %v", err)
	}
	if t := strings.TrimSpace(string(b)); strings.HasPrefix(t, "{") {
		var line struct {
			Note string `json:"note"`
		}
		if err := json.Unmarshal([]byte(t), &line); err != nil || line.Note == "" {
			return nil, usagef("--since: a JSON line that is not a checkpoint line with a note")
		}
		return []byte(line.Note), nil
	}
	return b, nil
}

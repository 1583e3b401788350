package cli

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
)

func newAuditCmd() *cobra.Command {
	return newNoun("audit", "Read, verify and export the tamper-evident audit trail",
		newAuditListCmd(),
		newAuditVerifyCmd(),
		newAuditExportCmd(),
	)
}

// maxAuditPage is the largest page of audit records the server serves.
const maxAuditPage = 1000

func newAuditVerifyCmd() *cobra.Command {
	var file, keyFile string
	cmd := &cobra.Command{
		Use:   "verify [--file EXPORT.jsonl [--public-key-file F]]",
		Short: "Verify the audit chain, on the server or in an exported file",
		Long: `Verify that no audit record was changed, removed, inserted or reordered,
and that the checkpoint signatures hold.

Without --file the server checks its own store. With --file an export
(keyward audit export) is checked here; --public-key-file names the server's
Ed25519 public key (PEM, hex, base64 or raw bytes) so that checkpoints signed
by any other key are refused.

Exit status 0 when the chain is intact, 6 when it is broken.`,
		Args: exactArgs(),
		RunE: run(func(e *env, _ []string) error {
			if keyFile != "" && file == "" {
				return usagef("--public-key-file needs --file")
			}
			var (
				v   *keyward.AuditVerification
				err error
			)
			if file != "" {
				v, err = verifyFile(e, file, keyFile)
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
			return nil
		}),
	}
	cmd.Flags().StringVar(&file, "file", "", "verify this exported JSONL file instead of the server's store (- for stdin)")
	cmd.Flags().StringVar(&keyFile, "public-key-file", "", "trust only checkpoints signed by this Ed25519 public key")
	return cmd
}

func verificationLine(v *keyward.AuditVerification) string {
	if v.OK {
		return fmt.Sprintf("audit chain intact: %d records, %d checkpoints", v.Records, v.Checkpoints)
	}
	reason := sanitizeLine(v.Reason)
	if reason == "" {
		reason = "unknown reason"
	}
	if v.FirstBadSeq > 0 {
		return fmt.Sprintf("audit chain broken at record %d: %s", v.FirstBadSeq, reason)
	}
	return "audit chain broken: " + reason
}

func verifyFile(e *env, path, keyFile string) (*keyward.AuditVerification, error) {
	var pub ed25519.PublicKey
	if keyFile != "" {
		b, err := readLimited(keyFile, nil, 64<<10)
		if err != nil {
			return nil, localf("read --public-key-file: %v", err)
		}
		if pub, err = parsePublicKey(b); err != nil {
			return nil, usagef("--public-key-file: %v", err)
		}
	}
	var r io.Reader = e.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, localf("open --file: %v", err)
		}
		defer f.Close()
		r = f
	}
	v, err := verifyJSONL(bufio.NewReader(r), pub)
	if err != nil {
		var de *keyward.Error
		if errors.As(err, &de) {
			return nil, err
		}
		return nil, localf("verify %s: %v", path, err)
	}
	return v, nil
}

// parsePublicKey reads an Ed25519 public key as PEM (PKIX), hex, base64 or
// the 32 raw bytes.
func parsePublicKey(b []byte) (ed25519.PublicKey, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("bad PEM public key: %v", err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, errors.New("not an Ed25519 public key")
		}
		return pub, nil
	}
	if len(b) == ed25519.PublicKeySize {
		return ed25519.PublicKey(b), nil
	}
	s := string(bytes.TrimSpace(b))
	if k, err := hex.DecodeString(s); err == nil && len(k) == ed25519.PublicKeySize {
		return ed25519.PublicKey(k), nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == ed25519.PublicKeySize {
			return ed25519.PublicKey(k), nil
		}
	}
	return nil, errors.New("not an Ed25519 public key (want PEM, hex, base64 or 32 raw bytes)")
}

func newAuditExportCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "export [--out FILE]",
		Short: "Export the whole audit trail as JSONL",
		Long: `Export the audit trail as JSONL: every record up to the moment the export
ends, in sequence order, each checkpoint right after the record it signs.
It goes to stdout or to a new file (created 0600; an existing file is never
overwritten). Check an export with: keyward audit verify --file FILE.`,
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
			records, checkpoints, err := exportAudit(e, c, w)
			if f != nil {
				if cerr := f.Close(); err == nil && cerr != nil {
					err = localf("write %s: %v", out, cerr)
				}
				if err != nil {
					os.Remove(out) // a partial export would verify as a shorter chain
					return err
				}
			}
			if err != nil || f == nil {
				return err
			}
			return e.done(map[string]any{"file": out, "records": records, "checkpoints": checkpoints},
				"Exported %d records and %d checkpoints to %s.", records, checkpoints, sanitizeLine(out))
		}),
	}
	cmd.Flags().StringVar(&out, "out", "", "write to this new file instead of stdout")
	return cmd
}

// exportAudit pages through checkpoints and records and writes them to w.
func exportAudit(e *env, c Client, w io.Writer) (records, checkpoints int, err error) {
	var cps []*keyward.AuditCheckpoint
	var after int64
	for {
		page, err := c.ListCheckpoints(e.ctx, after, maxAuditPage)
		if err != nil {
			return 0, 0, err
		}
		if len(page) == 0 {
			break
		}
		last := page[len(page)-1].Seq
		if last <= after && len(cps) > 0 {
			return 0, 0, keyward.Errorf(keyward.EINTERNAL, "the server returned checkpoints out of order")
		}
		cps = append(cps, page...)
		after = last
		if len(page) < maxAuditPage {
			break
		}
	}

	bw := bufio.NewWriter(w)
	jw := newJSONLWriter(bw)
	writeCheckpoints := func(upTo int64) error {
		for len(cps) > 0 && cps[0].Seq <= upTo {
			if err := jw.WriteCheckpoint(cps[0]); err != nil {
				return localf("write checkpoint: %v", err)
			}
			cps = cps[1:]
			checkpoints++
		}
		return nil
	}
	// Reading the trail is itself audited, so the chain grows while it is
	// read: the export ends at the first page that is not full, and holds a
	// prefix of the chain with the checkpoints that fall inside it.
	after = 0
	for {
		page, err := c.ListAudit(e.ctx, keyward.AuditFilter{AfterSeq: after, Limit: maxAuditPage})
		if err != nil {
			return 0, 0, err
		}
		for _, r := range page {
			if r.Seq <= after {
				return 0, 0, keyward.Errorf(keyward.EINTERNAL, "the server returned audit records out of order")
			}
			if err := jw.WriteRecord(r); err != nil {
				return 0, 0, localf("write record: %v", err)
			}
			records++
			after = r.Seq
			if err := writeCheckpoints(r.Seq); err != nil {
				return 0, 0, err
			}
		}
		if len(page) < maxAuditPage {
			break
		}
	}
	if err := bw.Flush(); err != nil {
		return 0, 0, localf("write export: %v", err)
	}
	return records, checkpoints, nil
}

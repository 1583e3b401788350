package cli

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
)

func newSecretsCmd() *cobra.Command {
	return newNoun("secrets", "Manage encrypted, versioned secrets",
		newSecretsCreateCmd(),
		newSecretsPutCmd(),
		newSecretsGetCmd(),
		newSecretsDescribeCmd(),
		newSecretsListCmd(),
		newSecretsDeleteCmd(),
		newSecretsRestoreCmd(),
		newSecretsMoveStageCmd(),
		newSecretsRotateCmd(),
		newSecretsCancelRotationCmd(),
		newSecretsRotationsCmd(),
	)
}

func newSecretsCreateCmd() *cobra.Command {
	var (
		in       keyward.SecretCreate
		tags     tagsFlag
		fromFile string
		stdin    bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME [flags]",
		Short: "Create a secret, with a first value read from stdin or a file",
		Long: `Create a secret. Its first value, if any, is read from stdin (--stdin) or
a file (--from-file), exactly as given: a trailing newline is kept. Values
are never taken from the command line.`,
		Example: `  keyward secrets create openai/prod-key --stdin < key.txt
  printf %s "$VALUE" | keyward secrets create db/password --stdin`,
		Args: exactArgs("NAME"),
		RunE: run(func(e *env, args []string) error {
			in.Name = args[0]
			in.Tags = tags.m
			if stdin && fromFile != "" {
				return usagef("--stdin and --from-file cannot be used together")
			}
			if in.Binary && !stdin && fromFile == "" {
				return usagef("--binary needs a value from --stdin or --from-file")
			}
			src, flag := fromFile, "--from-file"
			if stdin {
				src, flag = "-", "stdin"
			}
			if src != "" {
				v, err := e.readSecret(src, flag, in.Binary)
				if err != nil {
					return err
				}
				in.Value = v
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ref, err := c.CreateSecret(e.ctx, in)
			if err != nil {
				return err
			}
			return e.out(ref, func(w io.Writer) error { return printVersionRef(w, ref) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&in.Description, "description", "", "description")
	f.Var(&tags, "tag", "tag as key=value (repeatable)")
	f.StringVar(&fromFile, "from-file", "", "read the first value from this file (- for stdin)")
	f.BoolVar(&stdin, "stdin", false, "read the first value from stdin")
	f.BoolVar(&in.Binary, "binary", false, "the value is bytes, not UTF-8 text")
	f.StringVar(&in.ClientToken, "client-token", "", "idempotency token; becomes the version ID")
	return cmd
}

func printVersionRef(w io.Writer, ref *keyward.SecretVersionRef) error {
	f := newFields(w)
	f.add("Name", ref.Name)
	f.add("ARN", ref.ARN)
	f.add("Version", ref.VersionID)
	return f.flush()
}

func newSecretsPutCmd() *cobra.Command {
	var (
		in       keyward.SecretPut
		fromFile string
		stages   = stringsFlag("STAGE")
	)
	cmd := &cobra.Command{
		Use:   "put NAME [flags]",
		Short: "Add a version of a secret, read from stdin or a file",
		Long: `Add a version to a secret. The value is read from stdin unless
--from-file is given, exactly as given (a trailing newline is kept). The new
version becomes CURRENT unless --stage says otherwise.`,
		Example: `  keyward secrets put openai/prod-key < new-key.txt`,
		Args:    exactArgs("NAME"),
		RunE: run(func(e *env, args []string) error {
			src, flag := "-", "stdin"
			if fromFile != "" {
				src, flag = fromFile, "--from-file"
			}
			v, err := e.readSecret(src, flag, in.Binary)
			if err != nil {
				return err
			}
			in.Value = v
			if len(stages.items) > 0 {
				in.Stages = stages.items
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ref, err := c.PutSecretValue(e.ctx, args[0], in)
			if err != nil {
				return err
			}
			return e.out(ref, func(w io.Writer) error { return printVersionRef(w, ref) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&fromFile, "from-file", "", "read the value from this file (- for stdin)")
	f.BoolVar(&in.Binary, "binary", false, "the value is bytes, not UTF-8 text")
	f.StringVar(&in.ClientToken, "client-token", "", "idempotency token; becomes the version ID")
	f.Var(stages, "stage", "staging label of the new version (repeatable; default CURRENT)")
	return cmd
}

// secretValueJSON is the -o json form of a secret value: the value as
// secretString, or base64 in secretBinary, as Secrets Manager does.
type secretValueJSON struct {
	Name          string   `json:"name"`
	VersionID     string   `json:"versionId"`
	VersionStages []string `json:"versionStages"`
	CreatedAt     string   `json:"createdAt,omitempty"`
	SecretString  *string  `json:"secretString,omitempty"`
	SecretBinary  []byte   `json:"secretBinary,omitempty"`
}

func newSecretsGetCmd() *cobra.Command {
	var sel keyward.SecretSelector
	cmd := &cobra.Command{
		Use:   "get NAME [--version-id V | --stage S]",
		Short: "Print a secret's value (audited)",
		Long: `Print a secret's value exactly as stored. On a terminal a newline follows
a value that does not end with one, so that the prompt starts on a line of
its own; into a pipe or a file nothing is added. With -o json, print an
object with secretString (text) or secretBinary (base64).`,
		Example: `  export OPENAI_API_KEY="$(keyward secrets get openai/prod-key)"`,
		Args:    exactArgs("NAME"),
		RunE: run(func(e *env, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			v, err := c.GetSecretValue(e.ctx, args[0], sel)
			if err != nil {
				return err
			}
			e.st.secret(string(v.Value))
			if !e.json {
				out := v.Value
				if e.stdoutIsTerminal() && !bytes.HasSuffix(out, []byte("\n")) {
					out = append(out[:len(out):len(out)], '\n')
				}
				_, err := e.stdout.Write(out)
				return err
			}
			out := secretValueJSON{Name: v.Name, VersionID: v.VersionID, VersionStages: v.Stages, CreatedAt: fmtTime(v.CreatedAt)}
			if out.VersionStages == nil {
				out.VersionStages = []string{}
			}
			if v.Binary {
				out.SecretBinary = v.Value
				if out.SecretBinary == nil {
					out.SecretBinary = []byte{}
				}
			} else {
				s := string(v.Value)
				out.SecretString = &s
			}
			return writeJSON(e.stdout, out)
		}),
	}
	cmd.Flags().StringVar(&sel.VersionID, "version-id", "", "version to read")
	cmd.Flags().StringVar(&sel.Stage, "stage", "", "staging label of the version to read (default CURRENT)")
	return cmd
}

func newSecretsDescribeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a secret's metadata and versions (never its value)",
		Args:  exactArgs("NAME"),
		RunE: run(func(e *env, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			s, err := c.DescribeSecret(e.ctx, args[0])
			if err != nil {
				return err
			}
			return e.out(s, func(w io.Writer) error { return printSecret(w, s) })
		}),
	}
}

func printSecret(w io.Writer, s *keyward.Secret) error {
	f := newFields(w)
	f.add("Name", s.Name)
	f.add("ARN", s.ARN)
	f.add("Description", s.Description)
	f.add("Tags", fmtTags(s.Tags))
	f.add("Created", fmtTime(s.CreatedAt))
	f.add("Updated", fmtTime(s.UpdatedAt))
	f.add("Last accessed", fmtTimePtr(s.LastAccessedAt, "never"))
	if s.DeletionDate != nil {
		f.add("Deletion date", fmtTime(*s.DeletionDate))
	}
	f.add("Rotation", fmtSecretRotation(s.Rotation))
	ids := make([]string, 0, len(s.VersionIDsToStages))
	for id := range s.VersionIDsToStages {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		f.add("Version "+id, strings.Join(s.VersionIDsToStages[id], ", "))
	}
	return f.flush()
}

func newSecretsListCmd() *cobra.Command {
	var (
		filter keyward.SecretFilter
		page   pageFlags
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List secrets (never their values)",
		Args:  exactArgs(),
		RunE: run(func(e *env, _ []string) error {
			if err := page.check(); err != nil {
				return err
			}
			if filter.TagValue != "" && filter.TagKey == "" {
				return usagef("--tag-value needs --tag-key")
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			secrets, next, err := collect(e, page, func(p keyward.Page) ([]*keyward.Secret, string, error) {
				f := filter
				f.Page = p
				return c.ListSecrets(e.ctx, f)
			})
			if err != nil {
				return err
			}
			e.moreHint(next)
			return e.out(secrets, func(w io.Writer) error {
				t := newTable(w, "NAME", "DESCRIPTION", "UPDATED", "DELETION")
				for _, s := range secrets {
					t.row(s.Name, s.Description, fmtTime(s.UpdatedAt), fmtTimePtr(s.DeletionDate, ""))
				}
				return t.flush()
			})
		}),
	}
	cmd.Flags().StringVar(&filter.NamePrefix, "prefix", "", "only secrets whose name starts with this")
	cmd.Flags().StringVar(&filter.TagKey, "tag-key", "", "only secrets with this tag")
	cmd.Flags().StringVar(&filter.TagValue, "tag-value", "", "only secrets whose --tag-key tag has this value")
	cmd.Flags().BoolVar(&filter.IncludeDeleted, "include-deleted", false, "include secrets pending deletion")
	page.register(cmd)
	return cmd
}

func newSecretsDeleteCmd() *cobra.Command {
	var d keyward.SecretDelete
	cmd := &cobra.Command{
		Use:   "delete NAME [--recovery-window-days N | --force]",
		Short: "Schedule a secret's deletion, or delete it at once with --force",
		Args:  exactArgs("NAME"),
		RunE: run(func(e *env, args []string) error {
			if d.Force && changed(e.cmd, "recovery-window-days") {
				return usagef("--recovery-window-days and --force cannot be used together")
			}
			if changed(e.cmd, "recovery-window-days") && (d.RecoveryWindowDays < 7 || d.RecoveryWindowDays > 30) {
				return usagef("--recovery-window-days must be between 7 and 30")
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			s, err := c.DeleteSecret(e.ctx, args[0], d)
			if err != nil {
				return err
			}
			if e.json {
				if s == nil {
					return writeJSON(e.stdout, map[string]any{"secret": args[0], "deleted": true})
				}
				return writeJSON(e.stdout, s)
			}
			if s != nil && s.DeletionDate != nil && !d.Force {
				return e.done(nil, "Secret %s will be deleted on %s; restore it before then with: keyward secrets restore %s",
					sanitizeLine(args[0]), fmtTime(*s.DeletionDate), sanitizeLine(args[0]))
			}
			return e.done(nil, "Secret %s deleted.", sanitizeLine(args[0]))
		}),
	}
	cmd.Flags().IntVar(&d.RecoveryWindowDays, "recovery-window-days", 0, "days the secret can still be restored (7-30, default 30)")
	cmd.Flags().BoolVar(&d.Force, "force", false, "delete at once, with no recovery window")
	return cmd
}

func newSecretsRestoreCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "restore NAME",
		Short: "Cancel a secret's scheduled deletion",
		Args:  exactArgs("NAME"),
		RunE: run(func(e *env, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			s, err := c.RestoreSecret(e.ctx, args[0])
			if err != nil {
				return err
			}
			if e.json && s != nil {
				return writeJSON(e.stdout, s)
			}
			return e.done(map[string]any{"secret": args[0], "restored": true}, "Secret %s restored.", sanitizeLine(args[0]))
		}),
	}
}

func newSecretsMoveStageCmd() *cobra.Command {
	var m keyward.StageMove
	cmd := &cobra.Command{
		Use:     "move-stage NAME STAGE [--to VERSION] [--from VERSION]",
		Short:   "Move a staging label onto a version and/or off another",
		Example: `  keyward secrets move-stage db/password CURRENT --to v2 --from v1`,
		Args:    exactArgs("NAME", "STAGE"),
		RunE: run(func(e *env, args []string) error {
			m.Stage = args[1]
			if m.MoveTo == "" && m.RemoveFrom == "" {
				return usagef("give --to, --from or both")
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			if err := c.UpdateSecretVersionStage(e.ctx, args[0], m); err != nil {
				return err
			}
			out := map[string]any{"secret": args[0], "versionStage": m.Stage}
			if m.MoveTo != "" {
				out["moveToVersionId"] = m.MoveTo
			}
			if m.RemoveFrom != "" {
				out["removeFromVersionId"] = m.RemoveFrom
			}
			line := fmt.Sprintf("Stage %s of secret %s moved", sanitizeLine(m.Stage), sanitizeLine(args[0]))
			if m.MoveTo != "" {
				line += " to version " + sanitizeLine(m.MoveTo)
			}
			if m.RemoveFrom != "" {
				line += " off version " + sanitizeLine(m.RemoveFrom)
			}
			return e.done(out, "%s.", line)
		}),
	}
	cmd.Flags().StringVar(&m.MoveTo, "to", "", "version to put the label on")
	cmd.Flags().StringVar(&m.RemoveFrom, "from", "", "version to take the label off")
	return cmd
}

package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
)

func newPoliciesCmd() *cobra.Command {
	return newNoun("policies", "Manage policies and attach them to principals",
		newPoliciesCreateCmd(),
		newPoliciesGetCmd(),
		newPoliciesListCmd(),
		newPoliciesDeleteCmd(),
		newPoliciesAttachCmd(true),
		newPoliciesAttachCmd(false),
	)
}

func newPoliciesCreateCmd() *cobra.Command {
	var (
		in  keyward.PolicyCreate
		doc string
	)
	cmd := &cobra.Command{
		Use:   "create NAME --document FILE|- [flags]",
		Short: "Create a policy from a JSON document",
		Example: `  keyward policies create read-chat-secrets --document policy.json
  keyward policies create ci-deny --document - < deny.json`,
		Args: exactArgs("NAME"),
		RunE: run(func(e *env, args []string) error {
			in.Name = args[0]
			if doc == "" {
				return usagef("--document is required (a file, or - for stdin)")
			}
			b, err := readLimited(doc, e.stdin, maxDocumentSize)
			if errors.Is(err, errTooLarge) {
				return usagef("the policy document is larger than %d bytes", maxDocumentSize)
			}
			if err != nil {
				return localf("read --document: %v", err)
			}
			b = bytes.TrimSpace(b)
			if !json.Valid(b) {
				return usagef("the policy document is not valid JSON")
			}
			in.Document = b
			c, err := e.client()
			if err != nil {
				return err
			}
			p, err := c.CreatePolicy(e.ctx, in)
			if err != nil {
				return err
			}
			return e.out(p, func(w io.Writer) error { return printPolicy(w, p) })
		}),
	}
	cmd.Flags().StringVar(&doc, "document", "", "JSON policy document file (- for stdin)")
	cmd.Flags().StringVar(&in.Description, "description", "", "description")
	return cmd
}

func printPolicy(w io.Writer, p *keyward.Policy) error {
	f := newFields(w)
	f.add("ID", p.ID)
	f.add("Name", p.Name)
	f.add("Description", p.Description)
	f.add("Built in", fmtBool(p.BuiltIn))
	f.add("Created", fmtTime(p.CreatedAt))
	f.add("Updated", fmtTime(p.UpdatedAt))
	if err := f.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return writeJSON(w, p.Document)
}

func newPoliciesGetCmd() *cobra.Command {
	return getCmd("POLICY", "Show a policy and its document (by name or ID)", Client.GetPolicy, namesUnused(printPolicy))
}

func newPoliciesListCmd() *cobra.Command {
	return listCmd("List policies, built-in roles included", Client.ListPolicies,
		[]string{"NAME", "ID", "BUILT IN", "STATEMENTS", "DESCRIPTION"},
		func(p *keyward.Policy, _ *names) []string {
			return []string{p.Name, p.ID, fmtBool(p.BuiltIn), fmt.Sprint(len(p.Document.Statement)), p.Description}
		})
}

func newPoliciesDeleteCmd() *cobra.Command {
	return deleteCmd("POLICY", "Delete a policy (not a built-in one, nor one still attached)", "policy", "Policy", Client.DeletePolicy)
}

func newPoliciesAttachCmd(attach bool) *cobra.Command {
	use, short, verb, key := "attach", "Attach a policy to a principal", "attached to", "attached"
	if !attach {
		use, short, verb, key = "detach", "Detach a policy from a principal", "detached from", "detached"
	}
	return &cobra.Command{
		Use:   use + " POLICY PRINCIPAL",
		Short: short,
		Args:  exactArgs("POLICY", "PRINCIPAL"),
		RunE: run(func(e *env, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			if attach {
				err = c.AttachPolicy(e.ctx, args[0], args[1])
			} else {
				err = c.DetachPolicy(e.ctx, args[0], args[1])
			}
			if err != nil {
				return err
			}
			return e.done(map[string]any{"policy": args[0], "principal": args[1], key: true},
				"Policy %s %s principal %s.", sanitizeLine(args[0]), verb, sanitizeLine(args[1]))
		}),
	}
}

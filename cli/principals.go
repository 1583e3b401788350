package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
)

func newPrincipalsCmd() *cobra.Command {
	return newNoun("principals", "Manage who may call the admin API, and their tokens",
		newPrincipalsCreateCmd(),
		newPrincipalsGetCmd(),
		newPrincipalsListCmd(),
		newPrincipalsDeleteCmd(),
		newPrincipalsTokenCmd(),
	)
}

func newPrincipalsCreateCmd() *cobra.Command {
	var (
		in    keyward.PrincipalCreate
		roles = stringsFlag("ROLE")
	)
	cmd := &cobra.Command{
		Use:   "create NAME --role ROLE [--role ...] [flags]",
		Short: "Create a principal and print its first admin token (shown once)",
		Long: `Create a principal with roles (built-in roles such as admin, deployer,
reader, auditor, rotator, or policy names/IDs) and print its first admin
token. The token is shown only once.`,
		Example: `  keyward principals create ci --role deployer -o json`,
		Args:    exactArgs("NAME"),
		RunE: run(func(e *env, args []string) error {
			in.Name = args[0]
			in.Roles = roles.items
			if len(in.Roles) == 0 {
				return usagef("at least one --role is required")
			}
			if in.Type != "" && in.Type != "user" && in.Type != "service" {
				return usagef("--type must be user or service")
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			cp, err := c.CreatePrincipal(e.ctx, in)
			if err != nil {
				return err
			}
			if cp == nil || cp.Principal == nil {
				return keyward.Errorf(keyward.EINTERNAL, "the server returned no principal")
			}
			e.st.secret(cp.Token)
			if e.json {
				extra := map[string]any{}
				if cp.Token != "" {
					extra["token"] = cp.Token
				}
				m, err := merge(cp.Principal, extra)
				if err != nil {
					return err
				}
				return writeJSON(e.stdout, m)
			}
			f := newFields(e.stdout)
			f.add("ID", cp.Principal.ID)
			f.add("Name", cp.Principal.Name)
			f.add("Type", cp.Principal.Type)
			f.add("Token", cp.Token)
			if err := f.flush(); err != nil {
				return err
			}
			if cp.Token != "" {
				warnf(e.stderr, "this token is shown only once: store it now")
			}
			return nil
		}),
	}
	cmd.Flags().Var(roles, "role", "built-in role or policy to attach (repeatable)")
	cmd.Flags().StringVar(&in.Type, "type", "", "user or service (default service)")
	cmd.Flags().StringVar(&in.Description, "description", "", "description")
	return cmd
}

func printPrincipal(w io.Writer, p *keyward.Principal, n *names) error {
	f := newFields(w)
	f.add("ID", p.ID)
	f.add("Name", p.Name)
	f.add("Type", p.Type)
	f.add("Description", p.Description)
	f.add("Policies", joinLabels(n, kindPolicy, p.PolicyIDs, ", "))
	f.add("Created", fmtTime(p.CreatedAt))
	f.add("Updated", fmtTime(p.UpdatedAt))
	return f.flush()
}

func newPrincipalsGetCmd() *cobra.Command {
	return getCmd("PRINCIPAL", "Show a principal (by name or ID)", Client.GetPrincipal, printPrincipal)
}

func newPrincipalsListCmd() *cobra.Command {
	return listCmd("List principals", Client.ListPrincipals,
		[]string{"NAME", "ID", "TYPE", "POLICIES", "CREATED"},
		func(p *keyward.Principal, n *names) []string {
			return []string{p.Name, p.ID, p.Type, joinLabels(n, kindPolicy, p.PolicyIDs, ", "), fmtTime(p.CreatedAt)}
		})
}

func newPrincipalsDeleteCmd() *cobra.Command {
	return deleteCmd("PRINCIPAL", "Delete a principal and its tokens", "principal", "Principal", Client.DeletePrincipal)
}

func newPrincipalsTokenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "token PRINCIPAL",
		Short: "Issue another admin token for a principal and print it (shown once)",
		Long: `Issue another admin token for a principal. The table output is the token
alone, so it can be redirected to a file used with --token-file; -o json
adds the token's ID and hint.`,
		Example: `  (umask 077; keyward principals token ci > ci.token)`,
		Args:    exactArgs("PRINCIPAL"),
		RunE: run(func(e *env, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			tok, meta, err := c.CreateToken(e.ctx, args[0])
			if err != nil {
				return err
			}
			e.st.secret(tok)
			if e.json {
				var base any = map[string]any{}
				if meta != nil {
					base = meta
				}
				m, err := merge(base, map[string]any{"token": tok})
				if err != nil {
					return err
				}
				return writeJSON(e.stdout, m)
			}
			if _, err := fmt.Fprintln(e.stdout, tok); err != nil {
				return err
			}
			warnf(e.stderr, "this token is shown only once: store it now")
			return nil
		}),
	}
}

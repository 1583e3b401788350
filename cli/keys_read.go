package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
)

// Reading keys: get (by ID or name), list, value and usage.

func newKeysGetCmd() *cobra.Command {
	cmd := refCmd("get", "KEY", "Show a key, by ID or name (never its value)", func(e *env, c Client, ref string) error {
		k, err := findKey(e, c, ref)
		if err != nil {
			return err
		}
		return e.out(k, func(w io.Writer) error { return printKey(w, k, newNames(e.ctx, c)) })
	})
	cmd.Long = `Show a key, named by its ID or its name. Key names need not be unique:
when several keys share the name, the command fails and lists their IDs.`
	cmd.Example = `  keyward keys get key_abc
  keyward keys get ci-bot -o json`
	return cmd
}

// findKey gets the key whose ID, or else whose name, is ref. Key names,
// unlike the names of APIs and plans, need not be unique, so the server
// resolves only IDs: a name is looked up in the key list (by exact name:
// a prefix would page through every key it prefixes, 111,111 for k1 among
// k1..k1000000), and a name two keys share is refused with their IDs
// rather than guessed. A server older than the exact-name filter refuses
// the unknown parameter; the CLI then asks it by prefix, as it used to.
func findKey(e *env, c Client, ref string) (*keyward.APIKey, error) {
	var byID error
	if strings.HasPrefix(ref, "key_") {
		k, err := c.GetKey(e.ctx, ref)
		if keyward.ErrorCode(err) != keyward.ENOTFOUND {
			return k, err
		}
		byID = err // perhaps a name that looks like an ID
	}
	var ids []string
	page := keyward.Page{Limit: maxPageLimit}
	filter := keyward.KeyFilter{Name: ref}
	for {
		filter.Page = page
		keys, next, err := c.ListKeys(e.ctx, filter)
		if err != nil && filter.Name != "" && page.Position == "" && keyward.ErrorCode(err) == keyward.EINVALID {
			filter = keyward.KeyFilter{NamePrefix: ref} // a server without the name filter
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if k.Name == ref { // the server filtered by name, or by prefix
				ids = append(ids, k.ID)
			}
		}
		if next == "" || next == page.Position {
			break
		}
		page.Position = next
	}
	switch {
	case len(ids) == 1:
		return c.GetKey(e.ctx, ids[0])
	case len(ids) > 1:
		return nil, keyward.Errorf(keyward.EINVALID, "%d keys are named %q (%s): give the ID of one", len(ids), ref, strings.Join(ids, ", "))
	case byID != nil:
		return nil, byID
	}
	return nil, keyward.Errorf(keyward.ENOTFOUND, "no key has the ID or name %q", ref)
}

func printKey(w io.Writer, k *keyward.APIKey, n *names) error {
	f := newFields(w)
	f.add("ID", k.ID)
	f.add("Name", k.Name)
	f.add("Description", k.Description)
	f.add("Customer", k.CustomerID)
	f.add("Enabled", fmtBool(k.Enabled))
	f.add("Prefix", k.Prefix)
	f.add("Expires", fmtTimePtr(k.ExpiresAt, "never"))
	stages := make([]string, len(k.StageKeys))
	for i, s := range k.StageKeys {
		stages[i] = n.stage(s.APIID, s.Stage)
	}
	f.add("Stages", strings.Join(stages, ", "))
	f.add("Plans", joinLabels(n, kindPlan, k.PlanIDs, ", "))
	f.add("Models", strings.Join(k.Scopes.Models, ", "))
	routes := make([]string, len(k.Scopes.Routes))
	for i, r := range k.Scopes.Routes {
		routes[i] = r.Method + " " + r.Path
	}
	f.add("Routes", strings.Join(routes, ", "))
	f.add("Tags", fmtTags(k.Tags))
	f.add("Recoverable", fmtBool(k.Recoverable))
	if k.ValueSecret != "" {
		f.add("Value secret", k.ValueSecret)
	}
	f.add("Rotation", fmtRotationPolicy(k.Rotation, "none of its own"))
	for _, c := range k.Credentials {
		desc := c.Hint + " since " + fmtTime(c.CreatedAt)
		if c.GraceUntil != nil {
			desc += ", accepted until " + fmtTime(*c.GraceUntil)
		}
		f.add("Credential "+string(c.Label), desc)
	}
	f.add("Last used", fmtTimePtr(k.LastUsedAt, "never"))
	f.add("Created", fmtTime(k.CreatedAt))
	f.add("Updated", fmtTime(k.UpdatedAt))
	return f.flush()
}

func newKeysListCmd() *cobra.Command {
	var (
		filter    keyward.KeyFilter
		page      pageFlags
		unusedFor durationFlag
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List keys",
		Args:  exactArgs(),
		RunE: run(func(e *env, _ []string) error {
			if err := page.check(); err != nil {
				return err
			}
			if changed(e.cmd, "unused-for") {
				since := e.now().Add(-unusedFor.d)
				filter.UnusedSince = &since
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			keys, next, err := collect(e, page, func(p keyward.Page) ([]*keyward.APIKey, string, error) {
				f := filter
				f.Page = p
				return c.ListKeys(e.ctx, f)
			})
			if err != nil {
				return err
			}
			e.moreHint(next)
			return e.out(keys, func(w io.Writer) error { return printKeys(w, keys) })
		}),
	}
	cmd.Flags().StringVar(&filter.NamePrefix, "name-prefix", "", "only keys whose name starts with this")
	cmd.Flags().StringVar(&filter.CustomerID, "customer-id", "", "only keys of this customer")
	cmd.Flags().StringVar(&filter.PlanID, "plan", "", "only keys attached to this plan (name or ID)")
	cmd.Flags().Var(&unusedFor, "unused-for", "only keys not used for this long (e.g. 30d): last used, or created if never used, before then")
	page.register(cmd)
	return cmd
}

func printKeys(w io.Writer, keys []*keyward.APIKey) error {
	t := newTable(w, "ID", "NAME", "ENABLED", "CUSTOMER", "EXPIRES", "CREATED", "LAST USED")
	for _, k := range keys {
		t.row(k.ID, k.Name, fmtBool(k.Enabled), k.CustomerID, fmtTimePtr(k.ExpiresAt, "never"), fmtTime(k.CreatedAt), fmtTimePtr(k.LastUsedAt, "never"))
	}
	return t.flush()
}

func newKeysValueCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "value KEY_ID",
		Short: "Print the value of a recoverable key (audited)",
		Args:  exactArgs("KEY_ID"),
		RunE: run(func(e *env, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			v, err := c.ReadKeyValue(e.ctx, args[0])
			if err != nil {
				return err
			}
			e.st.secret(v)
			if e.json {
				return writeJSON(e.stdout, map[string]any{"id": args[0], "value": v})
			}
			_, err = fmt.Fprintln(e.stdout, v)
			return err
		}),
	}
}

func newKeysUsageCmd() *cobra.Command {
	var from, to dayFlag
	cmd := &cobra.Command{
		Use:   "usage KEY_ID [--from DAY] [--to DAY]",
		Short: "Show a key's requests and tokens per day",
		Long: `Show what a key used per UTC day, as the gateway counted it: requests,
and for OpenAI-compatible APIs the prompt (in) and completion (out) tokens
the upstream reported. Days without use are left out.

--from and --to are days as YYYY-MM-DD (UTC), both included; by default the
30 days up to today. At most 366 days at a time.`,
		Example: `  keyward keys usage key_abc
  keyward keys usage key_abc --from 2025-03-01 --to 2025-03-31 -o json`,
		Args: exactArgs("KEY_ID"),
		RunE: run(func(e *env, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			rows, err := c.GetKeyUsage(e.ctx, args[0], from.t, to.t)
			if err != nil {
				return err
			}
			if rows == nil {
				rows = []keyward.UsageDay{} // [] in JSON, not null
			}
			return e.out(rows, func(w io.Writer) error { return printUsage(w, rows) })
		}),
	}
	cmd.Flags().Var(&from, "from", "first day, as YYYY-MM-DD (default: 29 days before --to)")
	cmd.Flags().Var(&to, "to", "last day, as YYYY-MM-DD (default: today, UTC)")
	return cmd
}

func printUsage(w io.Writer, rows []keyward.UsageDay) error {
	t := newTable(w, "DAY", "REQUESTS", "TOKENS_IN", "TOKENS_OUT")
	for _, r := range rows {
		t.row(r.Day, strconv.FormatInt(r.Requests, 10), strconv.FormatInt(r.TokensIn, 10), strconv.FormatInt(r.TokensOut, 10))
	}
	return t.flush()
}

package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
)

func newKeysCmd() *cobra.Command {
	return newNoun("keys", "Manage API keys",
		newKeysCreateCmd(),
		newKeysGetCmd(),
		newKeysListCmd(),
		newKeysUpdateCmd(),
		newKeysEnableCmd(false),
		newKeysEnableCmd(true),
		newKeysDeleteCmd(),
		newKeysValueCmd(),
		newKeysUsageCmd(),
		newKeysRotateCmd(),
		newKeysRevokePreviousCmd(),
		newKeysRotationsCmd(),
	)
}

func newKeysCreateCmd() *cobra.Command {
	var (
		in          keyward.KeyCreate
		disabled    bool
		expires     durationFlag
		stages      = newListFlag("API/STAGE", parseStageKey)
		plans       = stringsFlag("PLAN")
		models      = stringsFlag("MODEL")
		routes      = newListFlag("ROUTE", parseRoute)
		tags        tagsFlag
		importValue string
		rotation    rotationFlags
	)
	cmd := &cobra.Command{
		Use:   "create --name NAME [flags]",
		Short: "Create an API key; its value is shown once",
		Long: `Create an API key and print its ID and value. The value is shown only
once: store it now, or deliver it to a secret with --store-secret so that
only the key ID leaves the server.

APIs and plans may be named by name or ID. A custom value (at least 20
characters) may be imported from a file or stdin with
--import-value-from-file; never on the command line.`,
		Example: `  keyward keys create --name ci-bot --stage chat/prod --plan gold --expires 90d
  keyward keys create --name svc --stage chat/prod --store-secret chat/prod/svc-key -o json
  keyward keys create --name svc --stage chat/prod --rotate-every 30d --rotation-grace 2d`,
		Args: exactArgs(),
		RunE: run(func(e *env, _ []string) error {
			if strings.TrimSpace(in.Name) == "" {
				return usagef("--name is required")
			}
			if err := rotation.check(); err != nil {
				return err
			}
			if disabled {
				f := false
				in.Enabled = &f
			}
			if changed(e.cmd, "expires") {
				t := e.now().Add(expires.d)
				in.ExpiresAt = &t
			}
			in.StageKeys = stages.items
			in.PlanIDs = plans.items
			in.Scopes = keyward.Scopes{Models: models.items, Routes: routes.items}
			in.Tags = tags.m
			rot, err := rotation.policy(nil, "key")
			if err != nil {
				return err
			}
			in.Rotation = rot
			if importValue != "" {
				b, err := readLimited(importValue, e.stdin, 4096)
				if err != nil {
					return localf("read --import-value-from-file: %v", err)
				}
				in.Value = strings.TrimSpace(string(b))
				e.st.secret(in.Value)
				if in.Value == "" {
					return usagef("the imported value is empty")
				}
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			created, err := c.CreateKey(e.ctx, in)
			if err != nil {
				return err
			}
			if created == nil || created.Key == nil {
				return keyward.Errorf(keyward.EINTERNAL, "the server returned no key")
			}
			value := created.Value
			if in.StoreSecret != "" {
				value = "" // delivered to the secret; never printed
			}
			e.st.secret(value)
			return printCreatedKey(e, created.Key, value, in.StoreSecret)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&in.Name, "name", "", "name of the key (required)")
	f.StringVar(&in.Description, "description", "", "description")
	f.StringVar(&in.CustomerID, "customer-id", "", "customer the key belongs to")
	f.BoolVar(&disabled, "disabled", false, "create the key disabled")
	f.Var(stages, "stage", "API stage the key may call, as API/STAGE (repeatable)")
	f.Var(plans, "plan", "usage plan to attach the key to, by name or ID (repeatable)")
	f.Var(&expires, "expires", "expire the key after this long (e.g. 30d, 12h)")
	f.BoolVar(&in.Recoverable, "recoverable", false, "also keep the value encrypted so it can be read back (keys value)")
	f.StringVar(&in.StoreSecret, "store-secret", "", "write the value to this secret instead of printing it")
	f.StringVar(&in.Prefix, "prefix", "", "value prefix (default: the API's, else kw)")
	f.Var(models, "scope-model", "allow only this model (glob; repeatable)")
	f.Var(routes, "scope-route", "allow only this route, as \"METHOD /path/glob\" (repeatable)")
	f.Var(&tags, "tag", "tag as key=value (repeatable)")
	f.StringVar(&importValue, "import-value-from-file", "", "import the key value from this file (- for stdin) instead of generating one")
	f.StringVar(&in.ClientToken, "client-token", "", "idempotency token: retrying with the same token creates one key")
	rotation.register(cmd)
	return cmd
}

// printCreatedKey prints a new key. In JSON the object has the key's fields
// and, only when there is one to show, "value".
func printCreatedKey(e *env, k *keyward.APIKey, value, storedIn string) error {
	if e.json {
		extra := map[string]any{}
		if value != "" {
			extra["value"] = value
		}
		m, err := merge(k, extra)
		if err != nil {
			return err
		}
		return writeJSON(e.stdout, m)
	}
	f := newFields(e.stdout)
	f.add("ID", k.ID)
	f.add("Name", k.Name)
	addValue(f, value, storedIn)
	if err := f.flush(); err != nil {
		return err
	}
	if value != "" {
		warnf(e.stderr, "this value is shown only once: store it now")
	}
	return nil
}

func newKeysGetCmd() *cobra.Command {
	return getCmd("KEY_ID", "Show a key (never its value)", Client.GetKey, printKey)
}

func printKey(w io.Writer, k *keyward.APIKey) error {
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
		stages[i] = s.String()
	}
	f.add("Stages", strings.Join(stages, ", "))
	f.add("Plans", strings.Join(k.PlanIDs, ", "))
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
	f.add("Created", fmtTime(k.CreatedAt))
	f.add("Updated", fmtTime(k.UpdatedAt))
	return f.flush()
}

func newKeysListCmd() *cobra.Command {
	var (
		filter keyward.KeyFilter
		page   pageFlags
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List keys",
		Args:  exactArgs(),
		RunE: run(func(e *env, _ []string) error {
			if err := page.check(); err != nil {
				return err
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
	page.register(cmd)
	return cmd
}

func printKeys(w io.Writer, keys []*keyward.APIKey) error {
	t := newTable(w, "ID", "NAME", "ENABLED", "CUSTOMER", "EXPIRES", "CREATED")
	for _, k := range keys {
		t.row(k.ID, k.Name, fmtBool(k.Enabled), k.CustomerID, fmtTimePtr(k.ExpiresAt, "never"), fmtTime(k.CreatedAt))
	}
	return t.flush()
}

func newKeysUpdateCmd() *cobra.Command {
	var (
		name, description, customer string
		expires                     durationFlag
		noExpiry                    bool
		stages                      = newListFlag("API/STAGE", parseStageKey)
		tags                        tagsFlag
		rotation                    rotationFlags
		noRotation                  bool
	)
	cmd := &cobra.Command{
		Use:   "update KEY_ID [flags]",
		Short: "Change a key's fields",
		Long: `Change a key's fields; fields whose flags are not given are left alone.
--stage and --tag replace the whole list or map: give them once with an
empty value (--stage '') to clear it. --rotate-every or --rotation-grace
alone keeps the other value of the key's schedule; --no-rotation removes
the key's own schedule (its plans' then apply).`,
		Args: exactArgs("KEY_ID"),
		RunE: run(func(e *env, args []string) error {
			var u keyward.KeyUpdate
			cmd := e.cmd
			if changed(cmd, "name") {
				if strings.TrimSpace(name) == "" {
					return usagef("--name must not be empty")
				}
				u.Name = &name
			}
			if changed(cmd, "description") {
				u.Description = &description
			}
			if changed(cmd, "customer-id") {
				u.CustomerID = &customer
			}
			if changed(cmd, "expires") && noExpiry {
				return usagef("--expires and --no-expiry cannot be used together")
			}
			if changed(cmd, "expires") {
				t := e.now().Add(expires.d)
				u.ExpiresAt = &t
			}
			u.NoExpiry = noExpiry
			if changed(cmd, "stage") {
				u.StageKeys = &stages.items
			}
			if changed(cmd, "tag") {
				m := tags.m
				u.Tags = &m
			}
			if noRotation && rotation.given() {
				return usagef("--no-rotation cannot be used with --rotate-every or --rotation-grace")
			}
			if err := rotation.check(); err != nil {
				return err
			}
			u.NoRotation = noRotation
			if u == (keyward.KeyUpdate{}) && !rotation.given() {
				return usagef("nothing to update: give at least one flag")
			}
			if rotation.given() {
				var cur *keyward.RotationPolicy
				if rotation.partial() {
					c, err := e.client()
					if err != nil {
						return err
					}
					k, err := c.GetKey(e.ctx, args[0])
					if err != nil {
						return err
					}
					cur = k.Rotation
				}
				rot, err := rotation.policy(cur, "key")
				if err != nil {
					return err
				}
				u.Rotation = rot
			}
			return updateKey(e, args[0], u, "")
		}),
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "new name")
	f.StringVar(&description, "description", "", "new description")
	f.StringVar(&customer, "customer-id", "", "new customer ID")
	f.Var(&expires, "expires", "expire the key this long from now (e.g. 30d, 12h)")
	f.BoolVar(&noExpiry, "no-expiry", false, "remove the expiry")
	f.Var(stages, "stage", "API stage as API/STAGE; replaces the list (repeatable)")
	f.Var(&tags, "tag", "tag as key=value; replaces the tags (repeatable)")
	rotation.register(cmd)
	f.BoolVar(&noRotation, "no-rotation", false, "remove the key's own rotation schedule")
	return cmd
}

// updateKey applies u and prints the key, or a line when verb is set.
func updateKey(e *env, id string, u keyward.KeyUpdate, verb string) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	k, err := c.UpdateKey(e.ctx, id, u)
	if err != nil {
		return err
	}
	if verb != "" && !e.json {
		_, err := fmt.Fprintf(e.stdout, "Key %s %s.\n", sanitizeLine(k.ID), verb)
		return err
	}
	return e.out(k, func(w io.Writer) error { return printKey(w, k) })
}

func newKeysEnableCmd(disable bool) *cobra.Command {
	use, short, verb := "enable", "Enable a key", "enabled"
	if disable {
		use, short, verb = "disable", "Disable a key: the gateway rejects it at once", "disabled"
	}
	return &cobra.Command{
		Use:   use + " KEY_ID",
		Short: short,
		Args:  exactArgs("KEY_ID"),
		RunE: run(func(e *env, args []string) error {
			enabled := !disable
			return updateKey(e, args[0], keyward.KeyUpdate{Enabled: &enabled}, verb)
		}),
	}
}

func newKeysDeleteCmd() *cobra.Command {
	return deleteCmd("KEY_ID", "Delete a key and its credentials", "key", "Key", Client.DeleteKey)
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

// addValue shows where a key's value is: the value itself (shown once), the
// secret it went to, or neither.
func addValue(f *fields, value, storedIn string) {
	switch {
	case value != "":
		f.add("Value", value)
	case storedIn != "":
		f.add("Value", "stored in secret "+storedIn)
	default:
		f.add("Value", "not returned by the server")
	}
}

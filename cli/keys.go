package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
)

func newKeysCmd() *cobra.Command {
	return newNoun("keys", "Manage API keys",
		newKeysCreateCmd(),
		newKeysImportCmd(),
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

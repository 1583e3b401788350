package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
)

// Changing keys: update (fields, scopes, schedule), enable, disable, delete.

func newKeysUpdateCmd() *cobra.Command {
	var (
		name, description, customer string
		expires                     durationFlag
		noExpiry                    bool
		stages                      = newListFlag("API/STAGE", parseStageKey)
		tags                        tagsFlag
		models                      = stringsFlag("MODEL")
		routes                      = newListFlag("ROUTE", parseRoute)
		rotation                    rotationFlags
		noRotation                  bool
	)
	cmd := &cobra.Command{
		Use:   "update KEY_ID [flags]",
		Short: "Change a key's fields",
		Long: `Change a key's fields; fields whose flags are not given are left alone.
--stage, --tag, --scope-model and --scope-route replace the whole list or
map: give them once with an empty value (--stage '') to clear it; a key
with no model or route scopes may call every model or route of its stages.
--scope-model alone keeps the key's route scopes, and --scope-route alone
its model scopes. --rotate-every or --rotation-grace alone keeps the other
value of the key's schedule; --no-rotation removes the key's own schedule
(its plans' then apply).`,
		Example: `  keyward keys update key_abc --scope-model 'gpt-4o*' --scope-model o3-mini
  keyward keys update key_abc --scope-route 'POST /v1/chat/*'
  keyward keys update key_abc --scope-model '' --scope-route ''   # no scopes: the key's stages only`,
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
			scopeModels, scopeRoutes := changed(cmd, "scope-model"), changed(cmd, "scope-route")
			if u == (keyward.KeyUpdate{}) && !rotation.given() && !scopeModels && !scopeRoutes {
				return usagef("nothing to update: give at least one flag")
			}
			// A flag given alone completes its value from the key as it is,
			// read at most once.
			var current *keyward.APIKey
			currentKey := func() (*keyward.APIKey, error) {
				if current != nil {
					return current, nil
				}
				c, err := e.client()
				if err != nil {
					return nil, err
				}
				current, err = c.GetKey(e.ctx, args[0])
				return current, err
			}
			if scopeModels || scopeRoutes {
				sc := keyward.Scopes{Models: models.items, Routes: routes.items}
				if scopeModels != scopeRoutes {
					k, err := currentKey()
					if err != nil {
						return err
					}
					if !scopeModels {
						sc.Models = k.Scopes.Models
					}
					if !scopeRoutes {
						sc.Routes = k.Scopes.Routes
					}
				}
				u.Scopes = &sc
			}
			if rotation.given() {
				var cur *keyward.RotationPolicy
				if rotation.partial() {
					k, err := currentKey()
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
	f.Var(models, "scope-model", "allow only this model (glob); replaces the model scopes (repeatable)")
	f.Var(routes, "scope-route", "allow only this route, as \"METHOD /path/glob\"; replaces the route scopes (repeatable)")
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
	return e.out(k, func(w io.Writer) error { return printKey(w, k, newNames(e.ctx, c)) })
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

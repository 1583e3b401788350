package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
)

func newAPIsCmd() *cobra.Command {
	return newNoun("apis", "Manage the APIs keyward protects and their stages",
		newAPIsCreateCmd(),
		newAPIsGetCmd(),
		newAPIsListCmd(),
		newAPIsUpdateCmd(),
		newAPIsDeleteCmd(),
	)
}

// stagesFromFlags builds the stage list of --stage STAGE=URL and
// --upstream-secret STAGE=SECRET.
func stagesFromFlags(upstreams *listFlag[keyward.Stage], secrets *stageSecretsFlag) ([]keyward.Stage, error) {
	stages := make([]keyward.Stage, 0, len(upstreams.items))
	seen := map[string]bool{}
	for _, s := range upstreams.items {
		if seen[s.Name] {
			return nil, usagef("stage %q given twice", s.Name)
		}
		seen[s.Name] = true
		s.UpstreamSecret = secrets.m[s.Name]
		stages = append(stages, s)
	}
	for name := range secrets.m {
		if !seen[name] {
			return nil, usagef("--upstream-secret names stage %q, which no --stage defines", name)
		}
	}
	return stages, nil
}

func newAPIsCreateCmd() *cobra.Command {
	var (
		in        keyward.APICreate
		upstreams = newListFlag("STAGE=URL", parseUpstream)
		secrets   stageSecretsFlag
	)
	cmd := &cobra.Command{
		Use:   "create NAME --stage STAGE=UPSTREAM_URL [flags]",
		Short: "Register an API and its stages",
		Example: `  keyward apis create chat --openai-compatible \
      --stage prod=https://api.openai.com --upstream-secret prod=openai/prod-key`,
		Args: exactArgs("NAME"),
		RunE: run(func(e *env, args []string) error {
			in.Name = args[0]
			if len(upstreams.items) == 0 {
				return usagef("at least one --stage STAGE=UPSTREAM_URL is required")
			}
			stages, err := stagesFromFlags(upstreams, &secrets)
			if err != nil {
				return err
			}
			in.Stages = stages
			c, err := e.client()
			if err != nil {
				return err
			}
			a, err := c.CreateAPI(e.ctx, in)
			if err != nil {
				return err
			}
			return e.out(a, func(w io.Writer) error { return printAPI(w, a) })
		}),
	}
	f := cmd.Flags()
	f.Var(upstreams, "stage", "stage and its upstream base URL, as STAGE=URL (repeatable)")
	f.Var(&secrets, "upstream-secret", "secret whose value is sent upstream for a stage, as STAGE=SECRET_NAME (repeatable)")
	f.BoolVar(&in.OpenAICompatible, "openai-compatible", false, "the API speaks the OpenAI protocol (model and token usage are read)")
	f.StringVar(&in.Description, "description", "", "description")
	f.StringVar(&in.KeyPrefix, "key-prefix", "", "value prefix of keys created for this API")
	return cmd
}

func printAPI(w io.Writer, a *keyward.API) error {
	f := newFields(w)
	f.add("ID", a.ID)
	f.add("Name", a.Name)
	f.add("Description", a.Description)
	f.add("OpenAI compatible", fmtBool(a.OpenAICompatible))
	f.add("Key prefix", a.KeyPrefix)
	f.add("Created", fmtTime(a.CreatedAt))
	f.add("Updated", fmtTime(a.UpdatedAt))
	if err := f.flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	t := newTable(w, "STAGE", "UPSTREAM", "UPSTREAM SECRET")
	for _, s := range a.Stages {
		t.row(s.Name, s.UpstreamURL, s.UpstreamSecret)
	}
	return t.flush()
}

func newAPIsGetCmd() *cobra.Command {
	return getCmd("API", "Show an API (by name or ID)", Client.GetAPI, namesUnused(printAPI))
}

func newAPIsListCmd() *cobra.Command {
	return listCmd("List APIs", Client.ListAPIs,
		[]string{"NAME", "ID", "OPENAI", "STAGES", "CREATED"},
		func(a *keyward.API, _ *names) []string {
			names := make([]string, len(a.Stages))
			for i, s := range a.Stages {
				names[i] = s.Name
			}
			return []string{a.Name, a.ID, fmtBool(a.OpenAICompatible), strings.Join(names, ","), fmtTime(a.CreatedAt)}
		})
}

func newAPIsUpdateCmd() *cobra.Command {
	var (
		description, keyPrefix string
		openAI                 bool
		upstreams              = newListFlag("STAGE=URL", parseUpstream)
		secrets                stageSecretsFlag
	)
	cmd := &cobra.Command{
		Use:   "update API [flags]",
		Short: "Change an API (by name or ID)",
		Long: `Change an API; fields whose flags are not given are left alone.
--stage replaces every stage: list them all, with their --upstream-secret.`,
		Args: exactArgs("API"),
		RunE: run(func(e *env, args []string) error {
			var u keyward.APIUpdate
			if changed(e.cmd, "description") {
				u.Description = &description
			}
			if changed(e.cmd, "key-prefix") {
				u.KeyPrefix = &keyPrefix
			}
			if changed(e.cmd, "openai-compatible") {
				u.OpenAICompatible = &openAI
			}
			if changed(e.cmd, "upstream-secret") && !changed(e.cmd, "stage") {
				return usagef("--upstream-secret needs --stage: stages are replaced as a whole")
			}
			if changed(e.cmd, "stage") {
				if len(upstreams.items) == 0 {
					return usagef("an API needs at least one --stage STAGE=UPSTREAM_URL")
				}
				stages, err := stagesFromFlags(upstreams, &secrets)
				if err != nil {
					return err
				}
				u.Stages = &stages
			}
			if u == (keyward.APIUpdate{}) {
				return usagef("nothing to update: give at least one flag")
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			a, err := c.UpdateAPI(e.ctx, args[0], u)
			if err != nil {
				return err
			}
			return e.out(a, func(w io.Writer) error { return printAPI(w, a) })
		}),
	}
	f := cmd.Flags()
	f.StringVar(&description, "description", "", "new description")
	f.StringVar(&keyPrefix, "key-prefix", "", "new value prefix for keys created from now on")
	f.BoolVar(&openAI, "openai-compatible", false, "whether the API speaks the OpenAI protocol (--openai-compatible=false to turn off)")
	f.Var(upstreams, "stage", "stage as STAGE=URL; replaces every stage (repeatable)")
	f.Var(&secrets, "upstream-secret", "upstream secret of a --stage, as STAGE=SECRET_NAME (repeatable)")
	return cmd
}

func newAPIsDeleteCmd() *cobra.Command {
	return deleteCmd("API", "Delete an API (by name or ID)", "api", "API", Client.DeleteAPI)
}

// Package e2e holds the Pulumi program that the provider's end-to-end test
// runs with the real Pulumi CLI through the Automation API: the Go twin of
// examples/pulumi-seed/Pulumi.yaml. The Go language host is not needed: an
// inline program runs its own language server in the test process, and it
// registers the key by type token, so no generated SDK is needed either.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// What the seed program declares and exports.
const (
	ProjectName    = "keyward-seed"
	APIKeyType     = "keyward:index:ApiKey"
	KeyName        = "myApiKey"
	KeyDescription = "API Key for AI Deployment Pipeline"
	ValueSecret    = "pipeline/my-api-key" // the secret the key's value is delivered to
	OutputKeyID    = "api_key_id"          // the only output: the key ID, never its value
)

// SeedProgram declares one API key whose value goes to the secret
// ValueSecret, and exports its ID as OutputKeyID.
func SeedProgram(ctx *pulumi.Context) error {
	var key apiKey
	err := ctx.RegisterResource(APIKeyType, KeyName, pulumi.Map{
		"description":        pulumi.String(KeyDescription),
		"enabled":            pulumi.Bool(true),
		"storeValueInSecret": pulumi.String(ValueSecret),
	}, &key)
	if err != nil {
		return err
	}
	ctx.Export(OutputKeyID, key.ID())
	return nil
}

// apiKey receives the registered key; only its ID is used.
type apiKey struct {
	pulumi.CustomResourceState
}

// SeedOptions says where the provider and the keyward server are.
type SeedOptions struct {
	// ProviderDir is the folder holding the pulumi-resource-keyward binary
	// (made absolute: an inline program's project lives in a temp folder).
	ProviderDir string
	// Endpoint is the keyward admin API, set as the stack config
	// keyward:endpoint. Empty: the provider uses $KEYWARD_ADDR.
	Endpoint string
	// Token is the admin token. It reaches the provider as $KEYWARD_TOKEN in
	// the workspace environment and is never written to the stack config.
	// Empty: the provider uses the environment it inherits.
	Token string
	// Workspace holds further options: auto.Pulumi (the CLI to use),
	// auto.PulumiHome, auto.EnvVars (PULUMI_CONFIG_PASSPHRASE,
	// PULUMI_BACKEND_URL=file://…, PULUMI_SKIP_UPDATE_CHECK, …).
	Workspace []auto.LocalWorkspaceOption
}

// SeedStack creates or selects stackName of the seed project, running
// SeedProgram with the provider at o.ProviderDir.
func SeedStack(ctx context.Context, stackName string, o SeedOptions) (auto.Stack, error) {
	if o.ProviderDir == "" {
		return auto.Stack{}, errors.New("e2e: ProviderDir is required")
	}
	dir, err := filepath.Abs(o.ProviderDir)
	if err != nil {
		return auto.Stack{}, err
	}
	proj := workspace.Project{
		Name:    tokens.PackageName(ProjectName),
		Runtime: workspace.NewProjectRuntimeInfo("go", nil),
		Plugins: &workspace.Plugins{Providers: []workspace.PluginOptions{{Name: "keyward", Path: dir}}},
	}
	opts := append([]auto.LocalWorkspaceOption{auto.Project(proj)}, o.Workspace...)
	stack, err := auto.UpsertStackInlineSource(ctx, stackName, ProjectName, SeedProgram, opts...)
	if err != nil {
		return auto.Stack{}, fmt.Errorf("e2e: stack %s: %w", stackName, err)
	}
	if o.Token != "" {
		stack.Workspace().SetEnvVar("KEYWARD_TOKEN", o.Token)
	}
	if o.Endpoint != "" {
		if err := stack.SetConfig(ctx, "keyward:endpoint", auto.ConfigValue{Value: o.Endpoint}); err != nil {
			return auto.Stack{}, fmt.Errorf("e2e: config keyward:endpoint: %w", err)
		}
	}
	return stack, nil
}

// UpSeed runs `pulumi up` on the stack and returns the exported key ID.
func UpSeed(ctx context.Context, stack auto.Stack, opts ...optup.Option) (string, error) {
	res, err := stack.Up(ctx, opts...)
	if err != nil {
		return "", fmt.Errorf("e2e: up: %w", err)
	}
	out, ok := res.Outputs[OutputKeyID]
	id, isString := out.Value.(string)
	if !ok || !isString || id == "" {
		return "", fmt.Errorf("e2e: up exported no %s", OutputKeyID)
	}
	return id, nil
}

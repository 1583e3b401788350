// Package provider is keyward's Pulumi resource provider: API keys, usage
// plans and their key attachments, APIs and secrets declared as code,
// managed over the admin API (httpapi.Client).
//
// Its shape follows the issue that asked for it: a deployment pipeline
// declares a key and exports only its ID; with storeValueInSecret the key's
// value goes straight into a keyward secret and never reaches Pulumi at all,
// and without it the value is an always-secret output, encrypted in the
// state file.
//
// Lifecycle rules, for every resource:
//   - Read of something deleted outside Pulumi (ENOTFOUND) returns an empty
//     ID, so `pulumi refresh` drops it and the next `up` recreates it.
//   - Diff compares normalized inputs (defaults filled, nil and empty lists
//     alike, order-free lists sorted), so a second `up` with no change is a
//     no-op; Read keeps the program's spelling of a value when the server's
//     means the same.
//   - What the server can change in place is updated in place; the rest
//     (see replaceFields) replaces the resource.
package provider

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/property"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
	"github.com/keyward/keyward/tlsconfig"
)

// Name is the provider's package name: resource types are keyward:index:*.
const Name = "keyward"

// Version is the provider's version; the build may override it with
// -ldflags "-X github.com/keyward/keyward/cmd/pulumi-resource-keyward/provider.Version=...".
var Version = "0.1.0"

// Resource type tokens.
const (
	TypeAPIKey        = "keyward:index:ApiKey"
	TypeUsagePlan     = "keyward:index:UsagePlan"
	TypeUsagePlanKey  = "keyward:index:UsagePlanKey"
	TypeAPI           = "keyward:index:Api"
	TypeSecret        = "keyward:index:Secret"
	defaultAdminAddr  = "http://127.0.0.1:7070" // the CLI's default too
	envAddr           = "KEYWARD_ADDR"
	envToken          = "KEYWARD_TOKEN"
	envTokenFile      = "KEYWARD_TOKEN_FILE"
	maxTokenFileBytes = 4096
)

// replaceFields lists, per resource type, the inputs whose change replaces
// the resource. The resources' Diff methods use it, and so does the wrapper
// that treats unknown inputs (preview) as changes.
var replaceFields = map[string]map[string]bool{
	TypeAPIKey:       {"storeValueInSecret": true, "importValue": true},
	TypeUsagePlanKey: {"planId": true, "keyId": true},
	TypeSecret:       {"name": true},
	TypeUsagePlan:    {},
	TypeAPI:          {},
}

// New returns the provider.
func New() (p.Provider, error) {
	prov, err := infer.NewProviderBuilder().
		WithDisplayName("keyward").
		WithDescription("Manage keyward API keys, usage plans, APIs and secrets as code.").
		WithKeywords("keyward", "api-keys", "ai-gateway", "secrets").
		WithRepository("https://github.com/keyward/keyward").
		WithConfig(infer.Config(&Config{})).
		WithResources(
			infer.Resource(&APIKey{}),
			infer.Resource(&UsagePlan{}),
			infer.Resource(&UsagePlanKey{}),
			infer.Resource(&API{}),
			infer.Resource(&Secret{}),
		).
		WithModuleMap(map[tokens.ModuleName]tokens.ModuleName{"provider": "index"}).
		Build()
	if err != nil {
		return p.Provider{}, err
	}
	prov.DiffConfig = diffConfig
	prov.Diff = unknownsAreChanges(prov.Diff)
	dropUnsetStrings(&prov)
	return prov, nil
}

// Config is the provider configuration. Unset fields fall back to the
// environment when the provider is configured (KEYWARD_ADDR, then
// KEYWARD_TOKEN or KEYWARD_TOKEN_FILE, as for the CLI); values taken from
// the environment never enter the Pulumi state.
type Config struct {
	Endpoint string `pulumi:"endpoint,optional"`
	Token    string `pulumi:"token,optional" provider:"secret"`
	// TLS files: paths, not contents, so no key enters the state.
	CAFile     string `pulumi:"caFile,optional"`
	ClientCert string `pulumi:"clientCert,optional"`
	ClientKey  string `pulumi:"clientKey,optional"`

	client *httpapi.Client
}

// Annotate describes the configuration.
func (c *Config) Annotate(a infer.Annotator) {
	a.Describe(&c.Endpoint, "Base URL of the keyward admin API, e.g. https://keyward.internal:7070. "+
		"Defaults to $KEYWARD_ADDR, then "+defaultAdminAddr+".")
	a.Describe(&c.Token, "Admin token (kwa_…). Defaults to $KEYWARD_TOKEN, then the contents of $KEYWARD_TOKEN_FILE.")
	a.Describe(&c.CAFile, "PEM file of CA certificates trusted for an https endpoint besides the system's. Defaults to $KEYWARD_CA_FILE. "+
		"The server's certificate is always verified.")
	a.Describe(&c.ClientCert, "PEM client certificate for an admin API that requires mutual TLS. Defaults to $KEYWARD_CLIENT_CERT.")
	a.Describe(&c.ClientKey, "PEM private key file of clientCert. Defaults to $KEYWARD_CLIENT_KEY.")
}

// Configure resolves the environment fallbacks and builds the admin client.
func (c *Config) Configure(context.Context) error {
	endpoint, token := c.Endpoint, c.Token
	if endpoint == "" {
		endpoint = os.Getenv(envAddr)
	}
	if endpoint == "" {
		endpoint = defaultAdminAddr
	}
	if token == "" {
		token = os.Getenv(envToken)
	}
	if token == "" {
		if f := os.Getenv(envTokenFile); f != "" {
			b, err := readSmallFile(f)
			if err != nil {
				return errors.New("keyward: cannot read $" + envTokenFile)
			}
			token = strings.TrimSpace(string(b))
		}
	}
	files := tlsconfig.ClientFiles{CA: c.CAFile, Cert: c.ClientCert, Key: c.ClientKey}
	for _, f := range []struct {
		dst *string
		env string
	}{{&files.CA, tlsconfig.EnvCAFile}, {&files.Cert, tlsconfig.EnvClientCert}, {&files.Key, tlsconfig.EnvClientKey}} {
		if *f.dst == "" {
			*f.dst = os.Getenv(f.env)
		}
	}
	tc, err := tlsconfig.Client(files)
	if err != nil {
		return fmt.Errorf("keyward: %w", err)
	}
	c.client = httpapi.NewClient(endpoint, token, httpapi.NewHTTPClient(tc))
	if token == "" {
		c.client = nil // reported by clientFrom, when a call needs the server
	}
	return nil
}

func readSmallFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxTokenFileBytes))
}

// clientFrom returns the admin client of the configured provider.
func clientFrom(ctx context.Context) (*httpapi.Client, error) {
	c := infer.GetConfig[Config](ctx)
	if c.client == nil {
		return nil, errors.New("keyward: no admin token: set the keyward:token config (secret) or $" + envToken)
	}
	return c.client, nil
}

// clientToken returns an idempotency token for one create: a digest of the
// resource name (to find it in the audit trail) and a random part, so that
// recreating a resource after a destroy, or replacing it, is never answered
// with the key of an earlier create.
func clientToken(name string) string {
	h := sha256.Sum256([]byte(name))
	var r [8]byte
	_, _ = rand.Read(r[:])
	return "pulumi-" + hex.EncodeToString(h[:8]) + "-" + hex.EncodeToString(r[:])
}

// diffConfig reports configuration changes as updates, never as a
// replacement of the provider: replacing the provider would replace every
// resource it manages, and rotating the admin token (or spelling the same
// endpoint differently) must not delete and recreate keys.
func diffConfig(_ context.Context, req p.DiffRequest) (p.DiffResponse, error) {
	olds := req.OldInputs
	if olds.Len() == 0 {
		olds = req.State
	}
	resp := p.DiffResponse{DetailedDiff: map[string]p.PropertyDiff{}}
	for _, k := range []string{"endpoint", "token", "caFile", "clientCert", "clientKey"} {
		o, n := olds.Get(k).WithSecret(false), req.Inputs.Get(k).WithSecret(false)
		if !o.Equals(n) {
			resp.HasChanges = true
			resp.DetailedDiff[k] = p.PropertyDiff{Kind: p.Update, InputDiff: true}
		}
	}
	return resp, nil
}

// unknownsAreChanges wraps a Diff so that an input still unknown in a
// preview (the output of a resource not yet created, say) counts as a
// change, and as a replacement where a change of that input replaces. The
// infer framework decodes unknowns as zero values, which a typed Diff
// cannot tell from "unset".
func unknownsAreChanges(diff func(context.Context, p.DiffRequest) (p.DiffResponse, error)) func(context.Context, p.DiffRequest) (p.DiffResponse, error) {
	return func(ctx context.Context, req p.DiffRequest) (p.DiffResponse, error) {
		resp, err := diff(ctx, req)
		if err != nil {
			return resp, err
		}
		replace := replaceFields[string(req.Urn.Type())]
		for k, v := range req.Inputs.All {
			if !v.HasComputed() {
				continue
			}
			if resp.DetailedDiff == nil {
				resp.DetailedDiff = map[string]p.PropertyDiff{}
			}
			kind := p.Update
			if replace[k] {
				kind = p.UpdateReplace
			}
			resp.DetailedDiff[k] = p.PropertyDiff{Kind: kind, InputDiff: true}
			resp.HasChanges = true
		}
		return resp, nil
	}
}

// notFound reports whether err is keyward's ENOTFOUND.
func notFound(err error) bool { return keyward.ErrorCode(err) == keyward.ENOTFOUND }

// dropUnsetStrings removes the empty strings that the infer framework writes
// for every optional string field left unset, from the checked inputs and
// from the outputs: the state then holds what the program said, and
// `pulumi import` does not suggest `customerId: ""`. For every field of
// these resources an empty string and no value mean the same; tag values
// (which may be empty) sit one level down and are not touched.
func dropUnsetStrings(prov *p.Provider) {
	check, create, update, read := prov.Check, prov.Create, prov.Update, prov.Read
	prov.Check = func(ctx context.Context, req p.CheckRequest) (p.CheckResponse, error) {
		resp, err := check(ctx, req)
		resp.Inputs = withoutEmptyStrings(resp.Inputs)
		return resp, err
	}
	prov.Create = func(ctx context.Context, req p.CreateRequest) (p.CreateResponse, error) {
		resp, err := create(ctx, req)
		resp.Properties = withoutEmptyStrings(resp.Properties)
		return resp, err
	}
	prov.Update = func(ctx context.Context, req p.UpdateRequest) (p.UpdateResponse, error) {
		resp, err := update(ctx, req)
		resp.Properties = withoutEmptyStrings(resp.Properties)
		return resp, err
	}
	prov.Read = func(ctx context.Context, req p.ReadRequest) (p.ReadResponse, error) {
		resp, err := read(ctx, req)
		resp.Properties, resp.Inputs = withoutEmptyStrings(resp.Properties), withoutEmptyStrings(resp.Inputs)
		// A read from state alone (no inputs to take secret marks from)
		// must not write a value back unmarked.
		resp.Properties, resp.Inputs = valuesSecret(resp.Properties), valuesSecret(resp.Inputs)
		return resp, err
	}
}

// valuesSecret marks the fields that hold key or secret values as secret.
func valuesSecret(m property.Map) property.Map {
	for _, k := range []string{"value", "importValue"} {
		if v, ok := m.GetOk(k); ok && !v.Secret() && !v.IsNull() {
			m = m.Set(k, v.WithSecret(true))
		}
	}
	return m
}

func withoutEmptyStrings(m property.Map) property.Map {
	for k, v := range m.All {
		if !v.Secret() && v.IsString() && v.AsString() == "" {
			m = m.Delete(k)
		}
	}
	return m
}

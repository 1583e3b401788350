package core

import (
	"context"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/keyvalue"
)

// CreateAPI registers an API and its stages.
func (s *APIs) CreateAPI(ctx context.Context, in keyward.APICreate) (*keyward.API, error) {
	params := map[string]any{"name": in.Name, "openaiCompatible": in.OpenAICompatible, "stages": stageNames(in.Stages)}
	var a *keyward.API
	err := s.run(ctx, call{action: keyward.ActionAPICreate, resource: keyward.APIARN("*"), params: params},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			now := s.clock.Now()
			a = &keyward.API{ID: newID("api"), Name: in.Name, Description: in.Description,
				OpenAICompatible: in.OpenAICompatible, KeyPrefix: in.KeyPrefix, Stages: in.Stages,
				CreatedAt: now, UpdatedAt: now}
			if err := validateAPI(a); err != nil {
				return err
			}
			if err := authorizeUpstreamSecrets(ctx, tx, o, a.Stages); err != nil {
				return err
			}
			o.respond("apiId", a.ID)
			return tx.InsertAPI(ctx, a)
		})
	if err != nil {
		return nil, err
	}
	return a, nil
}

func validateAPI(a *keyward.API) error {
	if !apiName.MatchString(a.Name) {
		return invalid("API name must be 1-63 characters of a-z 0-9 _ -, starting with a letter or digit (it is a URL path segment)")
	}
	if err := checkNotIDShaped("API", a.Name); err != nil {
		return err
	}
	if err := checkText("description", a.Description, maxDescriptionLen, false); err != nil {
		return err
	}
	if a.KeyPrefix != "" && (!keyvalue.ValidPrefix(a.KeyPrefix) || a.KeyPrefix == keyward.AdminTokenPrefix) {
		return invalid("keyPrefix must be 1-16 characters of a-z 0-9, starting with a letter, and not %q", keyward.AdminTokenPrefix)
	}
	if len(a.Stages) == 0 || len(a.Stages) > maxListItems {
		return invalid("an API needs 1-%d stages", maxListItems)
	}
	seen := map[string]bool{}
	for _, st := range a.Stages {
		if !stageName.MatchString(st.Name) {
			return invalid("stage name must be 1-64 characters of A-Z a-z 0-9 _ -")
		}
		if seen[st.Name] {
			return invalid("stage %s is given twice", st.Name)
		}
		seen[st.Name] = true
		if err := checkUpstreamURL(st.UpstreamURL); err != nil {
			return err
		}
		if st.UpstreamSecret != "" {
			if err := checkSecretName(st.UpstreamSecret); err != nil {
				return err
			}
		}
	}
	return nil
}

// authorizeUpstreamSecrets requires secrets:GetSecretValue on every secret a
// stage sends upstream: pointing a stage (and its upstream URL) at a secret
// hands that secret's value to whatever listens there, so it is a read of
// the value. A deployer, who may never read values, cannot wire one.
func authorizeUpstreamSecrets(ctx context.Context, tx keyward.Tx, o *op, stages []keyward.Stage) error {
	for _, st := range stages {
		if st.UpstreamSecret == "" {
			continue
		}
		if err := o.authorize(ctx, keyward.ActionSecretGetValue, keyward.SecretARN(st.UpstreamSecret)); err != nil {
			return err
		}
		// Sending a secret upstream hands its value to whoever runs the
		// upstream: never a key's value, whoever asks.
		if err := refuseUpstreamKeyValue(ctx, tx, st.UpstreamSecret); err != nil {
			return err
		}
	}
	return nil
}

func stageNames(st []keyward.Stage) []string {
	out := make([]string, 0, len(st))
	for _, s := range st {
		out = append(out, s.Name)
	}
	return out
}

// GetAPI returns an API by ID or name.
func (s *APIs) GetAPI(ctx context.Context, ref string) (*keyward.API, error) {
	var a *keyward.API
	err := s.run(ctx, call{action: keyward.ActionAPIGet, resource: keyward.APIARN(ref), resolve: apiResolver(ref), params: map[string]any{"api": ref}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			var err error
			a, err = resolveAPI(ctx, tx, ref)
			return err
		})
	return a, err
}

// ListAPIs returns a page of APIs.
func (s *APIs) ListAPIs(ctx context.Context, p keyward.Page) ([]*keyward.API, string, error) {
	var out []*keyward.API
	var next string
	err := s.run(ctx, call{action: keyward.ActionAPIList, resource: keyward.APIARN("*"), params: map[string]any{"limit": p.Limit}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			var err error
			out, next, err = tx.ListAPIs(ctx, p.Normalized())
			return err
		})
	return out, next, err
}

// UpdateAPI changes an API in place.
func (s *APIs) UpdateAPI(ctx context.Context, ref string, u keyward.APIUpdate) (*keyward.API, error) {
	var a *keyward.API
	err := s.run(ctx, call{action: keyward.ActionAPIUpdate, resource: keyward.APIARN(ref), resolve: apiResolver(ref), params: map[string]any{"api": ref}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			var err error
			if a, err = resolveAPI(ctx, tx, ref); err != nil {
				return err
			}
			if u.Name != nil {
				a.Name = *u.Name
			}
			if u.Description != nil {
				a.Description = *u.Description
			}
			if u.OpenAICompatible != nil {
				a.OpenAICompatible = *u.OpenAICompatible
			}
			if u.KeyPrefix != nil {
				a.KeyPrefix = *u.KeyPrefix
			}
			if u.Stages != nil {
				a.Stages = *u.Stages
			}
			if err := validateAPI(a); err != nil {
				return err
			}
			if u.Stages != nil {
				if err := authorizeUpstreamSecrets(ctx, tx, o, a.Stages); err != nil {
					return err
				}
			}
			a.UpdatedAt = s.clock.Now()
			return tx.UpdateAPI(ctx, a)
		})
	return a, err
}

// DeleteAPI removes an API. Keys that named its stages keep their stage keys,
// which then match nothing.
func (s *APIs) DeleteAPI(ctx context.Context, ref string) error {
	return s.run(ctx, call{action: keyward.ActionAPIDelete, resource: keyward.APIARN(ref), resolve: apiResolver(ref), params: map[string]any{"api": ref}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			a, err := resolveAPI(ctx, tx, ref)
			if err != nil {
				return err
			}
			return tx.DeleteAPI(ctx, a.ID)
		})
}

func apiResolver(ref string) func(context.Context, keyward.Tx) (string, error) {
	return func(ctx context.Context, tx keyward.Tx) (string, error) {
		a, err := resolveAPI(ctx, tx, ref)
		if err != nil {
			return "", err
		}
		return keyward.APIARN(a.ID), nil
	}
}

package core

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
	"github.com/keyward/keyward/envelope"
)

// marker stands in for a secret value in audit records: an HMAC under the
// server pepper, so two records can be compared for "same value" without
// the value being recoverable from the trail.
func (s *base) marker(v []byte) string {
	d := s.hasher.Digest("keyward/audit-marker/v1\x00" + string(v))
	return audit.Marker(d[:])
}

func (s *base) secretMAC(name string, v []byte) []byte {
	d := s.hasher.Digest("keyward/secret-mac/v1\x00" + name + "\x00" + string(v))
	return d[:]
}

func secretBinding(name, versionID string) envelope.Binding {
	return envelope.Binding{Kind: "secret", ID: name, Version: versionID, Field: "value"}
}

// CreateSecret creates a secret and, when a value is given, its first version.
func (s *Secrets) CreateSecret(ctx context.Context, in keyward.SecretCreate) (*keyward.SecretVersionRef, error) {
	params := map[string]any{"name": in.Name, "description": in.Description, "clientToken": in.ClientToken, "binary": in.Binary}
	var ref *keyward.SecretVersionRef
	err := s.run(ctx, call{action: keyward.ActionSecretCreate, resource: keyward.SecretARN(in.Name), params: params},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			if err := validateSecretCreate(in); err != nil {
				return err
			}
			if in.Value != nil {
				// The marker is recorded only for authorized calls: a denied
				// caller must not be able to plant guesses to compare.
				o.ev.RequestParameters["secretValue"] = s.marker(in.Value)
			}
			now := s.clock.Now()
			sec := &keyward.Secret{Name: in.Name, ARN: keyward.SecretARN(in.Name), Description: in.Description,
				Tags: in.Tags, CreatedAt: now, UpdatedAt: now}
			if err := tx.InsertSecret(ctx, sec); err != nil {
				if keyward.ErrorCode(err) == keyward.ECONFLICT && in.ClientToken != "" && in.Value != nil &&
					o.mayCompareValue(ctx, tx, in.Name) == nil {
					// A retry of this very call: the same token and value
					// answer the same version, as Secrets Manager does.
					if replay, rerr := s.replayCreateSecret(ctx, tx, in); rerr == nil {
						ref = replay
						o.respond("arn", ref.ARN, "versionId", ref.VersionID, "replayed", true)
						return nil
					}
				}
				return err
			}
			ref = &keyward.SecretVersionRef{Name: sec.Name, ARN: sec.ARN}
			if in.Value != nil {
				var err error
				ref, err = s.putVersion(ctx, tx, sec, keyward.SecretPut{Value: in.Value, Binary: in.Binary, ClientToken: in.ClientToken})
				if err != nil {
					return err
				}
			}
			o.respond("arn", ref.ARN, "versionId", ref.VersionID)
			return nil
		})
	return ref, err
}

func (s *Secrets) replayCreateSecret(ctx context.Context, tx keyward.Tx, in keyward.SecretCreate) (*keyward.SecretVersionRef, error) {
	v, err := tx.GetSecretVersion(ctx, in.Name, in.ClientToken)
	if err != nil {
		return nil, err
	}
	if !s.hasher.Equal(digestOf(v.ValueMAC), digestOf(s.secretMAC(in.Name, in.Value))) || v.Binary != in.Binary {
		return nil, keyward.Errorf(keyward.ECONFLICT, "client token already used with another value")
	}
	return &keyward.SecretVersionRef{Name: in.Name, ARN: keyward.SecretARN(in.Name), VersionID: v.ID}, nil
}

func validateSecretCreate(in keyward.SecretCreate) error {
	if err := checkSecretName(in.Name); err != nil {
		return err
	}
	if err := checkText("description", in.Description, maxDescriptionLen, false); err != nil {
		return err
	}
	if len(in.Value) > maxSecretBytes {
		return invalid("secret value is larger than %d bytes", maxSecretBytes)
	}
	if err := checkClientToken(in.ClientToken); err != nil {
		return err
	}
	return checkTags(in.Tags)
}

// PutSecretValue adds a version to a secret.
func (s *Secrets) PutSecretValue(ctx context.Context, name string, in keyward.SecretPut) (*keyward.SecretVersionRef, error) {
	params := map[string]any{"name": name, "clientToken": in.ClientToken, "versionStages": in.Stages, "binary": in.Binary}
	var ref *keyward.SecretVersionRef
	err := s.run(ctx, call{action: keyward.ActionSecretPut, resource: keyward.SecretARN(name), params: params},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			o.ev.RequestParameters["secretValue"] = s.marker(in.Value)
			sec, err := tx.GetSecret(ctx, name)
			if err != nil {
				return err
			}
			if err := refuseKeyOwned(ctx, tx, name); err != nil {
				return err
			}
			if in.ClientToken != "" {
				if _, err := tx.GetSecretVersion(ctx, name, in.ClientToken); err == nil {
					if err := o.mayCompareValue(ctx, tx, name); err != nil {
						return err
					}
				} else if !isNotFound(err) {
					return err
				}
			}
			if ref, err = s.putVersion(ctx, tx, sec, in); err != nil {
				return err
			}
			o.respond("versionId", ref.VersionID)
			return nil
		})
	return ref, err
}

// mayCompareValue checks that the running call may learn whether a value
// it sent equals secret name's stored one: answering a retried write
// (same client token: same value, same version; other value, conflict)
// tells exactly that, so it needs the right to read the value. Without it
// a client token is an oracle for guessing values.
func (o *op) mayCompareValue(ctx context.Context, tx keyward.Tx, name string) error {
	if err := o.authorize(ctx, keyward.ActionSecretGetValue, keyward.SecretARN(name)); err != nil {
		return keyward.Errorf(keyward.EFORBIDDEN, "this client token names a version of secret %s already: answering the retry would compare values, "+
			"which needs %s on it (use a new client token)", name, keyward.ActionSecretGetValue)
	}
	return o.mayReadValueSecret(ctx, tx, name)
}

// putVersion seals value as a new version of sec and moves the requested
// stages (default CURRENT) onto it; CURRENT's old holder becomes PREVIOUS.
// The same client token with the same value finds the existing version; with
// another value it is a conflict.
func (s *base) putVersion(ctx context.Context, tx keyward.Tx, sec *keyward.Secret, in keyward.SecretPut) (*keyward.SecretVersionRef, error) {
	if sec.DeletionDate != nil {
		return nil, keyward.Errorf(keyward.EPRECONDITION, "secret %s is scheduled for deletion", sec.Name)
	}
	if len(in.Value) == 0 || len(in.Value) > maxSecretBytes {
		return nil, invalid("secret value must be 1-%d bytes", maxSecretBytes)
	}
	if err := checkClientToken(in.ClientToken); err != nil {
		return nil, err
	}
	stages := in.Stages
	if len(stages) == 0 {
		stages = []string{keyward.StageCurrent}
	}
	for _, st := range stages {
		if err := checkText("version stage", st, 256, true); err != nil {
			return nil, err
		}
	}
	mac := s.secretMAC(sec.Name, in.Value)
	ref := &keyward.SecretVersionRef{Name: sec.Name, ARN: keyward.SecretARN(sec.Name), VersionID: in.ClientToken}
	if in.ClientToken != "" {
		v, err := tx.GetSecretVersion(ctx, sec.Name, in.ClientToken)
		if err == nil {
			if !s.hasher.Equal(digestOf(v.ValueMAC), digestOf(mac)) || v.Binary != in.Binary {
				return nil, keyward.Errorf(keyward.ECONFLICT, "client token already used with another value")
			}
			return ref, nil
		}
		if !isNotFound(err) {
			return nil, err
		}
	} else {
		ref.VersionID = uuid.NewString()
	}
	sealed, err := s.sealer.Seal(ctx, secretBinding(sec.Name, ref.VersionID), in.Value)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	v := &keyward.SecretVersion{SecretName: sec.Name, ID: ref.VersionID, Binary: in.Binary, CreatedAt: now, Sealed: sealed, ValueMAC: mac}
	if err := tx.InsertSecretVersion(ctx, v); err != nil {
		return nil, err
	}
	for _, st := range stages {
		if err := s.moveStage(ctx, tx, sec.Name, st, v.ID); err != nil {
			return nil, err
		}
	}
	sec.UpdatedAt = now
	return ref, tx.UpdateSecret(ctx, sec)
}

// moveStage puts stage on version to; moving CURRENT also moves PREVIOUS onto
// the version that was CURRENT, as Secrets Manager does.
func (s *base) moveStage(ctx context.Context, tx keyward.Tx, name, stage, to string) error {
	if stage == keyward.StageCurrent {
		old, err := tx.GetSecretVersionByStage(ctx, name, keyward.StageCurrent)
		switch {
		case err == nil && old.ID != to:
			if err := tx.MoveStage(ctx, name, keyward.StagePrevious, old.ID); err != nil {
				return err
			}
		case err != nil && !isNotFound(err):
			return err
		}
	}
	return tx.MoveStage(ctx, name, stage, to)
}

// GetSecretValue decrypts one version of a secret. Every call is audited
// with a marker in place of the value.
func (s *Secrets) GetSecretValue(ctx context.Context, name string, sel keyward.SecretSelector) (*keyward.SecretValue, error) {
	params := map[string]any{"name": name, "versionId": sel.VersionID, "versionStage": sel.Stage}
	var out *keyward.SecretValue
	err := s.run(ctx, call{action: keyward.ActionSecretGetValue, resource: keyward.SecretARN(name), params: params},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			o.ev.EventType = keyward.EventTypeValueRead
			sec, err := s.liveSecret(ctx, tx, name)
			if err != nil {
				return err
			}
			if err := o.mayReadValueSecret(ctx, tx, name); err != nil {
				return err
			}
			v, err := selectVersion(ctx, tx, name, sel)
			if err != nil {
				return err
			}
			plain, err := s.sealer.Open(ctx, secretBinding(name, v.ID), v.Sealed)
			if err != nil {
				return err
			}
			now := s.clock.Now()
			day := now.Truncate(24 * time.Hour)
			if sec.LastAccessedAt == nil || !sec.LastAccessedAt.Equal(day) {
				sec.LastAccessedAt = &day
				if err := tx.UpdateSecret(ctx, sec); err != nil {
					return err
				}
			}
			out = &keyward.SecretValue{Name: name, VersionID: v.ID, Stages: v.Stages, CreatedAt: v.CreatedAt, Binary: v.Binary, Value: plain}
			o.respond("versionId", v.ID, "secretValue", s.marker(plain))
			return nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func selectVersion(ctx context.Context, tx keyward.Tx, name string, sel keyward.SecretSelector) (*keyward.SecretVersion, error) {
	switch {
	case sel.VersionID != "":
		v, err := tx.GetSecretVersion(ctx, name, sel.VersionID)
		if err == nil && sel.Stage != "" && !slices.Contains(v.Stages, sel.Stage) {
			return nil, invalid("version %s does not hold stage %s", sel.VersionID, sel.Stage)
		}
		return v, err
	case sel.Stage != "":
		return tx.GetSecretVersionByStage(ctx, name, sel.Stage)
	default:
		return tx.GetSecretVersionByStage(ctx, name, keyward.StageCurrent)
	}
}

// liveSecret returns a secret that is not pending deletion.
func (s *base) liveSecret(ctx context.Context, tx keyward.Tx, name string) (*keyward.Secret, error) {
	sec, err := tx.GetSecret(ctx, name)
	if err != nil {
		return nil, err
	}
	if sec.DeletionDate != nil {
		return nil, keyward.Errorf(keyward.EPRECONDITION, "secret %s is scheduled for deletion", name)
	}
	return sec, nil
}

package core

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/envelope"
	"github.com/keyward/keyward/keyvalue"
)

// CreateKey creates a key, generates (or imports) its value, stores only the
// value's digest (and, for recoverable keys, its envelope), attaches plans,
// and either returns the value once or writes it into a secret.
func (s *Keys) CreateKey(ctx context.Context, in keyward.KeyCreate) (*keyward.CreatedKey, error) {
	c := call{action: keyward.ActionKeyCreate, resource: keyward.KeyARN("*"), params: map[string]any{
		"name": in.Name, "description": in.Description, "customerId": in.CustomerID,
		"enabled": in.Enabled == nil || *in.Enabled, "stageKeys": stageKeyStrings(in.StageKeys),
		"planIds": in.PlanIDs, "recoverable": in.Recoverable, "storeSecret": in.StoreSecret,
		"imported": in.Value != "", "clientToken": in.ClientToken,
	}}
	var out *keyward.CreatedKey
	err := s.run(ctx, c, func(ctx context.Context, tx keyward.Tx, o *op) error {
		if err := validateKeyCreate(in, s.clock.Now()); err != nil {
			return err
		}
		if in.ClientToken != "" {
			replay, err := s.replayCreateKey(ctx, tx, in)
			if err != nil || replay != nil {
				out = replay
				if replay != nil {
					o.respond("keyId", replay.Key.ID, "replayed", true)
				}
				return err
			}
		}
		k, value, err := s.insertKey(ctx, tx, o, in)
		if err != nil {
			return err
		}
		out = &keyward.CreatedKey{Key: k}
		o.respond("keyId", k.ID)
		o.changed(keyward.Change{Kind: keyward.ChangeKey, ID: k.ID})
		if in.StoreSecret != "" {
			ref, err := s.deliverToSecret(ctx, tx, o, in.StoreSecret, k.ID, value)
			if err != nil {
				return err
			}
			o.respond("valueSecret", ref.Name, "valueSecretVersionId", ref.VersionID)
		} else {
			out.Value = value
		}
		if in.ClientToken != "" {
			return s.rememberCreateKey(ctx, tx, in, k.ID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func validateKeyCreate(in keyward.KeyCreate, now time.Time) error {
	if err := checkText("name", in.Name, maxNameLen, true); err != nil {
		return err
	}
	if err := checkText("description", in.Description, maxDescriptionLen, false); err != nil {
		return err
	}
	if err := checkText("customerId", in.CustomerID, maxNameLen, false); err != nil {
		return err
	}
	if in.Prefix != "" && !keyvalue.ValidPrefix(in.Prefix) {
		return invalid("prefix must be 1-16 characters of a-z 0-9, starting with a letter")
	}
	if in.Prefix == keyward.AdminTokenPrefix {
		return invalid("prefix %q is reserved for admin tokens", keyward.AdminTokenPrefix)
	}
	if in.ExpiresAt != nil && !in.ExpiresAt.After(now) {
		return invalid("expiresAt must be in the future")
	}
	if in.Value != "" {
		if keyvalue.Check(in.Value) == keyvalue.BadChecksum {
			return invalid("imported value is shaped like a keyward key but its checksum is wrong")
		}
		if err := keyvalue.ValidImported(in.Value); err != nil {
			return invalid("imported value must be 20-256 printable ASCII characters without spaces")
		}
	}
	if in.StoreSecret != "" {
		if err := checkSecretName(in.StoreSecret); err != nil {
			return err
		}
	}
	if len(in.PlanIDs) > maxListItems {
		return invalid("at most %d plans", maxListItems)
	}
	if err := checkRotationPolicy(in.Rotation); err != nil {
		return err
	}
	if err := checkScopes(in.Scopes); err != nil {
		return err
	}
	if err := checkClientToken(in.ClientToken); err != nil {
		return err
	}
	return checkTags(in.Tags)
}

func (s *Keys) insertKey(ctx context.Context, tx keyward.Tx, o *op, in keyward.KeyCreate) (*keyward.APIKey, string, error) {
	stageKeys, apis, err := o.resolveStageKeys(ctx, tx, in.StageKeys)
	if err != nil {
		return nil, "", err
	}
	now := s.clock.Now()
	k := &keyward.APIKey{
		ID: newID("key"), Name: in.Name, Description: in.Description, CustomerID: in.CustomerID,
		Enabled: in.Enabled == nil || *in.Enabled, Prefix: in.Prefix, ExpiresAt: in.ExpiresAt,
		StageKeys: stageKeys, Scopes: in.Scopes, Tags: in.Tags, Recoverable: in.Recoverable,
		Imported: in.Value != "", ValueSecret: in.StoreSecret, Rotation: in.Rotation, CreatedAt: now, UpdatedAt: now,
	}
	if err := o.mayBind(ctx, nil, stageKeys); err != nil {
		return nil, "", err
	}
	if in.Value != "" {
		if err := o.authorize(ctx, keyward.ActionKeyImport, keyward.KeyARN(k.ID)); err != nil {
			return nil, "", err
		}
	}
	if in.StoreSecret == "" {
		if err := o.mayKnowValue(ctx, k.ID, "creating a key without storeSecret"); err != nil {
			return nil, "", err
		}
	} else if err := claimValueSecret(ctx, tx, in.StoreSecret, k.ID); err != nil {
		return nil, "", err
	}
	if k.Prefix == "" {
		k.Prefix = keyvalue.DefaultPrefix
		if len(apis) > 0 && apis[0].KeyPrefix != "" {
			k.Prefix = apis[0].KeyPrefix
		}
	}
	value := in.Value
	if value == "" {
		if value, err = keyvalue.Generate(k.Prefix); err != nil {
			return nil, "", err
		}
	}
	cred, err := s.newCredential(ctx, k, keyward.LabelCurrent, value)
	if err != nil {
		return nil, "", err
	}
	if err := tx.InsertKey(ctx, k); err != nil {
		return nil, "", err
	}
	if err := tx.InsertCredential(ctx, cred); err != nil {
		if keyward.ErrorCode(err) == keyward.ECONFLICT {
			return nil, "", keyward.Errorf(keyward.ECONFLICT, "this key value is already in use")
		}
		return nil, "", err
	}
	for _, ref := range in.PlanIDs {
		p, err := o.resolvePlan(ctx, tx, ref)
		if err != nil {
			return nil, "", err
		}
		if slices.Contains(k.PlanIDs, p.ID) {
			continue // named twice (by name and by ID, say): attached once
		}
		if err := o.authorize(ctx, keyward.ActionPlanAttachKey, keyward.PlanARN(p.ID)); err != nil {
			return nil, "", err
		}
		if err := o.mayBind(ctx, nil, planBindings(p)); err != nil {
			return nil, "", err
		}
		if err := tx.AttachKey(ctx, p.ID, k.ID); err != nil {
			return nil, "", err
		}
		k.PlanIDs = append(k.PlanIDs, p.ID)
	}
	k.Credentials = []keyward.Credential{*cred}
	return k, value, nil
}

// newCredential digests value and, for recoverable keys, seals it bound to
// the key and credential IDs so the envelope cannot be moved to another row.
func (s *base) newCredential(ctx context.Context, k *keyward.APIKey, label keyward.CredentialLabel, value string) (*keyward.Credential, error) {
	d := s.hasher.Digest(value)
	c := &keyward.Credential{
		ID: newID("cred"), KeyID: k.ID, Label: label, Hint: keyvalue.Hint(value),
		CreatedAt: s.clock.Now(), Digest: d[:],
	}
	if k.Recoverable {
		sealed, err := s.sealer.Seal(ctx, credentialBinding(c), []byte(value))
		if err != nil {
			return nil, err
		}
		c.SealedValue = sealed
	}
	return c, nil
}

func credentialBinding(c *keyward.Credential) envelope.Binding {
	return envelope.Binding{Kind: "apikey-credential", ID: c.KeyID, Version: c.ID, Field: "value"}
}

// deliverToSecret writes a key's value as the CURRENT version of a secret,
// creating the secret when needed, so the caller only ever sees the key ID.
func (s *Keys) deliverToSecret(ctx context.Context, tx keyward.Tx, o *op, name, keyID, value string) (*keyward.SecretVersionRef, error) {
	if err := o.authorize(ctx, keyward.ActionSecretPut, keyward.SecretARN(name)); err != nil {
		return nil, err
	}
	sec, err := tx.GetSecret(ctx, name)
	if isNotFound(err) {
		if err := o.authorize(ctx, keyward.ActionSecretCreate, keyward.SecretARN(name)); err != nil {
			return nil, err
		}
		now := s.clock.Now()
		sec = &keyward.Secret{Name: name, ARN: keyward.SecretARN(name), CreatedAt: now, UpdatedAt: now,
			Description: "value of API key " + keyID, Tags: map[string]string{TagValueOf: keyID}}
		err = tx.InsertSecret(ctx, sec)
	}
	if err != nil {
		return nil, err
	}
	if err := markValueSecret(ctx, tx, sec, keyID); err != nil {
		return nil, err
	}
	return s.putVersion(ctx, tx, sec, keyward.SecretPut{Value: []byte(value)})
}

type createKeyMemo struct {
	KeyID string `json:"keyId"`
}

func (s *Keys) requestMAC(scope string, in any) []byte {
	b, _ := json.Marshal(in)
	d := s.hasher.Digest("keyward/idempotency/v1\x00" + scope + "\x00" + string(b))
	return d[:]
}

// replayCreateKey answers a CreateKey retried with the same client token: the
// same key, without its value (it was shown once). Other input with the same
// token is a conflict.
func (s *Keys) replayCreateKey(ctx context.Context, tx keyward.Tx, in keyward.KeyCreate) (*keyward.CreatedKey, error) {
	rec, err := tx.GetIdempotency(ctx, string(keyward.ActionKeyCreate), in.ClientToken)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !s.hasher.Equal(digestOf(rec.RequestMAC), digestOf(s.requestMAC(rec.Scope, in))) {
		return nil, keyward.Errorf(keyward.ECONFLICT, "client token already used with other input")
	}
	var memo createKeyMemo
	if err := json.Unmarshal(rec.Response, &memo); err != nil {
		return nil, err
	}
	k, err := tx.GetKey(ctx, memo.KeyID)
	if err != nil {
		return nil, err
	}
	return &keyward.CreatedKey{Key: publicKey(k)}, nil
}

func (s *Keys) rememberCreateKey(ctx context.Context, tx keyward.Tx, in keyward.KeyCreate, id string) error {
	resp, _ := json.Marshal(createKeyMemo{KeyID: id})
	scope := string(keyward.ActionKeyCreate)
	return tx.PutIdempotency(ctx, &keyward.IdempotencyRecord{
		Scope: scope, Token: in.ClientToken, RequestMAC: s.requestMAC(scope, in),
		Response: resp, CreatedAt: s.clock.Now(),
	})
}

func digestOf(b []byte) keyvalue.Digest {
	var d keyvalue.Digest
	copy(d[:], b)
	return d
}

// publicKey strips what must not leave the server. Digests and sealed values
// are not marshalled anyway; clearing them keeps them out of memory that
// outlives the call too.
func publicKey(k *keyward.APIKey) *keyward.APIKey {
	for i := range k.Credentials {
		k.Credentials[i].Digest = nil
		k.Credentials[i].SealedValue = nil
	}
	return k
}

func stageKeyStrings(sks []keyward.StageKey) []string {
	out := make([]string, 0, len(sks))
	for _, sk := range sks {
		out = append(out, sk.String())
	}
	return out
}

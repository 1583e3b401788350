package core

import (
	"context"
	"maps"
	"strings"

	"github.com/keyward/keyward"
)

// The rules that keep key values from anyone not allowed apikeys:ReadValue,
// in one place. A key value reaches a caller only three ways: in the answer
// to a create or rotation that does not deliver it to a secret, as the
// value of a recoverable key, or as the value of the secret it is
// delivered to. Each way checks ReadValue on the key; a caller without it
// must deliver to a secret; choosing a value (import) is an action of its
// own; and the secret that holds a key's value changes only through that
// key's create and rotate path, so it can be neither overwritten with a
// value someone picked nor moved out from under its key.

// mayKnowValue checks that the running call may learn a value of key id.
// what says how it would, for the error.
func (o *op) mayKnowValue(ctx context.Context, id, what string) error {
	if err := o.authorize(ctx, keyward.ActionKeyReadValue, keyward.KeyARN(id)); err != nil {
		return keyward.Errorf(keyward.EFORBIDDEN, "%s would give you the value of API key %s, and you are not allowed %s on %s: "+
			"deliver it to a secret instead (storeSecret, --store-secret NAME)", what, id, keyward.ActionKeyReadValue, keyward.KeyARN(id))
	}
	return nil
}

// TagValueOf marks a secret that holds, or held, a key's value: the key
// path sets it on every secret it writes a value to and nobody else may set,
// change or remove it. A value moved to another secret leaves the old one
// still holding the old value (working until its grace ends), so the mark
// outlives the move. Tags starting "keyward:" are reserved for such marks.
const TagValueOf = "keyward:apikey"

// reservedTagPrefix starts the tags only keyward sets.
const reservedTagPrefix = "keyward:"

// valueOwner returns the ID of the key whose value secret sec holds or
// held, or "" when none: the key delivering to it, else the key its mark
// names if that key still exists.
func valueOwner(ctx context.Context, tx keyward.Tx, sec *keyward.Secret) (string, error) {
	keys, _, err := tx.ListKeys(ctx, keyward.KeyFilter{ValueSecret: sec.Name, Page: keyward.Page{Limit: 1}})
	if err != nil {
		return "", err
	}
	if len(keys) > 0 {
		return keys[0].ID, nil
	}
	id := sec.Tags[TagValueOf]
	if id == "" {
		return "", nil
	}
	if _, err := tx.GetKey(ctx, id); isNotFound(err) {
		return "", nil // its key is gone, and with it every value it held
	} else if err != nil {
		return "", err
	}
	return id, nil
}

// ownerOf is valueOwner by name; a missing secret belongs to nobody.
func ownerOf(ctx context.Context, tx keyward.Tx, name string) (string, error) {
	sec, err := tx.GetSecret(ctx, name)
	if isNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return valueOwner(ctx, tx, sec)
}

// refuseKeyOwned refuses a change to secret name by anything but its key's
// own create and rotate path (which writes through putVersion directly).
func refuseKeyOwned(ctx context.Context, tx keyward.Tx, name string) error {
	id, err := ownerOf(ctx, tx, name)
	if err != nil || id == "" {
		return err
	}
	return keyward.Errorf(keyward.ECONFLICT, "secret %s holds the value of API key %s: it changes only when the key is rotated (keyward keys rotate %s)", name, id, id)
}

// claimValueSecret checks that secret name may receive the value of key
// id: it belongs to no other key, no API stage sends it upstream, and no
// rotator rotates it (a rotator's finishSecret would put a value of its
// choosing over the key's).
func claimValueSecret(ctx context.Context, tx keyward.Tx, name, id string) error {
	owner, err := ownerOf(ctx, tx, name)
	if err != nil {
		return err
	}
	if owner != "" && owner != id {
		return keyward.Errorf(keyward.ECONFLICT, "secret %s holds the value of API key %s: deliver key %s's value to another secret", name, owner, id)
	}
	if sec, err := tx.GetSecret(ctx, name); err == nil && sec.Rotation != nil {
		return keyward.Errorf(keyward.ECONFLICT, "secret %s is rotated by a rotator: deliver key %s's value to another secret", name, id)
	} else if err != nil && !isNotFound(err) {
		return err
	}
	running, _, err := tx.ListRotations(ctx, keyward.RotationFilter{Kind: keyward.RotationSecret, Target: name,
		State: keyward.RotationInProgress, Page: keyward.Page{Limit: 1}})
	if err != nil {
		return err
	}
	if len(running) > 0 {
		return keyward.Errorf(keyward.ECONFLICT, "secret %s is being rotated by its rotator", name)
	}
	apis, err := allPages(func(p keyward.Page) ([]*keyward.API, string, error) { return tx.ListAPIs(ctx, p) })
	if err != nil {
		return err
	}
	for _, a := range apis {
		for _, st := range a.Stages {
			if st.UpstreamSecret == name {
				return keyward.Errorf(keyward.ECONFLICT, "secret %s is the upstream credential of API %s stage %s: deliver key %s's value to another secret", name, a.ID, st.Name, id)
			}
		}
	}
	return nil
}

// refuseUpstreamKeyValue refuses a key's value secret as an API stage's
// upstream credential.
func refuseUpstreamKeyValue(ctx context.Context, tx keyward.Tx, name string) error {
	owner, err := ownerOf(ctx, tx, name)
	if err != nil || owner == "" {
		return err
	}
	return keyward.Errorf(keyward.ECONFLICT, "secret %s holds the value of API key %s: it cannot be sent upstream", name, owner)
}

// markValueSecret sets the mark of key id on sec, a secret the key path is
// about to write a value to.
func markValueSecret(ctx context.Context, tx keyward.Tx, sec *keyward.Secret, id string) error {
	if sec.Tags[TagValueOf] == id {
		return nil
	}
	tags := maps.Clone(sec.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	tags[TagValueOf] = id
	sec.Tags = tags
	return tx.UpdateSecret(ctx, sec)
}

// mayReadValueSecret checks, for a read of secret name's value, that a
// secret holding a key's value answers only callers allowed to read that
// key's value.
func (o *op) mayReadValueSecret(ctx context.Context, tx keyward.Tx, name string) error {
	id, err := ownerOf(ctx, tx, name)
	if err != nil || id == "" {
		return err
	}
	if err := o.authorize(ctx, keyward.ActionKeyReadValue, keyward.KeyARN(id)); err != nil {
		return keyward.Errorf(keyward.EFORBIDDEN, "secret %s holds the value of API key %s: reading it needs %s on %s as well",
			name, id, keyward.ActionKeyReadValue, keyward.KeyARN(id))
	}
	return nil
}

// keepReservedTags returns the tags a caller asked for (checkTags has
// refused reserved ones) with the reserved ones the secret has carried over.
func keepReservedTags(have, asked map[string]string) (map[string]string, error) {
	out := maps.Clone(asked)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range have {
		if strings.HasPrefix(k, reservedTagPrefix) {
			out[k] = v
		}
	}
	return out, nil
}

// planBindings are the API stages a plan lets its keys call: binding a key
// to a plan binds it to these.
func planBindings(p *keyward.UsagePlan) []keyward.StageKey {
	out := make([]keyward.StageKey, 0, len(p.APIStages))
	for _, ps := range p.APIStages {
		out = append(out, keyward.StageKey{APIID: ps.APIID, Stage: ps.Stage})
	}
	return out
}

// mayBind checks apis:BindKey on every API a key is newly bound to, by
// its own stage keys or through a usage plan (a plan naming an API is a
// binding to be: every key attached to it may call there).
func (o *op) mayBind(ctx context.Context, before, after []keyward.StageKey) error {
	had := map[string]bool{}
	for _, sk := range before {
		had[sk.APIID] = true
	}
	for _, sk := range after {
		if had[sk.APIID] {
			continue
		}
		had[sk.APIID] = true
		if err := o.authorize(ctx, keyward.ActionAPIBindKey, keyward.APIARN(sk.APIID)); err != nil {
			return err
		}
	}
	return nil
}

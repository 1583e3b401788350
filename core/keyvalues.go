package core

import (
	"context"

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

// keyHolding returns the key whose value is delivered to secret name, or
// nil when the secret belongs to no key.
func keyHolding(ctx context.Context, tx keyward.Tx, name string) (*keyward.APIKey, error) {
	keys, _, err := tx.ListKeys(ctx, keyward.KeyFilter{ValueSecret: name, Page: keyward.Page{Limit: 1}})
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	return keys[0], nil
}

// refuseKeyOwned refuses a change to secret name by anything but its key's
// own create and rotate path (which writes through putVersion directly).
func refuseKeyOwned(ctx context.Context, tx keyward.Tx, name string) error {
	k, err := keyHolding(ctx, tx, name)
	if err != nil || k == nil {
		return err
	}
	return keyward.Errorf(keyward.ECONFLICT, "secret %s holds the value of API key %s: it changes only when the key is rotated (keyward keys rotate %s)", name, k.ID, k.ID)
}

// claimValueSecret checks that secret name may receive the value of key
// id: it belongs to no other key.
func claimValueSecret(ctx context.Context, tx keyward.Tx, name, id string) error {
	k, err := keyHolding(ctx, tx, name)
	if err != nil || k == nil || k.ID == id {
		return err
	}
	return keyward.Errorf(keyward.ECONFLICT, "secret %s holds the value of API key %s: deliver key %s's value to another secret", name, k.ID, id)
}

// mayReadValueSecret checks, for a read of secret name's value, that a
// secret holding a key's value answers only callers allowed to read that
// key's value.
func (o *op) mayReadValueSecret(ctx context.Context, tx keyward.Tx, name string) error {
	k, err := keyHolding(ctx, tx, name)
	if err != nil || k == nil {
		return err
	}
	if err := o.authorize(ctx, keyward.ActionKeyReadValue, keyward.KeyARN(k.ID)); err != nil {
		return keyward.Errorf(keyward.EFORBIDDEN, "secret %s holds the value of API key %s: reading it needs %s on %s as well",
			name, k.ID, keyward.ActionKeyReadValue, keyward.KeyARN(k.ID))
	}
	return nil
}

// mayBind checks apis:BindKey on every API a key is newly bound to.
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

package core_test

import (
	"context"
	"testing"

	"github.com/keyward/keyward"
)

// A ciphertext copied to another record (someone with write access to the
// database moving envelopes around) does not open there: the envelope is
// bound to its record's kind, ID, version and field.
func TestCiphertextMovedToAnotherRecordFails(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, keyward.SecretCreate{Name: "a", Value: []byte("alpha")}))
	must[*keyward.SecretVersionRef](t)(e.svc.Secrets.CreateSecret(e.admin, keyward.SecretCreate{Name: "b", Value: []byte("beta")}))
	err := e.store.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
		b, err := tx.GetSecretVersionByStage(ctx, "b", keyward.StageCurrent)
		if err != nil {
			return err
		}
		moved := &keyward.SecretVersion{SecretName: "a", ID: "moved", CreatedAt: b.CreatedAt, Sealed: b.Sealed, ValueMAC: b.ValueMAC}
		if err := tx.InsertSecretVersion(ctx, moved); err != nil {
			return err
		}
		return tx.MoveStage(ctx, "a", keyward.StageCurrent, "moved")
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.svc.Secrets.GetSecretValue(e.admin, "a", keyward.SecretSelector{})
	if err == nil {
		t.Fatalf("a moved ciphertext opened as %q", v.Value)
	}
	wantCode(t, err, keyward.EINTERNAL)

	k1 := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "one", Recoverable: true}))
	k2 := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "two", Recoverable: true}))
	err = e.store.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
		one, err := tx.GetKey(ctx, k1.Key.ID)
		if err != nil {
			return err
		}
		two, err := tx.GetKey(ctx, k2.Key.ID)
		if err != nil {
			return err
		}
		c := two.Credentials[0]
		if err := tx.DeleteCredential(ctx, c.ID); err != nil {
			return err
		}
		c.SealedValue = one.Credentials[0].SealedValue
		return tx.InsertCredential(ctx, &c)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e.svc.Keys.ReadKeyValue(e.admin, k2.Key.ID); err == nil {
		t.Fatalf("key two revealed a value (first's: %v)", got == k1.Value)
	}
}

package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/keyward/keyward"
)

const keyCols = `id, name, description, customer_id, enabled, prefix, expires_at,
	stage_keys, scopes, tags, recoverable, imported, value_secret, rotation, created_at, updated_at`

const credCols = `id, key_id, label, hint, grace_until, created_at, digest, sealed_value`

var (
	// Insert and update take their arguments in the same order: keyArgs,
	// then updated_at and id (then created_at for an insert).
	qInsertKey = register(`INSERT INTO api_keys (name, description, customer_id, enabled,
		prefix, expires_at, stage_keys, scopes, tags, recoverable, imported, value_secret,
		rotation, updated_at, id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	qGetKey    = register(`SELECT ` + keyCols + ` FROM api_keys WHERE id = ?`)
	qUpdateKey = register(`UPDATE api_keys SET name = ?, description = ?, customer_id = ?,
		enabled = ?, prefix = ?, expires_at = ?, stage_keys = ?, scopes = ?, tags = ?,
		recoverable = ?, imported = ?, value_secret = ?, rotation = ?, updated_at = ? WHERE id = ?`)
	qDeleteKey = register(`DELETE FROM api_keys WHERE id = ?`)

	// The credentials and plans of a set of keys, given as a JSON array of IDs.
	qKeysCredentials = register(`SELECT ` + credCols + ` FROM credentials
		WHERE key_id IN (SELECT value FROM json_each(?)) ORDER BY key_id, created_at, id`)
	qKeysPlans = register(`SELECT key_id, plan_id FROM plan_keys
		WHERE key_id IN (SELECT value FROM json_each(?)) ORDER BY key_id, plan_id`)
	qKeysLastUsed = register(`SELECT key_id, at FROM key_last_used
		WHERE key_id IN (SELECT value FROM json_each(?))`)

	qInsertCredential = register(`INSERT INTO credentials (` + credCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	qUpdateCredential = register(`UPDATE credentials SET label = ?, grace_until = ? WHERE id = ?`)
	qDeleteCredential = register(`DELETE FROM credentials WHERE id = ?`)
	qFindCredential   = register(`SELECT ` + credCols + ` FROM credentials WHERE digest = ?`)
	// Without a unique index on digests (SQLite) both read the whole table:
	// the first when a store starts writing, the second only when the
	// DigestSet cannot rule a value out (digests.go).
	qAllDigests  = register(`SELECT digest FROM credentials`)
	qDigestInUse = register(`SELECT 1 FROM credentials WHERE digest = ? LIMIT 1`)
)

func (t *tx) InsertKey(ctx context.Context, k *keyward.APIKey) error {
	args, err := keyArgs(k)
	if err != nil {
		return internal("insert key", err)
	}
	return t.execLater(ctx, qInsertKey, func(err error) error {
		if t.d.IsDuplicate(err) {
			return conflict("api key %q already exists", k.ID)
		}
		return internal("insert key", err)
	}, append(args, formatTime(k.UpdatedAt), k.ID, formatTime(k.CreatedAt))...)
}

// keyArgs are the column values of k's mutable fields but UpdatedAt.
func keyArgs(k *keyward.APIKey) ([]any, error) {
	stageKeys, err := jsonArg(k.StageKeys)
	if err != nil {
		return nil, err
	}
	scopes, err := json.Marshal(k.Scopes)
	if err != nil {
		return nil, err
	}
	tags, err := jsonArg(k.Tags)
	if err != nil {
		return nil, err
	}
	rotation, err := jsonArg(k.Rotation)
	if err != nil {
		return nil, err
	}
	return []any{k.Name, k.Description, k.CustomerID, k.Enabled, k.Prefix, nullTime(k.ExpiresAt),
		stageKeys, string(scopes), tags, k.Recoverable, k.Imported, k.ValueSecret, rotation}, nil
}

func scanKey(s scanner) (*keyward.APIKey, error) {
	k := &keyward.APIKey{}
	err := s.Scan(&k.ID, &k.Name, &k.Description, &k.CustomerID, &k.Enabled, &k.Prefix,
		nullTimeCol{&k.ExpiresAt}, jsonCol{&k.StageKeys}, jsonCol{&k.Scopes}, jsonCol{&k.Tags},
		&k.Recoverable, &k.Imported, &k.ValueSecret, jsonCol{&k.Rotation}, timeCol{&k.CreatedAt},
		timeCol{&k.UpdatedAt})
	return k, err
}

func (t *tx) GetKey(ctx context.Context, id string) (*keyward.APIKey, error) {
	k, err := scanKey(t.queryRow(ctx, qGetKey, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, notFound("api key", id)
	case err != nil:
		return nil, internal("get key", err)
	}
	if err := t.fillKeys(ctx, []*keyward.APIKey{k}); err != nil {
		return nil, err
	}
	return k, nil
}

var qGetKeys = register(`SELECT ` + keyCols + ` FROM api_keys WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`)

func (t *tx) GetKeys(ctx context.Context, ids []string) ([]*keyward.APIKey, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := t.query(ctx, qGetKeys, textList(ids))
	keys, err := collect(rows, err, scanKey)
	if err != nil {
		return nil, internal("get keys", err)
	}
	if err := t.fillKeys(ctx, keys); err != nil {
		return nil, err
	}
	return keys, nil
}

func (t *tx) ListKeys(ctx context.Context, f keyward.KeyFilter) ([]*keyward.APIKey, string, error) {
	keys, next, err := listPage(f.Page, func(k *keyward.APIKey) string { return k.ID },
		func(after string, limit int) ([]*keyward.APIKey, error) {
			var q strings.Builder
			var args []any
			order := "id"
			if f.PlanID != "" {
				// Walk the plan's attachments in key order, rather than
				// every key.
				q.WriteString(`SELECT ` + keyCols + ` FROM plan_keys JOIN api_keys ON id = key_id
					WHERE plan_id = ? AND key_id > ?`)
				args = append(args, f.PlanID, after)
				order = "key_id"
			} else {
				q.WriteString(`SELECT ` + keyCols + ` FROM api_keys WHERE id > ?`)
				args = append(args, after)
			}
			if f.CustomerID != "" {
				q.WriteString(` AND customer_id = ?`)
				args = append(args, f.CustomerID)
			}
			if f.Name != "" {
				q.WriteString(` AND name = ?`)
				args = append(args, f.Name)
			}
			if f.NamePrefix != "" {
				q.WriteString(` AND substr(name, 1, length(?)) = ?`)
				args = append(args, f.NamePrefix, f.NamePrefix)
			}
			if f.ValueSecret != "" {
				q.WriteString(` AND value_secret = ?`)
				args = append(args, f.ValueSecret)
			}
			if f.UnusedSince != nil {
				q.WriteString(` AND COALESCE((SELECT at FROM key_last_used WHERE key_id = id), created_at) < ?`)
				args = append(args, formatTime(*f.UnusedSince))
			}
			q.WriteString(` ORDER BY ` + order + ` LIMIT ?`)
			args = append(args, limit)
			rows, err := t.direct(ctx).QueryContext(ctx, t.d.Rewrite(q.String()), args...)
			keys, err := collect(rows, err, scanKey)
			if err != nil {
				return nil, internal("list keys", err)
			}
			return keys, nil
		})
	if err != nil {
		return nil, "", err
	}
	if err := t.fillKeys(ctx, keys); err != nil {
		return nil, "", err
	}
	return keys, next, nil
}

// fillKeys loads the credentials and plan IDs of keys, two queries for all.
func (t *tx) fillKeys(ctx context.Context, keys []*keyward.APIKey) error {
	if len(keys) == 0 {
		return nil
	}
	byID := make(map[string]*keyward.APIKey, len(keys))
	ids := make([]string, len(keys))
	for i, k := range keys {
		byID[k.ID] = k
		ids[i] = k.ID
	}
	idList := textList(ids)
	rows, err := t.query(ctx, qKeysCredentials, idList)
	creds, err := collect(rows, err, scanCredential)
	if err != nil {
		return internal("list credentials", err)
	}
	for _, c := range creds {
		k := byID[c.KeyID]
		k.Credentials = append(k.Credentials, *c)
	}
	var keyID, planID string
	err = t.each(ctx, qKeysPlans, []any{idList}, []any{&keyID, &planID}, func() {
		k := byID[keyID]
		k.PlanIDs = append(k.PlanIDs, planID)
	})
	if err != nil {
		return internal("list key plans", err)
	}
	var at *time.Time
	err = t.each(ctx, qKeysLastUsed, []any{idList}, []any{&keyID, nullTimeCol{&at}}, func() {
		byID[keyID].LastUsedAt = at
	})
	if err != nil {
		return internal("list key last use", err)
	}
	return nil
}

func (t *tx) UpdateKey(ctx context.Context, k *keyward.APIKey) error {
	args, err := keyArgs(k)
	if err != nil {
		return internal("update key", err)
	}
	return t.changeOne(ctx, qUpdateKey, "api key", k.ID, nil, append(args, formatTime(k.UpdatedAt), k.ID)...)
}

// DeleteKey deletes a key; its credentials and plan attachments go with it
// (ON DELETE CASCADE).
func (t *tx) DeleteKey(ctx context.Context, id string) error {
	return t.deleteOne(ctx, qDeleteKey, "api key", id)
}

func (t *tx) InsertCredential(ctx context.Context, c *keyward.Credential) error {
	d := t.insertedDigests()
	if d != nil {
		if err := t.checkValueFree(ctx, d, c.Digest); err != nil {
			return err
		}
	}
	err := t.execLater(ctx, qInsertCredential, func(err error) error { return credentialFailed(t.d, c, err) },
		c.ID, c.KeyID, string(c.Label), c.Hint, nullTime(c.GraceUntil), formatTime(c.CreatedAt), c.Digest, blobArg(c.SealedValue))
	if err == nil {
		d.add(c.Digest)
	}
	return err
}

// insertedDigests is the record of the credentials this write transaction
// inserted, where the store keeps digests unique itself (digests.go).
func (t *tx) insertedDigests() *txDigests {
	if t.batch != nil {
		return t.batch.digests
	}
	return t.digests
}

// checkValueFree fails when a credential has digest already: what the
// unique index on credentials.digest says where there is one.
func (t *tx) checkValueFree(ctx context.Context, d *txDigests, digest []byte) error {
	may, err := d.mayExist(ctx, t, digest)
	if err != nil {
		return internal("read credential digests", err)
	}
	if !may {
		return nil
	}
	d.scanned()
	var one int
	switch err := t.queryRow(ctx, qDigestInUse, digest).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return internal("find credential digest", err)
	}
	return errValueInUse()
}

// errValueInUse is the error of a key value another credential has.
func errValueInUse() error { return conflict("this key value is already in use") }

// credentialFailed is the error of inserting c that failed with err.
func credentialFailed(d *Dialect, c *keyward.Credential, err error) error {
	switch {
	case d.IsDuplicate(err):
		// Which constraint failed is only in the driver's message.
		msg := err.Error()
		switch {
		// The messages are the ones the core gives its callers.
		case strings.Contains(msg, "credentials.digest"):
			return errValueInUse()
		case strings.Contains(msg, "credentials.label") && c.Label == keyward.LabelPending:
			return conflict("a rotation of key %s is already in progress", c.KeyID)
		case strings.Contains(msg, "credentials.label"):
			return conflict("api key %q already has a %s credential", c.KeyID, c.Label)
		}
		return conflict("credential %q already exists", c.ID)
	case d.IsMissingParent(err):
		return notFound("api key", c.KeyID)
	}
	return internal("insert credential", err)
}

func (t *tx) UpdateCredential(ctx context.Context, c *keyward.Credential) error {
	return t.changeOne(ctx, qUpdateCredential, "credential", c.ID, conflict("api key %q already has a %s credential", c.KeyID, c.Label), string(c.Label), nullTime(c.GraceUntil), c.ID)
}

func (t *tx) DeleteCredential(ctx context.Context, id string) error {
	return t.deleteOne(ctx, qDeleteCredential, "credential", id)
}

func (t *tx) FindCredential(ctx context.Context, digest []byte) (*keyward.Credential, error) {
	c, err := scanCredential(t.queryRow(ctx, qFindCredential, digest))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, keyward.Errorf(keyward.ENOTFOUND, "credential not found") // never name the digest
	case err != nil:
		return nil, internal("find credential", err)
	}
	return c, nil
}

func scanCredential(s scanner) (*keyward.Credential, error) {
	c := &keyward.Credential{}
	var label string
	err := s.Scan(&c.ID, &c.KeyID, &label, &c.Hint, nullTimeCol{&c.GraceUntil},
		timeCol{&c.CreatedAt}, &c.Digest, &c.SealedValue)
	c.Label = keyward.CredentialLabel(label)
	return c, err
}

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/keyward/keyward"
)

const secretCols = `name, description, tags, rotation, created_at, updated_at, last_accessed_at,
	deletion_date`

const versionCols = `secret_name, version_id, "binary", created_at, sealed, value_mac`

var (
	// Insert and update take their arguments in the same order: description,
	// tags, rotation, updated_at, last_accessed_at, deletion_date, name (then
	// created_at for an insert).
	qInsertSecret = register(`INSERT INTO secrets (description, tags, rotation, updated_at,
		last_accessed_at, deletion_date, name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	qUpdateSecret = register(`UPDATE secrets SET description = ?, tags = ?, rotation = ?,
		updated_at = ?, last_accessed_at = ?, deletion_date = ? WHERE name = ?`)
	qGetSecret    = register(`SELECT ` + secretCols + ` FROM secrets WHERE name = ?`)
	qDeleteSecret = register(`DELETE FROM secrets WHERE name = ?`)
	qSecretExists = register(`SELECT EXISTS (SELECT 1 FROM secrets WHERE name = ?)`)

	qInsertVersion = register(`INSERT INTO secret_versions (` + versionCols + `) VALUES (?, ?, ?, ?, ?, ?)`)
	qGetVersion    = register(`SELECT ` + versionCols + ` FROM secret_versions
		WHERE secret_name = ? AND version_id = ?`)
	qGetVersionByStage = register(`SELECT v.secret_name, v.version_id, v."binary", v.created_at,
		v.sealed, v.value_mac
		FROM secret_version_stages s JOIN secret_versions v
			ON v.secret_name = s.secret_name AND v.version_id = s.version_id
		WHERE s.secret_name = ? AND s.stage = ?`)
	qListVersions = register(`SELECT ` + versionCols + ` FROM secret_versions
		WHERE secret_name = ? ORDER BY created_at DESC, rowid DESC`)

	// The staging labels of a set of secrets, given as a JSON array of names.
	qSecretsStages = register(`SELECT secret_name, version_id, stage FROM secret_version_stages
		WHERE secret_name IN (SELECT value FROM json_each(?)) ORDER BY secret_name, version_id, stage`)
	qVersionStages = register(`SELECT stage FROM secret_version_stages
		WHERE secret_name = ? AND version_id = ? ORDER BY stage`)
	qPutStage = register(`INSERT INTO secret_version_stages (secret_name, stage, version_id)
		VALUES (?, ?, ?) ON CONFLICT (secret_name, stage) DO UPDATE SET version_id = excluded.version_id`)
	qRemoveStage = register(`DELETE FROM secret_version_stages WHERE secret_name = ? AND stage = ?`)
)

func (t *tx) InsertSecret(ctx context.Context, s *keyward.Secret) error {
	args, err := secretArgs(s)
	if err != nil {
		return internal("insert secret", err)
	}
	// Probed: a create retried with its client token goes on in the same
	// transaction to answer the version it made the first time.
	_, err = t.execProbe(ctx, qInsertSecret, append(args, formatTime(s.CreatedAt))...)
	switch {
	case t.d.IsDuplicate(err):
		return conflict("a secret named %q already exists", s.Name)
	case err != nil:
		return internal("insert secret", err)
	}
	return nil
}

func secretArgs(s *keyward.Secret) ([]any, error) {
	tags, err := jsonArg(s.Tags)
	if err != nil {
		return nil, err
	}
	rotation, err := jsonArg(s.Rotation)
	if err != nil {
		return nil, err
	}
	return []any{s.Description, tags, rotation, formatTime(s.UpdatedAt), nullTime(s.LastAccessedAt),
		nullTime(s.DeletionDate), s.Name}, nil
}

func scanSecret(sc scanner) (*keyward.Secret, error) {
	s := &keyward.Secret{}
	err := sc.Scan(&s.Name, &s.Description, jsonCol{&s.Tags}, jsonCol{&s.Rotation},
		timeCol{&s.CreatedAt}, timeCol{&s.UpdatedAt}, nullTimeCol{&s.LastAccessedAt},
		nullTimeCol{&s.DeletionDate})
	s.ARN = keyward.SecretARN(s.Name)
	return s, err
}

func (t *tx) GetSecret(ctx context.Context, name string) (*keyward.Secret, error) {
	s, err := scanSecret(t.queryRow(ctx, qGetSecret, name))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, notFound("secret", name)
	case err != nil:
		return nil, internal("get secret", err)
	}
	if err := t.fillStages(ctx, []*keyward.Secret{s}); err != nil {
		return nil, err
	}
	return s, nil
}

// ListSecrets also fills VersionIDsToStages, as Secrets Manager's
// ListSecrets does.
func (t *tx) ListSecrets(ctx context.Context, f keyward.SecretFilter) ([]*keyward.Secret, string, error) {
	secrets, next, err := listPage(f.Page, func(s *keyward.Secret) string { return s.Name },
		func(after string, limit int) ([]*keyward.Secret, error) {
			var q strings.Builder
			q.WriteString(`SELECT ` + secretCols + ` FROM secrets WHERE name > ?`)
			args := []any{after}
			if f.NamePrefix != "" {
				q.WriteString(` AND substr(name, 1, length(?)) = ?`)
				args = append(args, f.NamePrefix, f.NamePrefix)
			}
			if !f.IncludeDeleted {
				q.WriteString(` AND deletion_date IS NULL`)
			}
			if f.TagKey != "" || f.TagValue != "" {
				q.WriteString(` AND EXISTS (SELECT 1 FROM json_each(secrets.tags) WHERE true`)
				if f.TagKey != "" {
					q.WriteString(` AND key = ?`)
					args = append(args, f.TagKey)
				}
				if f.TagValue != "" {
					q.WriteString(` AND value = ?`)
					args = append(args, f.TagValue)
				}
				q.WriteString(`)`)
			}
			q.WriteString(` ORDER BY name LIMIT ?`)
			args = append(args, limit)
			rows, err := t.direct(ctx).QueryContext(ctx, t.d.Rewrite(q.String()), args...)
			secrets, err := collect(rows, err, scanSecret)
			if err != nil {
				return nil, internal("list secrets", err)
			}
			return secrets, nil
		})
	if err != nil {
		return nil, "", err
	}
	if err := t.fillStages(ctx, secrets); err != nil {
		return nil, "", err
	}
	return secrets, next, nil
}

// fillStages sets VersionIDsToStages of secrets: the versions that hold at
// least one staging label, each with its labels in order.
func (t *tx) fillStages(ctx context.Context, secrets []*keyward.Secret) error {
	if len(secrets) == 0 {
		return nil
	}
	byName := make(map[string]*keyward.Secret, len(secrets))
	names := make([]string, len(secrets))
	for i, s := range secrets {
		byName[s.Name] = s
		names[i] = s.Name
	}
	var name, versionID, stage string
	err := t.each(ctx, qSecretsStages, []any{textList(names)}, []any{&name, &versionID, &stage}, func() {
		s := byName[name]
		if s.VersionIDsToStages == nil {
			s.VersionIDsToStages = map[string][]string{}
		}
		s.VersionIDsToStages[versionID] = append(s.VersionIDsToStages[versionID], stage)
	})
	if err != nil {
		return internal("list secret stages", err)
	}
	return nil
}

func (t *tx) UpdateSecret(ctx context.Context, s *keyward.Secret) error {
	args, err := secretArgs(s)
	if err != nil {
		return internal("update secret", err)
	}
	return t.changeOne(ctx, qUpdateSecret, "secret", s.Name, nil, args...)
}

// DeleteSecret deletes a secret; its versions and their staging labels go
// with it (ON DELETE CASCADE).
func (t *tx) DeleteSecret(ctx context.Context, name string) error {
	return t.deleteOne(ctx, qDeleteSecret, "secret", name)
}

func (t *tx) InsertSecretVersion(ctx context.Context, v *keyward.SecretVersion) error {
	_, err := t.exec(ctx, qInsertVersion, v.SecretName, v.ID, v.Binary, formatTime(v.CreatedAt),
		blobArg(v.Sealed), blobArg(v.ValueMAC))
	switch {
	case t.d.IsDuplicate(err):
		return conflict("secret %q already has a version %q", v.SecretName, v.ID)
	case t.d.IsMissingParent(err):
		return notFound("secret", v.SecretName)
	case err != nil:
		return internal("insert secret version", err)
	}
	return nil
}

func scanVersion(s scanner) (*keyward.SecretVersion, error) {
	v := &keyward.SecretVersion{}
	err := s.Scan(&v.SecretName, &v.ID, &v.Binary, timeCol{&v.CreatedAt}, &v.Sealed, &v.ValueMAC)
	return v, err
}

func (t *tx) GetSecretVersion(ctx context.Context, name, versionID string) (*keyward.SecretVersion, error) {
	v, err := scanVersion(t.queryRow(ctx, qGetVersion, name, versionID))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, keyward.Errorf(keyward.ENOTFOUND, "secret %q has no version %q", name, versionID)
	case err != nil:
		return nil, internal("get secret version", err)
	}
	return v, t.fillVersionStages(ctx, v)
}

func (t *tx) GetSecretVersionByStage(ctx context.Context, name, stage string) (*keyward.SecretVersion, error) {
	v, err := scanVersion(t.queryRow(ctx, qGetVersionByStage, name, stage))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, keyward.Errorf(keyward.ENOTFOUND, "secret %q has no version labelled %q", name, stage)
	case err != nil:
		return nil, internal("get secret version", err)
	}
	return v, t.fillVersionStages(ctx, v)
}

func (t *tx) fillVersionStages(ctx context.Context, v *keyward.SecretVersion) error {
	rows, err := t.query(ctx, qVersionStages, v.SecretName, v.ID)
	v.Stages, err = collect(rows, err, scanText)
	if err != nil {
		return internal("get secret version stages", err)
	}
	return nil
}

func (t *tx) ListSecretVersions(ctx context.Context, name string) ([]*keyward.SecretVersion, error) {
	rows, err := t.query(ctx, qListVersions, name)
	versions, err := collect(rows, err, scanVersion)
	if err != nil {
		return nil, internal("list secret versions", err)
	}
	if len(versions) == 0 {
		return nil, nil
	}
	s := &keyward.Secret{Name: name}
	if err := t.fillStages(ctx, []*keyward.Secret{s}); err != nil {
		return nil, err
	}
	for _, v := range versions {
		v.Stages = s.VersionIDsToStages[v.ID]
	}
	return versions, nil
}

// MoveStage relies on the primary key (secret_name, stage) of
// secret_version_stages: putting a label on a version replaces the row that
// had it on another.
func (t *tx) MoveStage(ctx context.Context, name, stage, toID string) error {
	if toID == "" {
		ok, err := t.execOne(ctx, qRemoveStage, name, stage)
		if err != nil {
			return internal("remove secret stage", err)
		}
		if !ok {
			exists, err := t.exists(ctx, qSecretExists, name)
			if err != nil {
				return internal("remove secret stage", err)
			}
			if !exists {
				return notFound("secret", name)
			}
		}
		return nil
	}
	_, err := t.exec(ctx, qPutStage, name, stage, toID)
	switch {
	case t.d.IsMissingParent(err):
		return keyward.Errorf(keyward.ENOTFOUND, "secret %q has no version %q", name, toID)
	case err != nil:
		return internal("move secret stage", err)
	}
	return nil
}

package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/keyward/keyward"
)

const apiCols = `id, name, description, openai_compatible, key_prefix, stages, created_at, updated_at`

var (
	// Insert and update take their arguments in the same order: apiArgs, then
	// updated_at and id (then created_at for an insert).
	qInsertAPI = register(`INSERT INTO apis (name, description, openai_compatible, key_prefix,
		stages, updated_at, id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	qUpdateAPI = register(`UPDATE apis SET name = ?, description = ?, openai_compatible = ?,
		key_prefix = ?, stages = ?, updated_at = ? WHERE id = ?`)
	qGetAPI       = register(`SELECT ` + apiCols + ` FROM apis WHERE id = ?`)
	qGetAPIByName = register(`SELECT ` + apiCols + ` FROM apis WHERE name = ?`)
	qListAPIs     = register(`SELECT ` + apiCols + ` FROM apis WHERE name > ? ORDER BY name LIMIT ?`)
	qDeleteAPI    = register(`DELETE FROM apis WHERE id = ?`)
)

func (t *tx) InsertAPI(ctx context.Context, a *keyward.API) error {
	args, err := apiArgs(a)
	if err != nil {
		return internal("insert api", err)
	}
	_, err = t.exec(ctx, qInsertAPI, append(args, formatTime(a.UpdatedAt), a.ID, formatTime(a.CreatedAt))...)
	switch {
	case t.d.IsDuplicate(err):
		if strings.Contains(err.Error(), "apis.name") {
			return conflict("an api named %q already exists", a.Name)
		}
		return conflict("api %q already exists", a.ID)
	case err != nil:
		return internal("insert api", err)
	}
	return nil
}

func apiArgs(a *keyward.API) ([]any, error) {
	stages, err := jsonArg(a.Stages)
	if err != nil {
		return nil, err
	}
	return []any{a.Name, a.Description, a.OpenAICompatible, a.KeyPrefix, stages}, nil
}

func scanAPI(s scanner) (*keyward.API, error) {
	a := &keyward.API{}
	err := s.Scan(&a.ID, &a.Name, &a.Description, &a.OpenAICompatible, &a.KeyPrefix,
		jsonCol{&a.Stages}, timeCol{&a.CreatedAt}, timeCol{&a.UpdatedAt})
	return a, err
}

func (t *tx) GetAPI(ctx context.Context, id string) (*keyward.API, error) {
	return t.getAPI(ctx, qGetAPI, id)
}

func (t *tx) GetAPIByName(ctx context.Context, name string) (*keyward.API, error) {
	return t.getAPI(ctx, qGetAPIByName, name)
}

func (t *tx) getAPI(ctx context.Context, q query, idOrName string) (*keyward.API, error) {
	a, err := scanAPI(t.queryRow(ctx, q, idOrName))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, notFound("api", idOrName)
	case err != nil:
		return nil, internal("get api", err)
	}
	return a, nil
}

func (t *tx) ListAPIs(ctx context.Context, p keyward.Page) ([]*keyward.API, string, error) {
	return listPage(p, func(a *keyward.API) string { return a.Name },
		func(after string, limit int) ([]*keyward.API, error) {
			rows, err := t.query(ctx, qListAPIs, after, limit)
			apis, err := collect(rows, err, scanAPI)
			if err != nil {
				return nil, internal("list apis", err)
			}
			return apis, nil
		})
}

func (t *tx) UpdateAPI(ctx context.Context, a *keyward.API) error {
	args, err := apiArgs(a)
	if err != nil {
		return internal("update api", err)
	}
	return t.changeOne(ctx, qUpdateAPI, "api", a.ID, conflict("an api named %q already exists", a.Name), append(args, formatTime(a.UpdatedAt), a.ID)...)
}

func (t *tx) DeleteAPI(ctx context.Context, id string) error {
	return t.deleteOne(ctx, qDeleteAPI, "api", id)
}

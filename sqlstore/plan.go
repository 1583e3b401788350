package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/keyward/keyward"
)

const planCols = `id, name, description, throttle, quota, tokens, api_stages, rotation,
	created_at, updated_at`

var (
	// Insert and update take their arguments in the same order: planArgs,
	// then updated_at and id (then created_at for an insert).
	qInsertPlan = register(`INSERT INTO usage_plans (name, description, throttle, quota, tokens,
		api_stages, rotation, updated_at, id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	qUpdatePlan = register(`UPDATE usage_plans SET name = ?, description = ?, throttle = ?,
		quota = ?, tokens = ?, api_stages = ?, rotation = ?, updated_at = ? WHERE id = ?`)
	qGetPlan       = register(`SELECT ` + planCols + ` FROM usage_plans WHERE id = ?`)
	qGetPlanByName = register(`SELECT ` + planCols + ` FROM usage_plans WHERE name = ?`)
	qListPlans     = register(`SELECT ` + planCols + ` FROM usage_plans WHERE name > ? ORDER BY name LIMIT ?`)
	qDeletePlan    = register(`DELETE FROM usage_plans WHERE id = ?`)
	qPlanExists    = register(`SELECT EXISTS (SELECT 1 FROM usage_plans WHERE id = ?)`)

	qAttachKey  = register(`INSERT INTO plan_keys (plan_id, key_id) VALUES (?, ?)`)
	qDetachKey  = register(`DELETE FROM plan_keys WHERE plan_id = ? AND key_id = ?`)
	qPlanKeyIDs = register(`SELECT key_id FROM plan_keys WHERE plan_id = ? AND key_id > ?
		ORDER BY key_id LIMIT ?`)
)

func (t *tx) InsertPlan(ctx context.Context, p *keyward.UsagePlan) error {
	args, err := planArgs(p)
	if err != nil {
		return internal("insert plan", err)
	}
	_, err = t.exec(ctx, qInsertPlan, append(args, formatTime(p.UpdatedAt), p.ID, formatTime(p.CreatedAt))...)
	switch {
	case t.d.IsDuplicate(err):
		if strings.Contains(err.Error(), "usage_plans.name") {
			return conflict("a usage plan named %q already exists", p.Name)
		}
		return conflict("usage plan %q already exists", p.ID)
	case err != nil:
		return internal("insert plan", err)
	}
	return nil
}

func planArgs(p *keyward.UsagePlan) ([]any, error) {
	args := []any{p.Name, p.Description}
	for _, v := range []any{p.Throttle, p.Quota, p.Tokens, p.APIStages, p.Rotation} {
		col, err := jsonArg(v)
		if err != nil {
			return nil, err
		}
		args = append(args, col)
	}
	return args, nil
}

func scanPlan(s scanner) (*keyward.UsagePlan, error) {
	p := &keyward.UsagePlan{}
	err := s.Scan(&p.ID, &p.Name, &p.Description, jsonCol{&p.Throttle}, jsonCol{&p.Quota},
		jsonCol{&p.Tokens}, jsonCol{&p.APIStages}, jsonCol{&p.Rotation}, timeCol{&p.CreatedAt},
		timeCol{&p.UpdatedAt})
	return p, err
}

func (t *tx) GetPlan(ctx context.Context, id string) (*keyward.UsagePlan, error) {
	return t.getPlan(ctx, qGetPlan, id)
}

func (t *tx) GetPlanByName(ctx context.Context, name string) (*keyward.UsagePlan, error) {
	return t.getPlan(ctx, qGetPlanByName, name)
}

func (t *tx) getPlan(ctx context.Context, q query, idOrName string) (*keyward.UsagePlan, error) {
	p, err := scanPlan(t.queryRow(ctx, q, idOrName))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, notFound("usage plan", idOrName)
	case err != nil:
		return nil, internal("get plan", err)
	}
	return p, nil
}

func (t *tx) ListPlans(ctx context.Context, p keyward.Page) ([]*keyward.UsagePlan, string, error) {
	return listPage(p, func(p *keyward.UsagePlan) string { return p.Name },
		func(after string, limit int) ([]*keyward.UsagePlan, error) {
			rows, err := t.query(ctx, qListPlans, after, limit)
			plans, err := collect(rows, err, scanPlan)
			if err != nil {
				return nil, internal("list plans", err)
			}
			return plans, nil
		})
}

func (t *tx) UpdatePlan(ctx context.Context, p *keyward.UsagePlan) error {
	args, err := planArgs(p)
	if err != nil {
		return internal("update plan", err)
	}
	return t.changeOne(ctx, qUpdatePlan, "usage plan", p.ID, conflict("a usage plan named %q already exists", p.Name), append(args, formatTime(p.UpdatedAt), p.ID)...)
}

// DeletePlan deletes a plan; its key attachments go with it (ON DELETE CASCADE).
func (t *tx) DeletePlan(ctx context.Context, id string) error {
	return t.deleteOne(ctx, qDeletePlan, "usage plan", id)
}

func (t *tx) AttachKey(ctx context.Context, planID, keyID string) error {
	_, err := t.execProbe(ctx, qAttachKey, planID, keyID)
	switch {
	case t.d.IsDuplicate(err):
		return conflict("api key %q is already attached to usage plan %q", keyID, planID)
	case t.d.IsMissingParent(err):
		// Find out which one is missing, only now that one is.
		ok, err := t.exists(ctx, qPlanExists, planID)
		if err != nil {
			return internal("attach key", err)
		}
		if !ok {
			return notFound("usage plan", planID)
		}
		return notFound("api key", keyID)
	case err != nil:
		return internal("attach key", err)
	}
	return nil
}

func (t *tx) DetachKey(ctx context.Context, planID, keyID string) error {
	ok, err := t.execOne(ctx, qDetachKey, planID, keyID)
	switch {
	case err != nil:
		return internal("detach key", err)
	case !ok:
		return keyward.Errorf(keyward.ENOTFOUND, "api key %q is not attached to usage plan %q", keyID, planID)
	}
	return nil
}

func (t *tx) ListPlanKeyIDs(ctx context.Context, planID string, p keyward.Page) ([]string, string, error) {
	return listPage(p, func(id string) string { return id },
		func(after string, limit int) ([]string, error) {
			rows, err := t.query(ctx, qPlanKeyIDs, planID, after, limit)
			ids, err := collect(rows, err, scanText)
			if err != nil {
				return nil, internal("list plan keys", err)
			}
			return ids, nil
		})
}

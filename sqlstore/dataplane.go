package sqlstore

import (
	"context"
	"database/sql"

	"github.com/keyward/keyward"
)

// The gateway's load: three cursors in key order, merged as they stream,
// instead of pages of full keys whose credentials and plans are fetched
// with IN lists. Each walks an index (the primary key, credentials'
// UNIQUE (key_id, label), plan_keys_key); nothing is sorted.
var (
	qEachGatewayKey  = register(`SELECT id, enabled, expires_at, stage_keys, scopes FROM api_keys ORDER BY id`)
	qEachGatewayCred = register(`SELECT key_id, label, grace_until, digest FROM credentials ORDER BY key_id, label`)
	qEachGatewayPlan = register(`SELECT key_id, plan_id FROM plan_keys ORDER BY key_id, plan_id`)
)

func (t *tx) EachGatewayKey(ctx context.Context, fn func(*keyward.APIKey) error) error {
	keys, err := t.query(ctx, qEachGatewayKey)
	if err != nil {
		return internal("list gateway keys", err)
	}
	defer keys.Close()
	creds, err := t.query(ctx, qEachGatewayCred)
	if err != nil {
		return internal("list gateway credentials", err)
	}
	defer creds.Close()
	plans, err := t.query(ctx, qEachGatewayPlan)
	if err != nil {
		return internal("list gateway plans", err)
	}
	defer plans.Close()

	nextCred := cursor(creds, func(c *keyward.Credential) []any {
		return []any{&c.KeyID, &c.Label, nullTimeCol{&c.GraceUntil}, &c.Digest}
	})
	nextPlan := cursor(plans, func(p *[2]string) []any { return []any{&p[0], &p[1]} })
	cred, credOK, err := nextCred()
	if err != nil {
		return internal("list gateway credentials", err)
	}
	plan, planOK, err := nextPlan()
	if err != nil {
		return internal("list gateway plans", err)
	}
	var stageKeys jsonMemo[[]keyward.StageKey]
	var scopes jsonMemo[keyward.Scopes]
	for keys.Next() {
		k := &keyward.APIKey{}
		if err := keys.Scan(&k.ID, &k.Enabled, nullTimeCol{&k.ExpiresAt}, stageKeys.col(&k.StageKeys), scopes.col(&k.Scopes)); err != nil {
			return internal("list gateway keys", err)
		}
		// Rows of keys that sort before this one belong to none (a
		// foreign key makes that impossible; skipping keeps the merge
		// honest anyway).
		for credOK && cred.KeyID <= k.ID {
			if cred.KeyID == k.ID {
				k.Credentials = append(k.Credentials, cred)
			}
			if cred, credOK, err = nextCred(); err != nil {
				return internal("list gateway credentials", err)
			}
		}
		for planOK && plan[0] <= k.ID {
			if plan[0] == k.ID {
				k.PlanIDs = append(k.PlanIDs, plan[1])
			}
			if plan, planOK, err = nextPlan(); err != nil {
				return internal("list gateway plans", err)
			}
		}
		if err := fn(k); err != nil {
			return err
		}
	}
	if err := keys.Err(); err != nil {
		return internal("list gateway keys", err)
	}
	return nil
}

// cursor returns a function that scans the next row of rows into a new T
// (dest says where each column goes), reporting false at the end.
func cursor[T any](rows *sql.Rows, dest func(*T) []any) func() (T, bool, error) {
	return func() (T, bool, error) {
		var v T
		if !rows.Next() {
			return v, false, rows.Err()
		}
		err := rows.Scan(dest(&v)...)
		return v, err == nil, err
	}
}

// The scheduler's keys, by the partial indexes of migration 0008 and
// plan_keys: the union is materialized once, then each key is read by its
// primary key in order.
var qEachScheduledKey = register(`SELECT ` + keyCols + ` FROM api_keys WHERE id IN (
		SELECT id FROM api_keys WHERE expires_at IS NOT NULL
		UNION SELECT id FROM api_keys WHERE rotation IS NOT NULL
		UNION SELECT key_id FROM credentials WHERE grace_until IS NOT NULL
		UNION SELECT key_id FROM plan_keys WHERE plan_id IN (SELECT value FROM json_each(?)))
	ORDER BY id`)

// scheduledChunk is how many keys get their credentials and plans read at
// once.
const scheduledChunk = 500

func (t *tx) EachScheduledKey(ctx context.Context, rotatingPlans []string, fn func(*keyward.APIKey) error) error {
	if rotatingPlans == nil {
		rotatingPlans = []string{}
	}
	rows, err := t.query(ctx, qEachScheduledKey, textList(rotatingPlans))
	if err != nil {
		return internal("list scheduled keys", err)
	}
	// Rows are collected a chunk at a time and filled; the statement stays
	// open meanwhile (SQLite steps several statements on one connection).
	defer rows.Close()
	chunk := make([]*keyward.APIKey, 0, scheduledChunk)
	flush := func() error {
		if err := t.fillKeys(ctx, chunk); err != nil {
			return err
		}
		for _, k := range chunk {
			if err := fn(k); err != nil {
				return err
			}
		}
		chunk = chunk[:0]
		return nil
	}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return internal("list scheduled keys", err)
		}
		if chunk = append(chunk, k); len(chunk) == scheduledChunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return internal("list scheduled keys", err)
	}
	return flush()
}

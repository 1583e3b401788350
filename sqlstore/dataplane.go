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
	if t.d.OneResultAtATime {
		return t.eachGatewayKeyPaged(ctx, fn)
	}
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
	// Each row is scanned into the one row value through one list of
	// destinations, then copied out: a million keys make no million lists.
	var row keyward.APIKey
	dest := []any{&row.ID, &row.Enabled, nullTimeCol{&row.ExpiresAt}, stageKeys.col(&row.StageKeys), scopes.col(&row.Scopes)}
	for keys.Next() {
		if err := keys.Scan(dest...); err != nil {
			return internal("list gateway keys", err)
		}
		k := &keyward.APIKey{ID: row.ID, Enabled: row.Enabled, ExpiresAt: row.ExpiresAt, StageKeys: row.StageKeys, Scopes: row.Scopes}
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

// Where a connection reads one result at a time (PostgreSQL), the load
// goes a page of keys at a time, by ID, with their credentials and plans
// read for the page: three statements per thousand keys, in the one
// snapshot of the View.
var (
	qGatewayKeyPage  = register(`SELECT id, enabled, expires_at, stage_keys, scopes FROM api_keys WHERE id > ? ORDER BY id LIMIT ?`)
	qGatewayPageCred = register(`SELECT key_id, label, grace_until, digest FROM credentials
		WHERE key_id IN (SELECT value FROM json_each(?)) ORDER BY key_id, label`)
	qGatewayPagePlan = register(`SELECT key_id, plan_id FROM plan_keys
		WHERE key_id IN (SELECT value FROM json_each(?)) ORDER BY key_id, plan_id`)
)

const gatewayPage = 1000

// qGatewayKeysByID reads the keys of GatewayKeys (a change feed's IDs).
var qGatewayKeysByID = register(`SELECT id, enabled, expires_at, stage_keys, scopes FROM api_keys
	WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`)

func (t *tx) GatewayKeys(ctx context.Context, ids []string) ([]*keyward.APIKey, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var memo gatewayMemo
	return t.gatewayKeys(ctx, &memo, qGatewayKeysByID, textList(ids))
}

// gatewayMemo decodes the JSON columns of keys once per distinct value.
type gatewayMemo struct {
	stageKeys jsonMemo[[]keyward.StageKey]
	scopes    jsonMemo[keyward.Scopes]
}

// gatewayKeys reads the keys q selects, then their credentials and plans:
// three statements for a page of keys.
func (t *tx) gatewayKeys(ctx context.Context, memo *gatewayMemo, q query, args ...any) ([]*keyward.APIKey, error) {
	var keys []*keyward.APIKey
	byID := map[string]*keyward.APIKey{}
	rows, err := t.query(ctx, q, args...)
	if err != nil {
		return nil, internal("list gateway keys", err)
	}
	for rows.Next() {
		k := &keyward.APIKey{}
		if err := rows.Scan(&k.ID, &k.Enabled, nullTimeCol{&k.ExpiresAt}, memo.stageKeys.col(&k.StageKeys), memo.scopes.col(&k.Scopes)); err != nil {
			rows.Close()
			return nil, internal("list gateway keys", err)
		}
		keys = append(keys, k)
		byID[k.ID] = k
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, internal("list gateway keys", err)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	var c keyward.Credential
	err = t.each(ctx, qGatewayPageCred, []any{textList(ids)}, []any{&c.KeyID, &c.Label, nullTimeCol{&c.GraceUntil}, &c.Digest}, func() {
		if k := byID[c.KeyID]; k != nil {
			k.Credentials = append(k.Credentials, c)
		}
		c = keyward.Credential{}
	})
	if err != nil {
		return nil, internal("list gateway credentials", err)
	}
	var keyID, planID string
	err = t.each(ctx, qGatewayPagePlan, []any{textList(ids)}, []any{&keyID, &planID}, func() {
		if k := byID[keyID]; k != nil {
			k.PlanIDs = append(k.PlanIDs, planID)
		}
	})
	if err != nil {
		return nil, internal("list gateway plans", err)
	}
	return keys, nil
}

func (t *tx) eachGatewayKeyPaged(ctx context.Context, fn func(*keyward.APIKey) error) error {
	var memo gatewayMemo
	after := ""
	for {
		keys, err := t.gatewayKeys(ctx, &memo, qGatewayKeyPage, after, gatewayPage)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := fn(k); err != nil {
				return err
			}
		}
		if len(keys) < gatewayPage {
			return nil
		}
		after = keys[len(keys)-1].ID
	}
}

// cursor returns a function that scans the next row of rows into a T
// (dest says where each column goes), reporting false at the end. The
// rows are scanned into one T through one list of destinations, returned
// by value: every column type scanned leaves nothing shared behind (a
// string, a fresh []byte, a fresh *time.Time or nil).
func cursor[T any](rows *sql.Rows, dest func(*T) []any) func() (T, bool, error) {
	var v T
	d := dest(&v)
	return func() (T, bool, error) {
		var zero T
		v = zero
		if !rows.Next() {
			return zero, false, rows.Err()
		}
		err := rows.Scan(d...)
		return v, err == nil, err
	}
}

// The scheduler's keys, by the partial indexes of migration 0008 and
// plan_keys: the union is materialized once, then each key is read by its
// primary key in order.
const scheduledKeyIDs = `SELECT id FROM api_keys WHERE expires_at IS NOT NULL
		UNION SELECT id FROM api_keys WHERE rotation IS NOT NULL
		UNION SELECT key_id FROM credentials WHERE grace_until IS NOT NULL
		UNION SELECT key_id FROM plan_keys WHERE plan_id IN (SELECT value FROM json_each(?))`

var (
	qEachScheduledKey = register(`SELECT ` + keyCols + ` FROM api_keys WHERE id IN (` + scheduledKeyIDs + `) ORDER BY id`)
	// A page of them, where a connection reads one result at a time.
	qScheduledKeyPage = register(`SELECT ` + keyCols + ` FROM api_keys WHERE id > ? AND id IN (` + scheduledKeyIDs + `) ORDER BY id LIMIT ?`)
)

// scheduledChunk is how many keys get their credentials and plans read at
// once.
const scheduledChunk = 500

func (t *tx) EachScheduledKey(ctx context.Context, rotatingPlans []string, fn func(*keyward.APIKey) error) error {
	if rotatingPlans == nil {
		rotatingPlans = []string{}
	}
	if t.d.OneResultAtATime {
		return t.eachScheduledKeyPaged(ctx, rotatingPlans, fn)
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

func (t *tx) eachScheduledKeyPaged(ctx context.Context, rotatingPlans []string, fn func(*keyward.APIKey) error) error {
	after := ""
	for {
		rows, qerr := t.query(ctx, qScheduledKeyPage, after, textList(rotatingPlans), scheduledChunk)
		keys, err := collect(rows, qerr, func(s scanner) (*keyward.APIKey, error) { return scanKey(s) })
		if err != nil {
			return internal("list scheduled keys", err)
		}
		if err := t.fillKeys(ctx, keys); err != nil {
			return err
		}
		for _, k := range keys {
			if err := fn(k); err != nil {
				return err
			}
		}
		if len(keys) < scheduledChunk {
			return nil
		}
		after = keys[len(keys)-1].ID
	}
}

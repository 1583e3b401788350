package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/keyward/keyward"
)

const webhookCols = `id, kind, url, description, events, principal_id, created_at, sealed_secret`

const deliveryCols = `id, webhook_id, event_id, event_type, payload, state, attempts,
	next_attempt_at, created_at, updated_at`

var (
	qInsertWebhook = register(`INSERT INTO webhooks (` + webhookCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	qGetWebhook    = register(`SELECT ` + webhookCols + ` FROM webhooks WHERE id = ?`)
	qListWebhooks  = register(`SELECT ` + webhookCols + ` FROM webhooks WHERE id > ? ORDER BY id LIMIT ?`)
	qDeleteWebhook = register(`DELETE FROM webhooks WHERE id = ?`)

	qInsertDelivery = register(`INSERT INTO webhook_deliveries (` + deliveryCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	qGetDelivery    = register(`SELECT ` + deliveryCols + ` FROM webhook_deliveries WHERE id = ?`)
	qUpdateDelivery = register(`UPDATE webhook_deliveries SET state = ?, attempts = ?,
		next_attempt_at = ?, updated_at = ? WHERE id = ?`)
	// The state is a literal so that the planner reads the partial index of
	// the pending deliveries.
	qDueDeliveries = register(`SELECT ` + deliveryCols + ` FROM webhook_deliveries
		WHERE state = 'PENDING' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`)

	qInsertNotice = register(`INSERT INTO notices (kind, target, deadline, at) VALUES (?, ?, ?, ?)`)
	// Both walk an index of only what may go (migration 0006).
	qPruneDeliveries = register(`DELETE FROM webhook_deliveries WHERE id IN (
		SELECT id FROM webhook_deliveries WHERE state != 'PENDING' AND updated_at < ? ORDER BY updated_at LIMIT ?)`)
	qPruneNotices = register(`DELETE FROM notices WHERE (kind, target, deadline) IN (
		SELECT kind, target, deadline FROM notices WHERE deadline < ? ORDER BY deadline LIMIT ?)`)
)

func (t *tx) InsertWebhook(ctx context.Context, w *keyward.Webhook) error {
	events, err := jsonArg(w.Events)
	if err != nil {
		return internal("insert webhook", err)
	}
	_, err = t.exec(ctx, qInsertWebhook, w.ID, string(w.Kind), w.URL, w.Description, events,
		w.PrincipalID, formatTime(w.CreatedAt), blobArg(w.SealedSecret))
	switch {
	case t.d.IsDuplicate(err):
		return conflict("webhook %q already exists", w.ID)
	case err != nil:
		return internal("insert webhook", err)
	}
	return nil
}

func scanWebhook(s scanner) (*keyward.Webhook, error) {
	w := &keyward.Webhook{}
	err := s.Scan(&w.ID, &w.Kind, &w.URL, &w.Description, jsonCol{&w.Events}, &w.PrincipalID,
		timeCol{&w.CreatedAt}, &w.SealedSecret)
	return w, err
}

func (t *tx) GetWebhook(ctx context.Context, id string) (*keyward.Webhook, error) {
	w, err := scanWebhook(t.queryRow(ctx, qGetWebhook, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, notFound("webhook", id)
	case err != nil:
		return nil, internal("get webhook", err)
	}
	return w, nil
}

func (t *tx) ListWebhooks(ctx context.Context, p keyward.Page) ([]*keyward.Webhook, string, error) {
	return listPage(p, func(w *keyward.Webhook) string { return w.ID },
		func(after string, limit int) ([]*keyward.Webhook, error) {
			rows, err := t.query(ctx, qListWebhooks, after, limit)
			ws, err := collect(rows, err, scanWebhook)
			if err != nil {
				return nil, internal("list webhooks", err)
			}
			return ws, nil
		})
}

// DeleteWebhook deletes an endpoint; its deliveries go with it (ON DELETE
// CASCADE).
func (t *tx) DeleteWebhook(ctx context.Context, id string) error {
	return t.deleteOne(ctx, qDeleteWebhook, "webhook", id)
}

// InsertDelivery is ECONFLICT on a duplicate ID and ENOTFOUND when the
// endpoint does not exist.
func (t *tx) InsertDelivery(ctx context.Context, d *keyward.Delivery) error {
	attempts, err := jsonArg(d.Attempts)
	if err != nil {
		return internal("insert delivery", err)
	}
	_, err = t.exec(ctx, qInsertDelivery, d.ID, d.WebhookID, d.EventID, d.EventType,
		textArg(d.Payload), string(d.State), attempts, formatTime(d.NextAttemptAt),
		formatTime(d.CreatedAt), formatTime(d.UpdatedAt))
	switch {
	case t.d.IsDuplicate(err):
		return conflict("delivery %q already exists", d.ID)
	case t.d.IsMissingParent(err):
		return notFound("webhook", d.WebhookID)
	case err != nil:
		return internal("insert delivery", err)
	}
	return nil
}

// textArg is the column value of an optional text kept byte for byte: NULL
// when empty.
func textArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

func scanDelivery(s scanner) (*keyward.Delivery, error) {
	d := &keyward.Delivery{}
	var payload []byte
	err := s.Scan(&d.ID, &d.WebhookID, &d.EventID, &d.EventType, &payload, &d.State,
		jsonCol{&d.Attempts}, timeCol{&d.NextAttemptAt}, timeCol{&d.CreatedAt}, timeCol{&d.UpdatedAt})
	d.Payload = payload
	return d, err
}

func (t *tx) UpdateDelivery(ctx context.Context, d *keyward.Delivery) error {
	attempts, err := jsonArg(d.Attempts)
	if err != nil {
		return internal("update delivery", err)
	}
	return t.changeOne(ctx, qUpdateDelivery, "delivery", d.ID, nil, string(d.State), attempts,
		formatTime(d.NextAttemptAt), formatTime(d.UpdatedAt), d.ID)
}

func (t *tx) GetDelivery(ctx context.Context, id string) (*keyward.Delivery, error) {
	d, err := scanDelivery(t.queryRow(ctx, qGetDelivery, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, notFound("delivery", id)
	case err != nil:
		return nil, internal("get delivery", err)
	}
	return d, nil
}

// DueDeliveries orders deliveries due at the same time by ID. limit
// defaults to 100 and is at most 1000.
func (t *tx) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]*keyward.Delivery, error) {
	rows, err := t.query(ctx, qDueDeliveries, formatTime(now), boundedLimit(limit))
	ds, err := collect(rows, err, scanDelivery)
	if err != nil {
		return nil, internal("list due deliveries", err)
	}
	return ds, nil
}

func (t *tx) ListDeliveries(ctx context.Context, f keyward.DeliveryFilter) ([]*keyward.Delivery, string, error) {
	return listPage(f.Page, func(d *keyward.Delivery) string { return newestKey(d.CreatedAt, d.ID) },
		func(after string, limit int) ([]*keyward.Delivery, error) {
			cond, args, err := newestAfter(after)
			if err != nil {
				return nil, err
			}
			var q strings.Builder
			q.WriteString(`SELECT ` + deliveryCols + ` FROM webhook_deliveries WHERE true` + cond)
			if f.WebhookID != "" {
				q.WriteString(` AND webhook_id = ?`)
				args = append(args, f.WebhookID)
			}
			if f.EventType != "" {
				q.WriteString(` AND event_type = ?`)
				args = append(args, f.EventType)
			}
			if f.State != "" {
				q.WriteString(` AND state = ?`)
				args = append(args, string(f.State))
			}
			q.WriteString(` ORDER BY created_at DESC, id DESC LIMIT ?`)
			args = append(args, limit)
			rows, err := t.direct(ctx).QueryContext(ctx, t.d.Rewrite(q.String()), args...)
			ds, err := collect(rows, err, scanDelivery)
			if err != nil {
				return nil, internal("list deliveries", err)
			}
			return ds, nil
		})
}

// InsertNotice compares deadlines as instants: the same deadline given in
// another time zone is the same notice.
func (t *tx) InsertNotice(ctx context.Context, kind, target string, deadline, at time.Time) error {
	// Probed: the scheduler takes "already given" as done and goes on in
	// the same transaction (on PostgreSQL a plain failed statement would
	// abort it, and with it every call sharing its commit).
	_, err := t.execProbe(ctx, qInsertNotice, kind, target, formatTime(deadline), formatTime(at))
	switch {
	case t.d.IsDuplicate(err):
		return conflict("the %s notice of %q for %s was already given", kind, target, formatTime(deadline))
	case err != nil:
		return internal("insert notice", err)
	}
	return nil
}

func (t *tx) PruneHistory(ctx context.Context, before time.Time, limit int) (int, int, error) {
	cut := formatTime(before)
	res, err := t.exec(ctx, qPruneDeliveries, cut, limit)
	if err != nil {
		return 0, 0, internal("prune deliveries", err)
	}
	d, _ := res.RowsAffected()
	res, err = t.exec(ctx, qPruneNotices, cut, limit)
	if err != nil {
		return int(d), 0, internal("prune notices", err)
	}
	n, _ := res.RowsAffected()
	return int(d), int(n), nil
}

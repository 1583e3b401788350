package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/keyward/keyward"
)

const usageCols = `key_id, day, requests, tokens_in, tokens_out`

var (
	// A key deleted since the request is skipped (EXISTS), and an
	// unchanged minute changes no row, so no page is written.
	qTouchKey = register(`INSERT INTO key_last_used (key_id, at)
		SELECT ?, ? WHERE EXISTS (SELECT 1 FROM api_keys WHERE id = ?)
		ON CONFLICT (key_id) DO UPDATE SET at = excluded.at WHERE excluded.at > key_last_used.at`)
	qAddUsage = register(`INSERT INTO key_usage (` + usageCols + `) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (key_id, day) DO UPDATE SET requests = key_usage.requests + excluded.requests,
		tokens_in = key_usage.tokens_in + excluded.tokens_in, tokens_out = key_usage.tokens_out + excluded.tokens_out`)
	qListUsage = register(`SELECT ` + usageCols + ` FROM key_usage
		WHERE key_id = ? AND day >= ? AND day <= ? ORDER BY day`)
	qListUsageSince = register(`SELECT ` + usageCols + ` FROM key_usage
		WHERE day >= ? ORDER BY key_id, day`)
)

func (t *tx) AddUsage(ctx context.Context, rows []keyward.UsageDay) error {
	for _, r := range rows {
		if _, err := t.exec(ctx, qAddUsage, r.KeyID, r.Day, r.Requests, r.TokensIn, r.TokensOut); err != nil {
			return internal("add usage", err)
		}
		if r.LastUsed.IsZero() {
			continue
		}
		minute := formatTime(r.LastUsed.Truncate(time.Minute))
		if _, err := t.exec(ctx, qTouchKey, r.KeyID, minute, r.KeyID); err != nil {
			return internal("record last use", err)
		}
	}
	return nil
}

func (t *tx) ListUsage(ctx context.Context, keyID, fromDay, toDay string) ([]keyward.UsageDay, error) {
	rows, err := t.query(ctx, qListUsage, keyID, fromDay, toDay)
	return usageRows(rows, err)
}

func (t *tx) ListUsageSince(ctx context.Context, fromDay string) ([]keyward.UsageDay, error) {
	rows, err := t.query(ctx, qListUsageSince, fromDay)
	return usageRows(rows, err)
}

func usageRows(rows *sql.Rows, err error) ([]keyward.UsageDay, error) {
	out, err := collect(rows, err, scanUsage)
	if err != nil {
		return nil, internal("list usage", err)
	}
	return out, nil
}

func scanUsage(s scanner) (keyward.UsageDay, error) {
	var u keyward.UsageDay
	err := s.Scan(&u.KeyID, &u.Day, &u.Requests, &u.TokensIn, &u.TokensOut)
	return u, err
}

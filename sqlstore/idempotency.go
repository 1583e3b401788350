package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/keyward/keyward"
)

var (
	qGetIdempotency = register(`SELECT request_mac, response, created_at FROM idempotency
		WHERE scope = ? AND token = ?`)
	qPutIdempotency = register(`INSERT INTO idempotency (scope, token, request_mac, response, created_at)
		VALUES (?, ?, ?, ?, ?)`)
)

func (t *tx) GetIdempotency(ctx context.Context, scope, token string) (*keyward.IdempotencyRecord, error) {
	r := &keyward.IdempotencyRecord{Scope: scope, Token: token}
	var response []byte
	err := t.queryRow(ctx, qGetIdempotency, scope, token).Scan(&r.RequestMAC, &response, timeCol{&r.CreatedAt})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, keyward.Errorf(keyward.ENOTFOUND, "no %s call with client token %q", scope, token)
	case err != nil:
		return nil, internal("get idempotency record", err)
	}
	r.Response = response
	return r, nil
}

func (t *tx) PutIdempotency(ctx context.Context, r *keyward.IdempotencyRecord) error {
	var response any
	if len(r.Response) > 0 {
		response = string(r.Response)
	}
	_, err := t.exec(ctx, qPutIdempotency, r.Scope, r.Token, blobArg(r.RequestMAC), response, formatTime(r.CreatedAt))
	switch {
	case t.d.IsDuplicate(err):
		return conflict("client token %q was already used for %s", r.Token, r.Scope)
	case err != nil:
		return internal("put idempotency record", err)
	}
	return nil
}

package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/keyward/keyward"
)

var (
	// The WHERE clause makes the insert conditional on r.Seq following the
	// head, in one statement; the write transaction is serialized, so the
	// head cannot move in between.
	qAppendAudit = register(`INSERT INTO audit_records
		(seq, prev_hash, hash, event, event_time, event_name, principal_id)
		SELECT ?, ?, ?, ?, ?, ?, ?
		WHERE ? = (SELECT coalesce(max(seq), 0) + 1 FROM audit_records)`)
	qAuditHead = register(`SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1`)

	qInsertCheckpoint = register(`INSERT INTO audit_checkpoints
		(seq, key_id, hash, time, public_key, signature) VALUES (?, ?, ?, ?, ?, ?)`)
	qListCheckpoints = register(`SELECT seq, key_id, hash, time, public_key, signature
		FROM audit_checkpoints WHERE seq > ? ORDER BY seq, key_id LIMIT ?`)
)

// auditIndex is what the store reads from an event for its index columns.
type auditIndex struct {
	EventTime    time.Time `json:"eventTime"`
	EventName    string    `json:"eventName"`
	UserIdentity struct {
		PrincipalID string `json:"principalId"`
	} `json:"userIdentity"`
}

func (t *tx) AuditHead(ctx context.Context) (int64, string, error) {
	var seq int64
	var hash string
	err := t.queryRow(ctx, qAuditHead).Scan(&seq, &hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, "", nil
	case err != nil:
		return 0, "", internal("read audit head", err)
	}
	return seq, hash, nil
}

// AppendAudit stores r.Event byte for byte. An event that is not a JSON
// object with an RFC 3339 eventTime (when present) is an internal error: the
// core builds events, and a mutating call whose record cannot be written
// fails.
func (t *tx) AppendAudit(ctx context.Context, r *keyward.AuditRecord) error {
	var ix auditIndex
	if err := json.Unmarshal(r.Event, &ix); err != nil {
		return internal("append audit record: read event", err)
	}
	var eventTime any
	if !ix.EventTime.IsZero() {
		eventTime = formatTime(ix.EventTime)
	}
	ok, err := t.execOne(ctx, qAppendAudit, r.Seq, r.PrevHash, r.Hash, string(r.Event),
		eventTime, ix.EventName, ix.UserIdentity.PrincipalID, r.Seq)
	switch {
	case err != nil:
		return internal("append audit record", err)
	case !ok:
		return conflict("audit record %d does not follow the head of the chain", r.Seq)
	}
	return nil
}

// ListAudit returns records ordered by Seq, highest first with Descending.
// Since and Until are inclusive bounds on the event time; Limit defaults to
// 100 and is at most 1000.
func (t *tx) ListAudit(ctx context.Context, f keyward.AuditFilter) ([]*keyward.AuditRecord, error) {
	var q strings.Builder
	q.WriteString(`SELECT seq, prev_hash, hash, event FROM audit_records WHERE seq > ?`)
	args := []any{f.AfterSeq}
	if f.BeforeSeq > 0 {
		q.WriteString(` AND seq < ?`)
		args = append(args, f.BeforeSeq)
	}
	if f.EventName != "" {
		q.WriteString(` AND event_name = ?`)
		args = append(args, f.EventName)
	}
	if f.PrincipalID != "" {
		q.WriteString(` AND principal_id = ?`)
		args = append(args, f.PrincipalID)
	}
	if f.Since != nil {
		q.WriteString(` AND event_time >= ?`)
		args = append(args, formatTime(*f.Since))
	}
	if f.Until != nil {
		q.WriteString(` AND event_time <= ?`)
		args = append(args, formatTime(*f.Until))
	}
	if f.Descending {
		q.WriteString(` ORDER BY seq DESC LIMIT ?`)
	} else {
		q.WriteString(` ORDER BY seq LIMIT ?`)
	}
	args = append(args, boundedLimit(f.Limit))
	rows, err := t.tx.QueryContext(ctx, q.String(), args...)
	records, err := collect(rows, err, func(s scanner) (*keyward.AuditRecord, error) {
		r := &keyward.AuditRecord{}
		var event []byte
		err := s.Scan(&r.Seq, &r.PrevHash, &r.Hash, &event)
		r.Event = event
		return r, err
	})
	if err != nil {
		return nil, internal("list audit records", err)
	}
	return records, nil
}

// boundedLimit clamps the limit of a list without pages (audit records,
// checkpoints, due deliveries) to 1..1000, 100 by default.
func boundedLimit(n int) int {
	switch {
	case n <= 0:
		return 100
	case n > 1000:
		return 1000
	}
	return n
}

// InsertCheckpoint stores a checkpoint. ECONFLICT when the same key already
// signed the chain at that Seq.
func (t *tx) InsertCheckpoint(ctx context.Context, c *keyward.AuditCheckpoint) error {
	_, err := t.exec(ctx, qInsertCheckpoint, c.Seq, c.KeyID, c.Hash, formatTime(c.Time), c.PublicKey, c.Signature)
	switch {
	case isDuplicate(err):
		return conflict("audit checkpoint at %d by key %q already exists", c.Seq, c.KeyID)
	case err != nil:
		return internal("insert audit checkpoint", err)
	}
	return nil
}

// ListCheckpoints returns the checkpoints with Seq > afterSeq, ordered by Seq;
// limit defaults to 100 and is at most 1000.
func (t *tx) ListCheckpoints(ctx context.Context, afterSeq int64, limit int) ([]*keyward.AuditCheckpoint, error) {
	rows, err := t.query(ctx, qListCheckpoints, afterSeq, boundedLimit(limit))
	cps, err := collect(rows, err, func(s scanner) (*keyward.AuditCheckpoint, error) {
		c := &keyward.AuditCheckpoint{}
		err := s.Scan(&c.Seq, &c.KeyID, &c.Hash, timeCol{&c.Time}, &c.PublicKey, &c.Signature)
		return c, err
	})
	if err != nil {
		return nil, internal("list audit checkpoints", err)
	}
	return cps, nil
}

package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
)

var (
	// The WHERE clause makes the insert conditional on r.Seq following the
	// head, in one statement; the write transaction is serialized, so the
	// head cannot move in between.
	qAppendAudit = register(`INSERT INTO audit_records
		(seq, prev_hash, hash, event, event_time, event_name, principal_id, tag)
		SELECT ?, '', ?, ?, ?, ?, ?, ?
		WHERE ? = (SELECT coalesce(max(seq), 0) + 1 FROM audit_records)`)
	qAuditHead = register(`SELECT coalesce(max(seq), 0) FROM audit_records`)
	// qAppendAuditHeld is qAppendAudit for a record kept back in a batch
	// that holds the writers' lock and knows the head: the statement that
	// writes it checks the head instead (see flush).
	qAppendAuditHeld = register(`INSERT INTO audit_records
		(seq, prev_hash, hash, event, event_time, event_name, principal_id, tag) VALUES (?, '', ?, ?, ?, ?, ?, ?)`)

	qReadTreeHash  = register(`SELECT hash FROM audit_tree_hashes WHERE idx = ?`)
	qWriteTreeHash = register(`INSERT INTO audit_tree_hashes (idx, hash) VALUES (?, ?)
		ON CONFLICT (idx) DO UPDATE SET hash = excluded.hash`)

	qInsertCheckpoint = register(`INSERT INTO audit_tree_checkpoints (size, root, time, note) VALUES (?, ?, ?, ?)`)
	qListCheckpoints  = register(`SELECT size, root, time, note FROM audit_tree_checkpoints
		WHERE size > ? ORDER BY size LIMIT ?`)
	qLatestCheckpoint = register(`SELECT size, root, time, note FROM audit_tree_checkpoints ORDER BY size DESC LIMIT 1`)

	qLegacy        = register(`SELECT through, unverified_first, unverified_last FROM audit_legacy WHERE id = 1`)
	qLegacyPending = register(`SELECT NOT EXISTS (SELECT 1 FROM audit_legacy)
		AND EXISTS (SELECT 1 FROM audit_records WHERE tag IS NULL)`)
	qLegacyRecords = register(`SELECT seq, prev_hash, hash, event FROM audit_records
		WHERE seq > ? ORDER BY seq LIMIT ?`)
	qLegacyCheckpoints = register(`SELECT seq, hash, time, public_key, signature
		FROM audit_chain_checkpoints WHERE seq > ? ORDER BY seq, key_id LIMIT ?`)
	qSetLeafHash  = register(`UPDATE audit_records SET hash = ?, prev_hash = '' WHERE seq = ?`)
	qFinishLegacy = register(`INSERT INTO audit_legacy (id, through, unverified_first, unverified_last) VALUES (1, ?, ?, ?)`)
)

var _ audit.LegacyChain = (*tx)(nil)

// auditIndex is what the store reads from an event for its index columns.
type auditIndex struct {
	EventTime    time.Time `json:"eventTime"`
	EventName    string    `json:"eventName"`
	UserIdentity struct {
		PrincipalID string `json:"principalId"`
	} `json:"userIdentity"`
}

func (t *tx) AuditHead(ctx context.Context) (int64, error) {
	if t.batch != nil && t.batch.headKnown {
		return t.batch.auditHead, nil
	}
	var seq int64
	if err := t.queryRow(ctx, qAuditHead).Scan(&seq); err != nil {
		return 0, internal("read audit head", err)
	}
	t.knowHead(seq)
	return seq, nil
}

// knowHead remembers the audit head for the next calls of the batch.
func (t *tx) knowHead(seq int64) {
	if t.batch != nil {
		t.batch.auditHead, t.batch.headKnown = seq, true
	}
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
	if t.holdsAudit(r.Seq) {
		if t.batch.heldFrom == 0 {
			t.batch.heldFrom = r.Seq
		}
		t.keepBack(ctx, qAppendAuditHeld, r.Seq, r.Hash, string(r.Event), eventTime, ix.EventName, ix.UserIdentity.PrincipalID, r.Tag)
		t.knowHead(r.Seq)
		return nil
	}
	ok, err := t.execOne(ctx, qAppendAudit, r.Seq, r.Hash, string(r.Event),
		eventTime, ix.EventName, ix.UserIdentity.PrincipalID, r.Tag, r.Seq)
	switch {
	case err != nil && t.d.IsDuplicate(err):
		// Another transaction appended the same Seq first (possible on a
		// store whose writers are not serialized): the same answer as a
		// head that moved.
		return conflict("audit record %d was appended by another writer", r.Seq)
	case err != nil:
		return internal("append audit record", err)
	case !ok:
		return conflict("audit record %d does not follow the head of the log", r.Seq)
	}
	t.knowHead(r.Seq)
	return nil
}

// ListAudit returns records ordered by Seq, highest first with Descending.
// Since and Until are inclusive bounds on the event time; Limit defaults to
// 100 and is at most 1000.
func (t *tx) ListAudit(ctx context.Context, f keyward.AuditFilter) ([]*keyward.AuditRecord, error) {
	var q strings.Builder
	q.WriteString(`SELECT seq, hash, event, tag FROM audit_records WHERE seq > ?`)
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
	rows, err := t.direct(ctx).QueryContext(ctx, t.d.Rewrite(q.String()), args...)
	records, err := collect(rows, err, func(s scanner) (*keyward.AuditRecord, error) {
		r := &keyward.AuditRecord{}
		var event []byte
		err := s.Scan(&r.Seq, &r.Hash, &event, &r.Tag)
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

func (t *tx) ReadAuditHashes(ctx context.Context, indexes []int64) ([][]byte, error) {
	out := make([][]byte, len(indexes))
	for i, ix := range indexes {
		err := t.queryRow(ctx, qReadTreeHash, ix).Scan(&out[i])
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil, keyward.Errorf(keyward.ENOTFOUND, "audit tree hash %d not found", ix)
		case err != nil:
			return nil, internal("read audit tree hash", err)
		}
	}
	return out, nil
}

// Several rows per statement: a checkpoint writes about two hashes per
// record it integrates, and where each statement is a round trip inside
// the write lock (PostgreSQL) one per hash held the lock for a third of a
// second per thousand records.
func (t *tx) WriteAuditHashes(ctx context.Context, from int64, hashes [][]byte) error {
	const rowsPerStmt = 200
	for len(hashes) > 0 {
		n := min(len(hashes), rowsPerStmt)
		if n == 1 {
			if _, err := t.exec(ctx, qWriteTreeHash, from, hashes[0]); err != nil {
				return internal("write audit tree hash", err)
			}
		} else {
			var q strings.Builder
			q.WriteString(`INSERT INTO audit_tree_hashes (idx, hash) VALUES `)
			args := make([]any, 0, 2*n)
			for i, h := range hashes[:n] {
				if i > 0 {
					q.WriteString(", ")
				}
				q.WriteString("(?, ?)")
				args = append(args, from+int64(i), h)
			}
			q.WriteString(` ON CONFLICT (idx) DO UPDATE SET hash = excluded.hash`)
			if _, err := t.direct(ctx).ExecContext(ctx, t.d.Rewrite(q.String()), args...); err != nil {
				return internal("write audit tree hashes", err)
			}
		}
		from += int64(n)
		hashes = hashes[n:]
	}
	return nil
}

// InsertCheckpoint stores a checkpoint. ECONFLICT when one of that size
// exists.
func (t *tx) InsertCheckpoint(ctx context.Context, c *keyward.AuditCheckpoint) error {
	_, err := t.exec(ctx, qInsertCheckpoint, c.Size, c.Root, formatTime(c.Time), c.Note)
	switch {
	case t.d.IsDuplicate(err):
		return conflict("audit checkpoint at %d already exists", c.Size)
	case err != nil:
		return internal("insert audit checkpoint", err)
	}
	return nil
}

func scanCheckpoint(s scanner) (*keyward.AuditCheckpoint, error) {
	c := &keyward.AuditCheckpoint{}
	err := s.Scan(&c.Size, &c.Root, timeCol{&c.Time}, &c.Note)
	return c, err
}

// ListCheckpoints returns the checkpoints with Size > afterSize, ordered by
// Size; limit defaults to 100 and is at most 1000.
func (t *tx) ListCheckpoints(ctx context.Context, afterSize int64, limit int) ([]*keyward.AuditCheckpoint, error) {
	rows, err := t.query(ctx, qListCheckpoints, afterSize, boundedLimit(limit))
	cps, err := collect(rows, err, scanCheckpoint)
	if err != nil {
		return nil, internal("list audit checkpoints", err)
	}
	return cps, nil
}

func (t *tx) LatestCheckpoint(ctx context.Context) (*keyward.AuditCheckpoint, error) {
	c, err := scanCheckpoint(t.queryRow(ctx, qLatestCheckpoint))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, internal("read latest audit checkpoint", err)
	}
	return c, nil
}

func (t *tx) AuditLegacy(ctx context.Context) (*audit.Legacy, error) {
	var through int64
	var first, last sql.NullInt64
	err := t.queryRow(ctx, qLegacy).Scan(&through, &first, &last)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, internal("read audit legacy", err)
	}
	l := &audit.Legacy{Through: through}
	if first.Valid && last.Valid {
		l.Unverified = &keyward.SeqRange{First: first.Int64, Last: last.Int64}
	}
	return l, nil
}

func (t *tx) LegacyPending(ctx context.Context) (bool, error) {
	var pending bool
	if err := t.queryRow(ctx, qLegacyPending).Scan(&pending); err != nil {
		return false, internal("read audit legacy", err)
	}
	return pending, nil
}

func (t *tx) ListLegacyRecords(ctx context.Context, afterSeq int64, limit int) ([]*audit.LegacyRecord, error) {
	rows, err := t.query(ctx, qLegacyRecords, afterSeq, boundedLimit(limit))
	recs, err := collect(rows, err, func(s scanner) (*audit.LegacyRecord, error) {
		r := &audit.LegacyRecord{}
		err := s.Scan(&r.Seq, &r.PrevHash, &r.Hash, &r.Event)
		return r, err
	})
	if err != nil {
		return nil, internal("list legacy audit records", err)
	}
	return recs, nil
}

func (t *tx) ListLegacyCheckpoints(ctx context.Context, afterSeq int64, limit int) ([]*audit.LegacyCheckpoint, error) {
	rows, err := t.query(ctx, qLegacyCheckpoints, afterSeq, boundedLimit(limit))
	cps, err := collect(rows, err, func(s scanner) (*audit.LegacyCheckpoint, error) {
		c := &audit.LegacyCheckpoint{}
		err := s.Scan(&c.Seq, &c.Hash, timeCol{&c.Time}, &c.PublicKey, &c.Signature)
		return c, err
	})
	if err != nil {
		return nil, internal("list legacy audit checkpoints", err)
	}
	return cps, nil
}

func (t *tx) SetLeafHashes(ctx context.Context, first int64, hashes []string) error {
	for i, h := range hashes {
		if _, err := t.exec(ctx, qSetLeafHash, h, first+int64(i)); err != nil {
			return internal("carry audit record over", err)
		}
	}
	return nil
}

func (t *tx) FinishLegacy(ctx context.Context, l *audit.Legacy) error {
	var first, last any
	if l.Unverified != nil {
		first, last = l.Unverified.First, l.Unverified.Last
	}
	if _, err := t.exec(ctx, qFinishLegacy, l.Through, first, last); err != nil {
		return internal("record audit legacy", err)
	}
	return nil
}

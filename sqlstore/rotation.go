package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/keyward/keyward"
)

const rotationCols = `id, kind, target, state, step, trigger_type, client_token, grace,
	store_secret, pending_id, hint, error, started_by, created_at, updated_at, finished_at, runner`

var (
	qInsertRotation = register(`INSERT INTO rotations (` + rotationCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	qGetRotation    = register(`SELECT ` + rotationCols + ` FROM rotations WHERE id = ?`)
	qUpdateRotation = register(`UPDATE rotations SET state = ?, step = ?, pending_id = ?,
		hint = ?, error = ?, updated_at = ?, finished_at = ?, runner = ? WHERE id = ?`)
	qTouchRotation = register(`UPDATE rotations SET updated_at = ? WHERE id = ? AND state = ? AND runner = ?`)
)

// InsertRotation relies on two partial unique indexes: one on the target of
// the rotations IN_PROGRESS, one on the target and client token of the
// rotations that have a token. The driver's message names the columns of
// the one that failed.
func (t *tx) InsertRotation(ctx context.Context, r *keyward.Rotation) error {
	_, err := t.exec(ctx, qInsertRotation, r.ID, string(r.Kind), r.Target, string(r.State),
		string(r.Step), r.Trigger, r.ClientToken, int64(r.Grace), r.StoreSecret, r.PendingID,
		r.Hint, r.Error, r.StartedBy, formatTime(r.CreatedAt), formatTime(r.UpdatedAt),
		nullTime(r.FinishedAt), r.Runner)
	switch {
	case t.d.IsDuplicate(err):
		msg := err.Error()
		switch {
		case strings.Contains(msg, "rotations.client_token"):
			return conflict("client token %q was already used to rotate %s %q", r.ClientToken, r.Kind, r.Target)
		case strings.Contains(msg, "rotations.target"):
			return runningConflict(r)
		}
		return conflict("rotation %q already exists", r.ID)
	case err != nil:
		return internal("insert rotation", err)
	}
	return nil
}

func runningConflict(r *keyward.Rotation) error {
	return conflict("a rotation of %s %q is already in progress", r.Kind, r.Target)
}

func scanRotation(s scanner) (*keyward.Rotation, error) {
	r := &keyward.Rotation{}
	err := s.Scan(&r.ID, &r.Kind, &r.Target, &r.State, &r.Step, &r.Trigger, &r.ClientToken,
		&r.Grace, &r.StoreSecret, &r.PendingID, &r.Hint, &r.Error, &r.StartedBy,
		timeCol{&r.CreatedAt}, timeCol{&r.UpdatedAt}, nullTimeCol{&r.FinishedAt}, &r.Runner)
	return r, err
}

func (t *tx) GetRotation(ctx context.Context, id string) (*keyward.Rotation, error) {
	r, err := scanRotation(t.queryRow(ctx, qGetRotation, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, notFound("rotation", id)
	case err != nil:
		return nil, internal("get rotation", err)
	}
	return r, nil
}

// UpdateRotation is ECONFLICT when it would make r IN_PROGRESS while
// another rotation of its target is.
func (t *tx) UpdateRotation(ctx context.Context, r *keyward.Rotation) error {
	return t.changeOne(ctx, qUpdateRotation, "rotation", r.ID, runningConflict(r),
		string(r.State), string(r.Step), r.PendingID, r.Hint, r.Error, formatTime(r.UpdatedAt),
		nullTime(r.FinishedAt), r.Runner, r.ID)
}

func (t *tx) TouchRotation(ctx context.Context, id, runner string, at time.Time) error {
	if _, err := t.exec(ctx, qTouchRotation, formatTime(at), id, string(keyward.RotationInProgress), runner); err != nil {
		return internal("touch rotation", err)
	}
	return nil
}

func (t *tx) ListRotations(ctx context.Context, f keyward.RotationFilter) ([]*keyward.Rotation, string, error) {
	return listPage(f.Page, func(r *keyward.Rotation) string { return newestKey(r.CreatedAt, r.ID) },
		func(after string, limit int) ([]*keyward.Rotation, error) {
			cond, args, err := newestAfter(after)
			if err != nil {
				return nil, err
			}
			var q strings.Builder
			q.WriteString(`SELECT ` + rotationCols + ` FROM rotations WHERE true` + cond)
			if f.Kind != "" {
				q.WriteString(` AND kind = ?`)
				args = append(args, string(f.Kind))
			}
			if f.Target != "" {
				q.WriteString(` AND target = ?`)
				args = append(args, f.Target)
			}
			switch f.State {
			case "":
			case keyward.RotationInProgress:
				// As a literal, so that the planner may read the partial
				// index of the running rotations (a server looks for them
				// when it starts).
				q.WriteString(` AND state = 'IN_PROGRESS'`)
			default:
				q.WriteString(` AND state = ?`)
				args = append(args, string(f.State))
			}
			if f.ClientToken != "" {
				q.WriteString(` AND client_token = ?`)
				args = append(args, f.ClientToken)
			}
			q.WriteString(` ORDER BY created_at DESC, id DESC LIMIT ?`)
			args = append(args, limit)
			rows, err := t.direct(ctx).QueryContext(ctx, t.d.Rewrite(q.String()), args...)
			rs, err := collect(rows, err, scanRotation)
			if err != nil {
				return nil, internal("list rotations", err)
			}
			return rs, nil
		})
}

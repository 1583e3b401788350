package core

import (
	"context"
	"time"

	"github.com/keyward/keyward"
)

// DescribeSecret returns a secret's metadata, pending deletion or not.
func (s *Secrets) DescribeSecret(ctx context.Context, name string) (*keyward.Secret, error) {
	var sec *keyward.Secret
	err := s.run(ctx, call{action: keyward.ActionSecretDescribe, resource: keyward.SecretARN(name), params: map[string]any{"name": name}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			var err error
			sec, err = tx.GetSecret(ctx, name)
			return err
		})
	return sec, err
}

// ListSecrets returns a page of secrets.
func (s *Secrets) ListSecrets(ctx context.Context, f keyward.SecretFilter) ([]*keyward.Secret, string, error) {
	var out []*keyward.Secret
	var next string
	params := map[string]any{"namePrefix": f.NamePrefix, "tagKey": f.TagKey, "tagValue": f.TagValue, "includeDeleted": f.IncludeDeleted}
	err := s.run(ctx, call{action: keyward.ActionSecretList, resource: keyward.SecretARN("*"), params: params},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			if err := checkFilters(f.NamePrefix, f.TagKey, f.TagValue); err != nil {
				return err
			}
			f.Page = f.Page.Normalized()
			var err error
			out, next, err = tx.ListSecrets(ctx, f)
			return err
		})
	return out, next, err
}

// UpdateSecret changes a secret's description or tags.
func (s *Secrets) UpdateSecret(ctx context.Context, name string, u keyward.SecretUpdate) (*keyward.Secret, error) {
	var sec *keyward.Secret
	err := s.run(ctx, call{action: keyward.ActionSecretUpdate, resource: keyward.SecretARN(name), params: map[string]any{"name": name}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			var err error
			if sec, err = s.liveSecret(ctx, tx, name); err != nil {
				return err
			}
			if u.Description != nil {
				if err := checkText("description", *u.Description, maxDescriptionLen, false); err != nil {
					return err
				}
				sec.Description = *u.Description
			}
			if u.Tags != nil {
				if err := checkTags(*u.Tags); err != nil {
					return err
				}
				if sec.Tags, err = keepReservedTags(sec.Tags, *u.Tags); err != nil {
					return err
				}
			}
			sec.UpdatedAt = s.clock.Now()
			return tx.UpdateSecret(ctx, sec)
		})
	return sec, err
}

// UpdateSecretVersionStage moves a staging label between versions.
func (s *Secrets) UpdateSecretVersionStage(ctx context.Context, name string, m keyward.StageMove) error {
	params := map[string]any{"name": name, "versionStage": m.Stage, "moveToVersionId": m.MoveTo, "removeFromVersionId": m.RemoveFrom}
	return s.run(ctx, call{action: keyward.ActionSecretUpdateStage, resource: keyward.SecretARN(name), params: params},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			if err := checkText("versionStage", m.Stage, 256, true); err != nil {
				return err
			}
			if m.MoveTo == "" && m.RemoveFrom == "" {
				return invalid("moveToVersionId or removeFromVersionId is required")
			}
			if err := refuseKeyOwned(ctx, tx, name); err != nil {
				return err
			}
			if _, err := s.liveSecret(ctx, tx, name); err != nil {
				return err
			}
			if m.RemoveFrom != "" {
				holder, err := tx.GetSecretVersionByStage(ctx, name, m.Stage)
				if err != nil || holder.ID != m.RemoveFrom {
					return invalid("version %s does not hold stage %s", m.RemoveFrom, m.Stage)
				}
			} else if holder, err := tx.GetSecretVersionByStage(ctx, name, m.Stage); err == nil && holder.ID != m.MoveTo {
				// Like Secrets Manager: moving a label that is attached elsewhere
				// requires naming where it comes from.
				return invalid("stage %s is on version %s: give removeFromVersionId", m.Stage, holder.ID)
			}
			if m.MoveTo == "" {
				return tx.MoveStage(ctx, name, m.Stage, "")
			}
			if _, err := tx.GetSecretVersion(ctx, name, m.MoveTo); err != nil {
				return err
			}
			return s.moveStage(ctx, tx, name, m.Stage, m.MoveTo)
		})
}

// DeleteSecret schedules a secret's deletion after a recovery window, or
// deletes it at once when forced.
func (s *Secrets) DeleteSecret(ctx context.Context, name string, d keyward.SecretDelete) (*keyward.Secret, error) {
	params := map[string]any{"name": name, "recoveryWindowDays": d.RecoveryWindowDays, "force": d.Force}
	var sec *keyward.Secret
	err := s.run(ctx, call{action: keyward.ActionSecretDelete, resource: keyward.SecretARN(name), params: params},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			if d.Force && d.RecoveryWindowDays != 0 {
				return invalid("recoveryWindowDays and force are mutually exclusive")
			}
			days := d.RecoveryWindowDays
			if days == 0 {
				days = 30
			}
			if !d.Force && (days < 7 || days > 30) {
				return invalid("recoveryWindowDays must be between 7 and 30")
			}
			var err error
			if err := refuseKeyOwned(ctx, tx, name); err != nil {
				return err
			}
			if sec, err = tx.GetSecret(ctx, name); err != nil {
				return err
			}
			now := s.clock.Now()
			if d.Force {
				sec.DeletionDate = &now
				o.respond("deletionDate", now)
				return tx.DeleteSecret(ctx, name)
			}
			if sec.DeletionDate != nil {
				return keyward.Errorf(keyward.EPRECONDITION, "secret %s is already scheduled for deletion", name)
			}
			when := now.Add(time.Duration(days) * 24 * time.Hour)
			sec.DeletionDate, sec.UpdatedAt = &when, now
			o.respond("deletionDate", when)
			return tx.UpdateSecret(ctx, sec)
		})
	return sec, err
}

// RestoreSecret cancels a scheduled deletion.
func (s *Secrets) RestoreSecret(ctx context.Context, name string) (*keyward.Secret, error) {
	var sec *keyward.Secret
	err := s.run(ctx, call{action: keyward.ActionSecretRestore, resource: keyward.SecretARN(name), params: map[string]any{"name": name}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			var err error
			if sec, err = tx.GetSecret(ctx, name); err != nil {
				return err
			}
			if sec.DeletionDate == nil {
				return keyward.Errorf(keyward.EPRECONDITION, "secret %s is not scheduled for deletion", name)
			}
			sec.DeletionDate, sec.UpdatedAt = nil, s.clock.Now()
			return tx.UpdateSecret(ctx, sec)
		})
	return sec, err
}

// PurgeDeletedSecrets deletes the secrets whose recovery window has ended. The
// server calls it periodically; each purge is a System audit record.
func (s *Secrets) PurgeDeletedSecrets(ctx context.Context) (int, error) {
	var due []string
	err := s.store.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		pos := ""
		for {
			secs, next, err := tx.ListSecrets(ctx, keyward.SecretFilter{IncludeDeleted: true, Page: keyward.Page{Limit: 500, Position: pos}})
			if err != nil {
				return err
			}
			for _, sec := range secs {
				if sec.DeletionDate != nil && !sec.DeletionDate.After(s.clock.Now()) {
					due = append(due, sec.Name)
				}
			}
			if next == "" {
				return nil
			}
			pos = next
		}
	})
	if err != nil {
		return 0, err
	}
	purged := 0
	for _, name := range due {
		deleted := false // set by the attempt that committed (a retried one starts over)
		err := s.system(ctx, eventPurgeSecret, map[string]any{"name": name}, keyward.Change{Kind: keyward.ChangeSecret, ID: name}, func(ctx context.Context, tx keyward.Tx, ev *keyward.AuditEvent) error {
			deleted = false
			ev.Resources = []string{keyward.SecretARN(name)}
			// Re-read inside the transaction: a restore may have come in
			// since the list was taken.
			sec, err := tx.GetSecret(ctx, name)
			if err != nil {
				return err
			}
			if sec.DeletionDate == nil || sec.DeletionDate.After(s.clock.Now()) {
				ev.ResponseElements = map[string]any{"skipped": "restored or rescheduled"}
				return nil
			}
			deleted = true
			return tx.DeleteSecret(ctx, name)
		})
		if err != nil {
			return purged, err
		}
		if deleted {
			purged++
		}
	}
	return purged, nil
}

package core

import (
	"context"
	"time"

	"github.com/keyward/keyward"
)

// Usage reports. The gateway counts what keys use and hands it in through
// RecordUsage; admins read it back per key and day with GetKeyUsage.

const (
	maxUsageDays     = 366 // the longest range GetKeyUsage answers, both ends counted
	defaultUsageDays = 30  // the range when from is not given
)

// GetKeyUsage returns the key's usage per UTC day, authorized and audited
// as apikeys:GetUsage on the key. ENOTFOUND, EINVALID, EFORBIDDEN.
func (s *Usage) GetKeyUsage(ctx context.Context, keyID string, from, to time.Time) ([]keyward.UsageDay, error) {
	from, to = usageRange(from, to, s.clock.Now())
	fromDay, toDay := from.Format(keyward.DayFormat), to.Format(keyward.DayFormat)
	c := call{action: keyward.ActionKeyGetUsage, resource: keyward.KeyARN(keyID),
		params: map[string]any{"keyId": keyID, "from": fromDay, "to": toDay}}
	var rows []keyward.UsageDay
	err := s.run(ctx, c, func(ctx context.Context, tx keyward.Tx, o *op) error {
		switch {
		case to.Before(from):
			return invalid("to (%s) is before from (%s)", toDay, fromDay)
		case to.Sub(from) >= maxUsageDays*24*time.Hour:
			return invalid("at most %d days at a time", maxUsageDays)
		}
		if _, err := tx.GetKey(ctx, keyID); err != nil {
			return err
		}
		var err error
		rows, err = tx.ListUsage(ctx, keyID, fromDay, toDay)
		o.respond("days", len(rows))
		return err
	})
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// usageRange truncates from and to to their UTC days and fills in the
// defaults: to is today, from is defaultUsageDays days up to to.
func usageRange(from, to, now time.Time) (time.Time, time.Time) {
	if to.IsZero() {
		to = now
	}
	to = utcDay(to)
	if from.IsZero() {
		return to.AddDate(0, 0, 1-defaultUsageDays), to
	}
	return utcDay(from), to
}

func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// RecordUsage adds what the gateway counted. It is trusted server-side
// code, not an admin call: no authorization, and no audit record (it is
// telemetry, written often). Rows are checked first; one bad row stores
// none. EINVALID.
func (s *DataPlane) RecordUsage(ctx context.Context, rows []keyward.UsageDay) error {
	if len(rows) == 0 {
		return nil
	}
	for _, r := range rows {
		if err := checkUsageRow(r); err != nil {
			return err
		}
	}
	err := s.writeUnaudited(ctx, "usage telemetry", func(ctx context.Context, tx keyward.Tx) error {
		return tx.AddUsage(ctx, rows)
	})
	if err != nil {
		return s.internal(ctx, eventRecordUsage, err)
	}
	return nil
}

func checkUsageRow(r keyward.UsageDay) error {
	if err := checkText("usage keyId", r.KeyID, maxNameLen, true); err != nil {
		return err
	}
	if err := checkDay("usage day", r.Day); err != nil {
		return err
	}
	if r.Requests < 0 || r.TokensIn < 0 || r.TokensOut < 0 {
		return invalid("usage of key %q on %s has a negative count", r.KeyID, r.Day)
	}
	return nil
}

// checkDay accepts a day in keyward.DayFormat, exactly.
func checkDay(field, day string) error {
	t, err := time.Parse(keyward.DayFormat, day)
	if err != nil || t.Format(keyward.DayFormat) != day {
		return invalid("%s must be a day as YYYY-MM-DD", field)
	}
	return nil
}

// UsageSince returns every key's usage from fromDay on, for a gateway
// restoring its quota and token counters. Trusted server-side code: no
// authorization, no audit record. EINVALID.
func (s *DataPlane) UsageSince(ctx context.Context, fromDay string) ([]keyward.UsageDay, error) {
	if err := checkDay("fromDay", fromDay); err != nil {
		return nil, err
	}
	var rows []keyward.UsageDay
	err := s.store.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		var err error
		rows, err = tx.ListUsageSince(ctx, fromDay)
		return err
	})
	if err != nil {
		return nil, s.internal(ctx, "keyward:UsageSince", err)
	}
	return rows, nil
}

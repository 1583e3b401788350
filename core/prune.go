package core

import (
	"context"
	"errors"
	"time"

	"github.com/keyward/keyward"
)

// pruneBatch bounds one pruning transaction, so that a first prune of a
// long history does not hold the writer for long.
const pruneBatch = 5000

// errNothingToPrune rolls back a pruning transaction that found nothing:
// no change, so no audit record either.
var errNothingToPrune = errors.New("nothing to prune")

// PruneHistory deletes finished webhook deliveries (delivered or failed)
// and given notices older than retention, in batches, each one audited
// (keyward:PruneHistory with the cut and the counts). Pending deliveries
// stay whatever their age. It returns how many of each went.
func (s *Webhooks) PruneHistory(ctx context.Context, retention time.Duration) (deliveries, notices int, err error) {
	before := s.clock.Now().Add(-retention).UTC()
	for {
		var d, n int
		ev := s.systemEvent(eventPruneHistory, "", map[string]any{"before": before, "retention": retention.String()})
		err := s.commit(ctx, write{ev: ev, quiet: errNothingToPrune, body: func(ctx context.Context, tx keyward.Tx) error {
			var err error
			if d, n, err = tx.PruneHistory(ctx, before, pruneBatch); err != nil {
				return err
			}
			if d == 0 && n == 0 {
				return errNothingToPrune
			}
			ev.ResponseElements = map[string]any{"deliveries": d, "notices": n}
			return nil
		}})
		if errors.Is(err, errNothingToPrune) {
			return deliveries, notices, nil
		}
		if err != nil {
			return deliveries, notices, err
		}
		deliveries, notices = deliveries+d, notices+n
		if d < pruneBatch && n < pruneBatch {
			return deliveries, notices, nil
		}
	}
}

package core_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// TestPruneHistory: finished deliveries and notices older than the
// retention go, in audited batches; pending deliveries and recent history
// stay; a prune that finds nothing writes no record.
func TestPruneHistory(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	hook, err := e.svc.Webhooks.CreateWebhook(e.admin, keyward.WebhookCreate{URL: "http://127.0.0.1:9/hook", Events: []string{keyward.EventKeyRotated}})
	if err != nil {
		t.Fatal(err)
	}
	old := e.clock.Now()
	err = e.store.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
		for i, st := range []keyward.DeliveryState{keyward.DeliveryDelivered, keyward.DeliveryFailed, keyward.DeliveryPending} {
			d := &keyward.Delivery{ID: fmt.Sprintf("dlv_%d", i), WebhookID: hook.Webhook.ID, EventID: fmt.Sprintf("ev-%d", i),
				EventType: keyward.EventKeyRotated, State: st, NextAttemptAt: old, CreatedAt: old, UpdatedAt: old}
			if err := tx.InsertDelivery(ctx, d); err != nil {
				return err
			}
		}
		return tx.InsertNotice(ctx, keyward.EventKeyExpiring, "key_x", old.Add(time.Hour), old)
	})
	if err != nil {
		t.Fatal(err)
	}
	if d, n, err := e.svc.Webhooks.PruneHistory(ctx, 30*24*time.Hour); err != nil || d != 0 || n != 0 {
		t.Fatalf("nothing old yet: %d %d %v", d, n, err)
	}
	e.clock.Advance(31 * 24 * time.Hour)
	d, n, err := e.svc.Webhooks.PruneHistory(ctx, 30*24*time.Hour)
	if err != nil || d != 2 || n != 1 {
		t.Fatalf("prune: %d deliveries, %d notices, %v; want 2 and 1", d, n, err)
	}
	if d, n, err := e.svc.Webhooks.PruneHistory(ctx, 30*24*time.Hour); err != nil || d != 0 || n != 0 {
		t.Fatalf("second prune: %d %d %v", d, n, err)
	}
	recs, err := e.svc.Audit.ListAudit(e.admin, keyward.AuditFilter{EventName: "keyward:PruneHistory"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || !strings.Contains(string(recs[0].Event), `"deliveries":2`) || !strings.Contains(string(recs[0].Event), `"notices":1`) {
		t.Fatalf("audit of pruning: %d records %v", len(recs), recs)
	}
	err = e.store.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		if _, err := tx.GetDelivery(ctx, "dlv_2"); err != nil {
			return fmt.Errorf("the pending delivery was pruned: %w", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

package core

import (
	"context"

	"github.com/keyward/keyward"
)

// DeliveryStore is the store the webhook dispatcher keeps its delivery
// attempts in. Its writes are bookkeeping, not anyone's action, so they
// carry no audit record of their own; they still go through the core's
// one write path (writeUnaudited), like every other write.
func (s *Webhooks) DeliveryStore() keyward.Store { return deliveryStore{s.base} }

type deliveryStore struct{ b *base }

func (d deliveryStore) Update(ctx context.Context, fn func(ctx context.Context, tx keyward.Tx) error) error {
	return d.b.writeUnaudited(ctx, "webhook delivery attempts", fn)
}

func (d deliveryStore) View(ctx context.Context, fn func(ctx context.Context, tx keyward.Tx) error) error {
	return d.b.store.View(ctx, fn)
}

func (d deliveryStore) Ping(ctx context.Context) error { return d.b.store.Ping(ctx) }

// Close closes nothing: the store belongs to whoever built the services.
func (d deliveryStore) Close() error { return nil }

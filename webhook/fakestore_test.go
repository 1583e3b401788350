package webhook_test

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/keyward/keyward"
)

// fakeStore is an in-memory keyward.Store holding only what the dispatcher
// reads and writes: webhooks and deliveries. Transactions are serialized by
// one mutex; a failed Update is rolled back. Values are copied in and out,
// so the dispatcher cannot change stored rows except through the Tx.
type fakeStore struct {
	mu         sync.Mutex
	webhooks   map[string]*keyward.Webhook
	deliveries map[string]*keyward.Delivery
	onDue      func() // when set, called by DueDeliveries, the store locked
}

var _ keyward.Store = (*fakeStore)(nil)

func newFakeStore() *fakeStore {
	return &fakeStore{webhooks: map[string]*keyward.Webhook{}, deliveries: map[string]*keyward.Delivery{}}
}

func (s *fakeStore) Update(ctx context.Context, fn func(ctx context.Context, tx keyward.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	saved := maps.Clone(s.deliveries) // rows are replaced, never changed in place
	if err := fn(ctx, &fakeTx{s: s}); err != nil {
		s.deliveries = saved
		return err
	}
	return nil
}

func (s *fakeStore) View(ctx context.Context, fn func(ctx context.Context, tx keyward.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn(ctx, &fakeTx{s: s, readOnly: true})
}

func (s *fakeStore) Ping(context.Context) error { return nil }
func (s *fakeStore) Close() error               { return nil }

// Test helpers, outside transactions.

func (s *fakeStore) putWebhook(w *keyward.Webhook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *w
	s.webhooks[w.ID] = &c
}

func (s *fakeStore) putDelivery(d *keyward.Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliveries[d.ID] = cloneDelivery(d)
}

func (s *fakeStore) deleteDelivery(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.deliveries, id)
}

func (s *fakeStore) delivery(id string) *keyward.Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deliveries[id]
	if !ok {
		return nil
	}
	return cloneDelivery(d)
}

func (s *fakeStore) all() []*keyward.Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*keyward.Delivery
	for _, d := range s.deliveries {
		out = append(out, cloneDelivery(d))
	}
	slices.SortFunc(out, func(a, b *keyward.Delivery) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// fakeTx implements the Tx methods the dispatcher calls; the embedded nil
// Tx makes any other call panic, which shows the dispatcher needs more.
type fakeTx struct {
	keyward.Tx
	s        *fakeStore
	readOnly bool
}

func (tx *fakeTx) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]*keyward.Delivery, error) {
	var due []*keyward.Delivery
	for _, d := range tx.s.deliveries {
		if d.State == keyward.DeliveryPending && !d.NextAttemptAt.After(now) {
			due = append(due, cloneDelivery(d))
		}
	}
	slices.SortFunc(due, func(a, b *keyward.Delivery) int {
		return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), cmp.Compare(a.ID, b.ID))
	})
	if len(due) > limit {
		due = due[:limit]
	}
	if tx.s.onDue != nil {
		tx.s.onDue()
	}
	return due, nil
}

func (tx *fakeTx) GetWebhook(ctx context.Context, id string) (*keyward.Webhook, error) {
	w, ok := tx.s.webhooks[id]
	if !ok {
		return nil, keyward.Errorf(keyward.ENOTFOUND, "webhook not found")
	}
	c := *w
	return &c, nil
}

func (tx *fakeTx) GetDelivery(ctx context.Context, id string) (*keyward.Delivery, error) {
	d, ok := tx.s.deliveries[id]
	if !ok {
		return nil, keyward.Errorf(keyward.ENOTFOUND, "delivery not found")
	}
	return cloneDelivery(d), nil
}

// UpdateDelivery stores State, Attempts, NextAttemptAt and UpdatedAt, as
// the WebhookStore contract says.
func (tx *fakeTx) UpdateDelivery(ctx context.Context, d *keyward.Delivery) error {
	if tx.readOnly {
		return errors.New("fake store: write in a read-only transaction")
	}
	old, ok := tx.s.deliveries[d.ID]
	if !ok {
		return keyward.Errorf(keyward.ENOTFOUND, "delivery not found")
	}
	n := cloneDelivery(old)
	n.State = d.State
	n.Attempts = slices.Clone(d.Attempts)
	n.NextAttemptAt = d.NextAttemptAt
	n.UpdatedAt = d.UpdatedAt
	tx.s.deliveries[d.ID] = n
	return nil
}

func cloneDelivery(d *keyward.Delivery) *keyward.Delivery {
	c := *d
	c.Payload = slices.Clone(d.Payload)
	c.Attempts = slices.Clone(d.Attempts)
	return &c
}

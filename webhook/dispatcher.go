package webhook

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/keyward/keyward"
)

// Reasons stored in DeliveryAttempt.Error by the dispatcher itself (Post's
// messages cover the rest). All are safe to show the endpoint's owner.
const (
	reasonDeleted  = "webhook endpoint deleted"
	reasonNoSecret = "signing secret unavailable"
)

// leaseMargin is added to Timeout when a delivery is claimed, to cover the
// store writes around the attempt.
const leaseMargin = time.Minute

// Dispatcher sends the delivery outbox: deliveries written by the core in
// the transaction of the change they tell of. Each pass takes the due
// PENDING deliveries, claims each one in a write transaction (pushing its
// NextAttemptAt past the attempt, so that another pass or another server
// does not send it at the same time), sends it, and records the attempt:
// DELIVERED on a 2xx answer, otherwise a retry after Backoff, or FAILED
// after MaxAttempts. A delivery whose endpoint was deleted becomes FAILED.
// An attempt cut short by shutdown is not recorded; the delivery is sent
// again once its claim lapses (Timeout plus a minute).
type Dispatcher struct {
	cfg  Config
	kick chan struct{}
	pass sync.Mutex // one pass at a time
}

// NewDispatcher returns a dispatcher for c, with Defaults applied. It
// returns an error when c is not valid (see Config.Validate).
func NewDispatcher(c Config) (*Dispatcher, error) {
	c = c.Defaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Dispatcher{cfg: c, kick: make(chan struct{}, 1)}, nil
}

// Kick wakes Run at once, for a delivery just written. It never blocks;
// kicks made while a pass runs fold into one more pass.
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run sends due deliveries until ctx is done: a pass at start, then one
// every Poll, on Kick, and at once after a full batch. Errors of a pass
// are logged; Run returns when ctx is done.
func (d *Dispatcher) Run(ctx context.Context) {
	timer := time.NewTimer(d.cfg.Poll)
	defer timer.Stop()
	for {
		n, err := d.DeliverDue(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			d.cfg.Logger.Error("webhook dispatch pass failed", "err", err)
		}
		if n >= BatchSize && err == nil {
			continue // more may be due
		}
		timer.Reset(d.cfg.Poll)
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
		case <-timer.C:
		}
	}
}

// DeliverDue runs one pass: it takes up to BatchSize deliveries due now,
// sends them (Concurrency at a time) and records the outcomes. It returns
// how many deliveries it attempted or finished, and the store errors met
// (joined), or ctx's error when ctx is done.
func (d *Dispatcher) DeliverDue(ctx context.Context) (int, error) {
	d.pass.Lock()
	defer d.pass.Unlock()

	now := d.cfg.Clock.Now()
	var due []*keyward.Delivery
	err := d.cfg.Store.View(ctx, func(ctx context.Context, tx keyward.Tx) error {
		var err error
		due, err = tx.DueDeliveries(ctx, now, BatchSize)
		return err
	})
	if err != nil {
		return 0, err
	}

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		n    int
		errs []error
		sem  = make(chan struct{}, Concurrency)
	)
	for _, dl := range due {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			done, err := d.deliver(ctx, dl.ID)
			mu.Lock()
			defer mu.Unlock()
			if done {
				n++
			}
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return n, err
	}
	return n, errors.Join(errs...)
}

// deliver makes one attempt of delivery id. done reports that it was
// attempted or finished; false when another pass had claimed it, or when
// the attempt was cut short by ctx.
func (d *Dispatcher) deliver(ctx context.Context, id string) (done bool, err error) {
	dl, wh, err := d.claim(ctx, id)
	if err != nil || dl == nil {
		return false, err
	}
	if wh == nil {
		d.cfg.Logger.Warn("webhook delivery failed: endpoint deleted",
			"delivery", dl.ID, "webhook", dl.WebhookID, "event", dl.EventType)
		return true, nil
	}

	attempt, ok := d.send(ctx, dl, wh)
	if ctx.Err() != nil {
		return false, nil // shutdown: not recorded; sent again after the claim lapses
	}
	if d.cfg.OnAttempt != nil {
		d.cfg.OnAttempt(dl.EventType, ok)
	}
	return true, d.record(ctx, dl.ID, attempt, ok)
}

// claim reads delivery id and its endpoint in a write transaction and, if
// the delivery is still due, pushes its NextAttemptAt past the attempt. It
// returns a nil delivery when there is nothing to do, and a nil webhook
// when the endpoint is gone (the delivery is then FAILED).
func (d *Dispatcher) claim(ctx context.Context, id string) (*keyward.Delivery, *keyward.Webhook, error) {
	var (
		dl *keyward.Delivery
		wh *keyward.Webhook
	)
	err := d.cfg.Store.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
		dl, wh = nil, nil
		now := d.cfg.Clock.Now()
		cur, err := tx.GetDelivery(ctx, id)
		if keyward.ErrorCode(err) == keyward.ENOTFOUND {
			return nil // removed with its endpoint since the list was read
		}
		if err != nil {
			return err
		}
		if cur.State != keyward.DeliveryPending || cur.NextAttemptAt.After(now) {
			return nil // finished or claimed by another pass
		}
		w, err := tx.GetWebhook(ctx, cur.WebhookID)
		switch {
		case keyward.ErrorCode(err) == keyward.ENOTFOUND:
			cur.Attempts = append(cur.Attempts, keyward.DeliveryAttempt{At: now, Error: reasonDeleted})
			cur.State = keyward.DeliveryFailed
		case err != nil:
			return err
		default:
			wh = w
			cur.NextAttemptAt = now.Add(d.cfg.Timeout + leaseMargin)
		}
		cur.UpdatedAt = now
		if err := tx.UpdateDelivery(ctx, cur); err != nil {
			return err
		}
		dl = cur
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return dl, wh, nil
}

// send makes the request, bounded by Timeout, and describes the attempt.
func (d *Dispatcher) send(ctx context.Context, dl *keyward.Delivery, wh *keyward.Webhook) (keyward.DeliveryAttempt, bool) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	at := d.cfg.Clock.Now()
	start := time.Now()
	a := keyward.DeliveryAttempt{At: at}

	secret, err := d.cfg.Secret(ctx, wh)
	if err != nil || len(secret) == 0 {
		// The core's error may say more than a client should see: it goes
		// to the log only.
		d.cfg.Logger.Error("webhook signing secret unavailable",
			"delivery", dl.ID, "webhook", wh.ID, "err", err)
		a.Error = reasonNoSecret
		a.Millis = time.Since(start).Milliseconds()
		return a, false
	}
	headers := map[string]string{
		HeaderEvent:    dl.EventType,
		HeaderDelivery: dl.ID,
	}
	status, err := Post(ctx, d.cfg.Client, wh.URL, secret, headers, dl.Payload, at)
	a.Millis = time.Since(start).Milliseconds()
	a.StatusCode = status
	if err != nil {
		a.Error = keyward.ErrorMessage(err)
		return a, false
	}
	return a, true
}

// record stores an attempt and the state it leads to.
func (d *Dispatcher) record(ctx context.Context, id string, a keyward.DeliveryAttempt, ok bool) error {
	return d.cfg.Store.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
		cur, err := tx.GetDelivery(ctx, id)
		if keyward.ErrorCode(err) == keyward.ENOTFOUND {
			return nil // removed with its endpoint during the attempt
		}
		if err != nil {
			return err
		}
		now := d.cfg.Clock.Now()
		cur.Attempts = append(cur.Attempts, a)
		cur.UpdatedAt = now
		n := len(cur.Attempts)
		log := d.cfg.Logger.With("delivery", cur.ID, "webhook", cur.WebhookID,
			"event", cur.EventType, "attempt", n, "status", a.StatusCode)
		switch {
		case ok:
			cur.State = keyward.DeliveryDelivered
			log.Debug("webhook delivered")
		case n >= d.cfg.MaxAttempts:
			cur.State = keyward.DeliveryFailed
			log.Warn("webhook delivery failed: out of attempts", "reason", a.Error)
		default:
			cur.NextAttemptAt = now.Add(max(d.cfg.Backoff(n), 0))
			log.Info("webhook delivery attempt failed", "reason", a.Error, "retryAt", cur.NextAttemptAt)
		}
		return tx.UpdateDelivery(ctx, cur)
	})
}

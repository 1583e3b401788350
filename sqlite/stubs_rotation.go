package sqlite

// Placeholders until the rotation and webhook tables land (issue 5).

import (
	"context"
	"errors"
	"time"

	"github.com/keyward/keyward"
)

var errTODO = errors.New("sqlite: not implemented yet")

func (t *tx) InsertRotation(ctx context.Context, r *keyward.Rotation) error { return errTODO }
func (t *tx) GetRotation(ctx context.Context, id string) (*keyward.Rotation, error) {
	return nil, errTODO
}
func (t *tx) UpdateRotation(ctx context.Context, r *keyward.Rotation) error { return errTODO }
func (t *tx) ListRotations(ctx context.Context, f keyward.RotationFilter) ([]*keyward.Rotation, string, error) {
	return nil, "", errTODO
}
func (t *tx) InsertWebhook(ctx context.Context, w *keyward.Webhook) error { return errTODO }
func (t *tx) GetWebhook(ctx context.Context, id string) (*keyward.Webhook, error) {
	return nil, errTODO
}
func (t *tx) ListWebhooks(ctx context.Context, p keyward.Page) ([]*keyward.Webhook, string, error) {
	return nil, "", errTODO
}
func (t *tx) DeleteWebhook(ctx context.Context, id string) error            { return errTODO }
func (t *tx) InsertDelivery(ctx context.Context, d *keyward.Delivery) error { return errTODO }
func (t *tx) UpdateDelivery(ctx context.Context, d *keyward.Delivery) error { return errTODO }
func (t *tx) GetDelivery(ctx context.Context, id string) (*keyward.Delivery, error) {
	return nil, errTODO
}
func (t *tx) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]*keyward.Delivery, error) {
	return nil, errTODO
}
func (t *tx) ListDeliveries(ctx context.Context, f keyward.DeliveryFilter) ([]*keyward.Delivery, string, error) {
	return nil, "", errTODO
}
func (t *tx) InsertNotice(ctx context.Context, kind, target string, deadline, at time.Time) error {
	return errTODO
}

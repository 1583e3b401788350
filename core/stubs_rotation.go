package core

// Placeholders until rotation and webhooks land (issue 5).

import (
	"context"

	"github.com/keyward/keyward"
)

var (
	_ keyward.RotationService = (*Service)(nil)
	_ keyward.WebhookService  = (*Service)(nil)
)

func todo() error { return keyward.Errorf(keyward.EINTERNAL, "not implemented yet") }

func (s *Service) RotateKey(ctx context.Context, id string, in keyward.KeyRotate) (*keyward.RotatedKey, error) {
	return nil, todo()
}
func (s *Service) RevokePrevious(ctx context.Context, id string) (*keyward.APIKey, error) {
	return nil, todo()
}
func (s *Service) ListKeyRotations(ctx context.Context, id string, f keyward.RotationFilter) ([]*keyward.Rotation, string, error) {
	return nil, "", todo()
}
func (s *Service) RotateSecret(ctx context.Context, name string, in keyward.SecretRotate) (*keyward.Rotation, error) {
	return nil, todo()
}
func (s *Service) CancelSecretRotation(ctx context.Context, name string) (*keyward.Rotation, error) {
	return nil, todo()
}
func (s *Service) ListSecretRotations(ctx context.Context, name string, f keyward.RotationFilter) ([]*keyward.Rotation, string, error) {
	return nil, "", todo()
}
func (s *Service) CreateWebhook(ctx context.Context, in keyward.WebhookCreate) (*keyward.CreatedWebhook, error) {
	return nil, todo()
}
func (s *Service) GetWebhook(ctx context.Context, id string) (*keyward.Webhook, error) {
	return nil, todo()
}
func (s *Service) ListWebhooks(ctx context.Context, p keyward.Page) ([]*keyward.Webhook, string, error) {
	return nil, "", todo()
}
func (s *Service) DeleteWebhook(ctx context.Context, id string) error { return todo() }
func (s *Service) ListDeliveries(ctx context.Context, id string, f keyward.DeliveryFilter) ([]*keyward.Delivery, string, error) {
	return nil, "", todo()
}

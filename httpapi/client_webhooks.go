package httpapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/keyward/keyward"
)

// WebhookService over HTTP.

// CreateWebhook calls POST /v1/webhooks. The answer's Secret is the
// endpoint's signing secret: shown once.
func (c *Client) CreateWebhook(ctx context.Context, in keyward.WebhookCreate) (*keyward.CreatedWebhook, error) {
	var out keyward.CreatedWebhook
	if err := c.do(ctx, http.MethodPost, "/v1/webhooks", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetWebhook calls GET /v1/webhooks/{id}.
func (c *Client) GetWebhook(ctx context.Context, id string) (*keyward.Webhook, error) {
	return getOne[keyward.Webhook](ctx, c, "/v1/webhooks/", id)
}

// ListWebhooks calls GET /v1/webhooks.
func (c *Client) ListWebhooks(ctx context.Context, p keyward.Page) ([]*keyward.Webhook, string, error) {
	return list[*keyward.Webhook](ctx, c, "/v1/webhooks", pageQuery(nil, p))
}

// DeleteWebhook calls DELETE /v1/webhooks/{id}.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodDelete, nil, nil, "/v1/webhooks/", id)
}

// ListDeliveries calls GET /v1/webhooks/{id}/deliveries. f.WebhookID is
// not sent: id says it.
func (c *Client) ListDeliveries(ctx context.Context, id string, f keyward.DeliveryFilter) ([]*keyward.Delivery, string, error) {
	pth, err := path("/v1/webhooks/", id, "/deliveries")
	if err != nil {
		return nil, "", err
	}
	q := url.Values{}
	setIf(q, "eventType", f.EventType)
	setIf(q, "state", string(f.State))
	return list[*keyward.Delivery](ctx, c, pth, pageQuery(q, f.Page))
}

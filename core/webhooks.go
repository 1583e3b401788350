package core

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/keyward/keyward"
	"github.com/keyward/keyward/envelope"
	"github.com/keyward/keyward/webhook"
)

func webhookBinding(id string) envelope.Binding {
	return envelope.Binding{Kind: "webhook", ID: id, Version: "1", Field: "signingSecret"}
}

// CreateWebhook registers an endpoint and returns its signing secret once.
func (s *Webhooks) CreateWebhook(ctx context.Context, in keyward.WebhookCreate) (*keyward.CreatedWebhook, error) {
	params := map[string]any{"kind": string(in.Kind), "url": redactURL(in.URL), "events": in.Events, "principal": in.Principal}
	var out *keyward.CreatedWebhook
	// The host is checked after authorization and outside the write
	// transaction (it may take a DNS lookup); the dialer checks every
	// address again at each call.
	check := func(ctx context.Context) error { return checkWebhookHost(ctx, in.URL) }
	err := s.run(ctx, call{action: keyward.ActionWebhookCreate, resource: keyward.WebhookARN("*"), params: params, prepare: check},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			if in.Kind == "" {
				in.Kind = keyward.WebhookNotify
			}
			if err := validateWebhook(in); err != nil {
				return err
			}
			w := &keyward.Webhook{ID: newID("whk"), Kind: in.Kind, URL: in.URL, Description: in.Description,
				Events: in.Events, CreatedAt: s.clock.Now()}
			switch in.Principal {
			case "":
				// A global endpoint hears of every key and secret: only a
				// caller who may read them all may create one.
				if in.Kind == keyward.WebhookNotify {
					if err := o.authorize(ctx, keyward.ActionKeyGet, keyward.KeyARN("*")); err != nil {
						return err
					}
					if err := o.authorize(ctx, keyward.ActionSecretDescribe, keyward.SecretARN("*")); err != nil {
						return err
					}
				}
			case "self":
				w.PrincipalID = o.caller.Principal.ID
			default:
				p, err := tx.GetPrincipal(ctx, in.Principal)
				if isNotFound(err) {
					p, err = tx.GetPrincipalByName(ctx, in.Principal)
				}
				if err != nil {
					return err
				}
				// The endpoint hears what that principal may read: only a
				// caller who could act as it (mint its tokens) may set one up.
				if err := o.authorize(ctx, keyward.ActionPrincipalCreateToken, keyward.PrincipalARN(p.ID)); err != nil {
					return err
				}
				w.PrincipalID = p.ID
			}
			secret, err := webhook.NewSecret()
			if err != nil {
				return err
			}
			if w.SealedSecret, err = s.sealer.Seal(ctx, webhookBinding(w.ID), []byte(secret)); err != nil {
				return err
			}
			if err := tx.InsertWebhook(ctx, w); err != nil {
				return err
			}
			o.respond("webhookId", w.ID)
			out = &keyward.CreatedWebhook{Webhook: w, Secret: secret}
			return nil
		})
	return out, err
}

// redactURL keeps a URL's scheme, host and path for the audit trail: a
// query string or user info may carry a token.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

func validateWebhook(in keyward.WebhookCreate) error {
	if in.Kind != keyward.WebhookNotify && in.Kind != keyward.WebhookRotator {
		return invalid("kind must be notify or rotator")
	}
	u, err := url.Parse(in.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(in.URL) > 2048 {
		return invalid("url must be an absolute http or https URL")
	}
	if u.User != nil {
		return invalid("url must not carry user info: the request is signed instead")
	}
	if err := checkText("description", in.Description, maxDescriptionLen, false); err != nil {
		return err
	}
	if in.Kind == keyward.WebhookRotator && (len(in.Events) > 0 || in.Principal != "") {
		return invalid("a rotator endpoint takes no events and no principal")
	}
	for _, e := range in.Events {
		if !slices.Contains(keyward.EventTypes(), e) {
			return invalid("unknown event type %q", e)
		}
	}
	return nil
}

// checkWebhookHost refuses an endpoint whose URL's host is, or now
// resolves to, a link-local or cloud metadata address (webhook.CheckURL).
func checkWebhookHost(ctx context.Context, raw string) error {
	var be *webhook.BlockedError
	if err := webhook.CheckURL(ctx, nil, raw); errors.As(err, &be) {
		if be.Literal {
			return invalid("url host %s is a link-local or cloud metadata address, which keyward never calls", be.Host)
		}
		return invalid("url host %s resolves to %s, a link-local or cloud metadata address, which keyward never calls", be.Host, be.Addr)
	}
	return nil
}

// GetWebhook returns an endpoint, never its secret.
func (s *Webhooks) GetWebhook(ctx context.Context, id string) (*keyward.Webhook, error) {
	var w *keyward.Webhook
	err := s.run(ctx, call{action: keyward.ActionWebhookGet, resource: keyward.WebhookARN(id), params: map[string]any{"webhookId": id}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			var err error
			w, err = tx.GetWebhook(ctx, id)
			return err
		})
	return w, err
}

// ListWebhooks lists endpoints.
func (s *Webhooks) ListWebhooks(ctx context.Context, p keyward.Page) ([]*keyward.Webhook, string, error) {
	var out []*keyward.Webhook
	var next string
	err := s.run(ctx, call{action: keyward.ActionWebhookList, resource: keyward.WebhookARN("*"), params: map[string]any{"limit": p.Limit}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			var err error
			out, next, err = tx.ListWebhooks(ctx, p.Normalized())
			return err
		})
	return out, next, err
}

// DeleteWebhook removes an endpoint and its deliveries. A rotator still
// named by a secret cannot go.
func (s *Webhooks) DeleteWebhook(ctx context.Context, id string) error {
	return s.run(ctx, call{action: keyward.ActionWebhookDelete, resource: keyward.WebhookARN(id), params: map[string]any{"webhookId": id}},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			w, err := tx.GetWebhook(ctx, id)
			if err != nil {
				return err
			}
			if w.Kind == keyward.WebhookRotator {
				secrets, err := allPages(func(p keyward.Page) ([]*keyward.Secret, string, error) {
					return tx.ListSecrets(ctx, keyward.SecretFilter{IncludeDeleted: true, Page: p})
				})
				if err != nil {
					return err
				}
				for _, sec := range secrets {
					if sec.Rotation != nil && sec.Rotation.RotatorID == id {
						return keyward.Errorf(keyward.EPRECONDITION, "secret %s rotates through this endpoint", sec.Name)
					}
				}
			}
			return tx.DeleteWebhook(ctx, id)
		})
}

// ListDeliveries lists an endpoint's deliveries, newest first.
func (s *Webhooks) ListDeliveries(ctx context.Context, id string, f keyward.DeliveryFilter) ([]*keyward.Delivery, string, error) {
	var out []*keyward.Delivery
	var next string
	params := map[string]any{"webhookId": id, "eventType": f.EventType, "state": string(f.State), "limit": f.Limit}
	err := s.run(ctx, call{action: keyward.ActionWebhookListDeliveries, resource: keyward.WebhookARN(id), params: params},
		func(ctx context.Context, tx keyward.Tx, o *op) error {
			if _, err := tx.GetWebhook(ctx, id); err != nil {
				return err
			}
			f.WebhookID, f.Page = id, f.Page.Normalized()
			var err error
			out, next, err = tx.ListDeliveries(ctx, f)
			return err
		})
	return out, next, err
}

// WebhookSecret opens an endpoint's signing secret, for the dispatcher and
// the rotator calls. A trusted in-process call.
func (s *Webhooks) WebhookSecret(ctx context.Context, w *keyward.Webhook) ([]byte, error) {
	return s.webhookSecret(ctx, w)
}

// webhookSecret opens an endpoint's signing secret (the dispatcher's and
// the rotator client's).
func (s *base) webhookSecret(ctx context.Context, w *keyward.Webhook) ([]byte, error) {
	return s.sealer.Open(ctx, webhookBinding(w.ID), w.SealedSecret)
}

// readActions is what a principal must be allowed on a resource to hear of
// events about it through its own endpoint.
var readActions = map[string]keyward.Action{"apikey": keyward.ActionKeyGet, "secret": keyward.ActionSecretDescribe}

// notify queues an event for every notify endpoint that wants it, in tx:
// the deliveries commit with the change they tell of (an outbox), and the
// dispatcher sends them after. A principal's endpoint hears only of what
// the principal may read.
func (s *base) notify(ctx context.Context, tx keyward.Tx, eventType, resource string, data map[string]any) error {
	hooks, err := allPages(func(p keyward.Page) ([]*keyward.Webhook, string, error) { return tx.ListWebhooks(ctx, p) })
	if err != nil {
		return err
	}
	now := s.clock.Now()
	ev := keyward.Event{ID: uuid.NewString(), Type: eventType, CreatedAt: now, Resource: resource, Data: data}
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	for _, w := range hooks {
		if w.Kind != keyward.WebhookNotify || (len(w.Events) > 0 && !slices.Contains(w.Events, eventType)) {
			continue
		}
		if w.PrincipalID != "" && !s.mayRead(ctx, tx, w.PrincipalID, resource) {
			continue
		}
		d := &keyward.Delivery{ID: newID("dlv"), WebhookID: w.ID, EventID: ev.ID, EventType: eventType, Payload: body,
			State: keyward.DeliveryPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
		if err := tx.InsertDelivery(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// mayRead reports whether a principal's policies allow reading resource.
func (s *base) mayRead(ctx context.Context, tx keyward.Tx, principalID, resource string) bool {
	kind, _, _ := strings.Cut(strings.TrimPrefix(resource, "kw:"), "/")
	action, ok := readActions[kind]
	if !ok {
		return false
	}
	policies, err := tx.PoliciesOf(ctx, principalID)
	if err != nil {
		return false
	}
	return s.authz.Authorize(ctx, keyward.AuthzRequest{Policies: policies, Action: action, Resource: resource, Time: s.clock.Now()}) == nil
}

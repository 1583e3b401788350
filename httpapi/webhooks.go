package httpapi

import (
	"net/http"

	"github.com/keyward/keyward"
)

// Endpoints of /v1/webhooks. The signing secret of an endpoint travels only
// in the answer to create; the stored (sealed) secret is never marshalled.

func (s *server) createWebhook(w http.ResponseWriter, r *http.Request) error {
	var in keyward.WebhookCreate
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	out, err := s.svc.Webhooks.CreateWebhook(r.Context(), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, out)
}

func (s *server) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	p := q.page()
	if err := q.check(); err != nil {
		return err
	}
	items, next, err := s.svc.Webhooks.ListWebhooks(r.Context(), p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newList(items, next))
}

func (s *server) getWebhook(w http.ResponseWriter, r *http.Request) error {
	wh, err := s.svc.Webhooks.GetWebhook(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, wh)
}

func (s *server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.Webhooks.DeleteWebhook(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return noContent(w)
}

// listDeliveries reads eventType, state, limit and position; the endpoint
// comes from the path.
func (s *server) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := keyward.DeliveryFilter{
		EventType: q.str("eventType"),
		State:     keyward.DeliveryState(q.str("state")),
		Page:      q.page(),
	}
	if err := q.check(); err != nil {
		return err
	}
	items, next, err := s.svc.Webhooks.ListDeliveries(r.Context(), r.PathValue("id"), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newList(items, next))
}

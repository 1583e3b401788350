package httpapi

import (
	"net/http"

	"github.com/keyward/keyward"
)

// Endpoints of /v1/keys.

func (s *server) createKey(w http.ResponseWriter, r *http.Request) error {
	var in keyward.KeyCreate
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	out, err := s.svc.Keys.CreateKey(r.Context(), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, out)
}

func (s *server) listKeys(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := keyward.KeyFilter{
		NamePrefix: q.str("namePrefix"),
		CustomerID: q.str("customerId"),
		PlanID:     q.str("planId"),
		Page:       q.page(),
	}
	if err := q.check(); err != nil {
		return err
	}
	items, next, err := s.svc.Keys.ListKeys(r.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newList(items, next))
}

func (s *server) getKey(w http.ResponseWriter, r *http.Request) error {
	k, err := s.svc.Keys.GetKey(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, k)
}

func (s *server) updateKey(w http.ResponseWriter, r *http.Request) error {
	var u keyward.KeyUpdate
	if err := decodeBody(r, &u); err != nil {
		return err
	}
	k, err := s.svc.Keys.UpdateKey(r.Context(), r.PathValue("id"), u)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, k)
}

func (s *server) deleteKey(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.Keys.DeleteKey(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	return noContent(w)
}

func (s *server) readKeyValue(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	v, err := s.svc.Keys.ReadKeyValue(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, keyValueBody{ID: id, Value: v})
}

package httpapi

import (
	"net/http"

	"github.com/keyward/keyward"
)

// Endpoints of /v1/apis. {api} is an API's ID or name.

func (s *server) createAPI(w http.ResponseWriter, r *http.Request) error {
	var in keyward.APICreate
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	a, err := s.svc.APIs.CreateAPI(r.Context(), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, a)
}

func (s *server) listAPIs(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	p := q.page()
	if err := q.check(); err != nil {
		return err
	}
	items, next, err := s.svc.APIs.ListAPIs(r.Context(), p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newList(items, next))
}

func (s *server) getAPI(w http.ResponseWriter, r *http.Request) error {
	a, err := s.svc.APIs.GetAPI(r.Context(), r.PathValue("api"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a)
}

func (s *server) updateAPI(w http.ResponseWriter, r *http.Request) error {
	var u keyward.APIUpdate
	if err := decodeBody(r, &u); err != nil {
		return err
	}
	a, err := s.svc.APIs.UpdateAPI(r.Context(), r.PathValue("api"), u)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a)
}

func (s *server) deleteAPI(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.APIs.DeleteAPI(r.Context(), r.PathValue("api")); err != nil {
		return err
	}
	return noContent(w)
}

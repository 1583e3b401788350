package httpapi

import (
	"net/http"

	"github.com/keyward/keyward"
)

// Endpoints of /v1/principals. {principal} is a principal's ID or name.

func (s *server) createPrincipal(w http.ResponseWriter, r *http.Request) error {
	var in keyward.PrincipalCreate
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	out, err := s.svc.Principals.CreatePrincipal(r.Context(), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, out)
}

func (s *server) listPrincipals(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	p := q.page()
	if err := q.check(); err != nil {
		return err
	}
	items, next, err := s.svc.Principals.ListPrincipals(r.Context(), p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newList(items, next))
}

func (s *server) getPrincipal(w http.ResponseWriter, r *http.Request) error {
	p, err := s.svc.Principals.GetPrincipal(r.Context(), r.PathValue("principal"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (s *server) deletePrincipal(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.Principals.DeletePrincipal(r.Context(), r.PathValue("principal")); err != nil {
		return err
	}
	return noContent(w)
}

func (s *server) createToken(w http.ResponseWriter, r *http.Request) error {
	if err := decodeEmpty(r); err != nil {
		return err
	}
	token, meta, err := s.svc.Principals.CreateToken(r.Context(), r.PathValue("principal"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, tokenBody{Token: token, AdminToken: meta})
}

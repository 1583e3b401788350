package httpapi

import (
	"net/http"

	"github.com/keyward/keyward"
)

// Endpoints of /v1/policies. {policy} and {principal} are IDs or names.

func (s *server) createPolicy(w http.ResponseWriter, r *http.Request) error {
	var in keyward.PolicyCreate
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	// The document's content (and whether it is an object at all) is the
	// core's to validate, after authorization, so that every call is audited.
	p, err := s.svc.Policies.CreatePolicy(r.Context(), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, p)
}

func (s *server) listPolicies(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	p := q.page()
	if err := q.check(); err != nil {
		return err
	}
	items, next, err := s.svc.Policies.ListPolicies(r.Context(), p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newList(items, next))
}

func (s *server) getPolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := s.svc.Policies.GetPolicy(r.Context(), r.PathValue("policy"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (s *server) deletePolicy(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.Policies.DeletePolicy(r.Context(), r.PathValue("policy")); err != nil {
		return err
	}
	return noContent(w)
}

func (s *server) attachPolicy(w http.ResponseWriter, r *http.Request) error {
	if err := decodeEmpty(r); err != nil {
		return err
	}
	if err := s.svc.Policies.AttachPolicy(r.Context(), r.PathValue("policy"), r.PathValue("principal")); err != nil {
		return err
	}
	return noContent(w)
}

func (s *server) detachPolicy(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.Policies.DetachPolicy(r.Context(), r.PathValue("policy"), r.PathValue("principal")); err != nil {
		return err
	}
	return noContent(w)
}

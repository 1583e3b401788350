package httpapi

import (
	"net/http"

	"github.com/keyward/keyward"
)

// Endpoints of /v1/plans. {plan} is a plan's ID or name.

func (s *server) createPlan(w http.ResponseWriter, r *http.Request) error {
	var in keyward.PlanCreate
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	p, err := s.svc.Plans.CreatePlan(r.Context(), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, p)
}

func (s *server) listPlans(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	p := q.page()
	if err := q.check(); err != nil {
		return err
	}
	items, next, err := s.svc.Plans.ListPlans(r.Context(), p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newList(items, next))
}

func (s *server) getPlan(w http.ResponseWriter, r *http.Request) error {
	p, err := s.svc.Plans.GetPlan(r.Context(), r.PathValue("plan"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (s *server) updatePlan(w http.ResponseWriter, r *http.Request) error {
	var u keyward.PlanUpdate
	if err := decodeBody(r, &u); err != nil {
		return err
	}
	p, err := s.svc.Plans.UpdatePlan(r.Context(), r.PathValue("plan"), u)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (s *server) deletePlan(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.Plans.DeletePlan(r.Context(), r.PathValue("plan")); err != nil {
		return err
	}
	return noContent(w)
}

func (s *server) listPlanKeys(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	p := q.page()
	if err := q.check(); err != nil {
		return err
	}
	items, next, err := s.svc.Plans.ListPlanKeys(r.Context(), r.PathValue("plan"), p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newList(items, next))
}

func (s *server) attachKey(w http.ResponseWriter, r *http.Request) error {
	if err := decodeEmpty(r); err != nil {
		return err
	}
	if err := s.svc.Plans.AttachKey(r.Context(), r.PathValue("plan"), r.PathValue("keyId")); err != nil {
		return err
	}
	return noContent(w)
}

func (s *server) detachKey(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.Plans.DetachKey(r.Context(), r.PathValue("plan"), r.PathValue("keyId")); err != nil {
		return err
	}
	return noContent(w)
}

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

func (s *server) importKeys(w http.ResponseWriter, r *http.Request) error {
	if s.svc.Importer == nil {
		return keyward.Errorf(keyward.EINTERNAL, "httpapi: no key importer configured")
	}
	var in keyward.KeyImport
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	out, err := s.svc.Importer.ImportKeys(r.Context(), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, out)
}

func (s *server) listKeys(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := keyward.KeyFilter{
		Name:        q.str("name"),
		NamePrefix:  q.str("namePrefix"),
		CustomerID:  q.str("customerId"),
		PlanID:      q.str("planId"),
		UnusedSince: q.time("unusedSince"),
		Page:        q.page(),
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

// getKeyUsage answers {"items":[UsageDay...]}, one per day with use, in
// day order; a range of at most 366 days has no further pages. from and to
// left out take the core's defaults (the 30 days up to today, UTC).
func (s *server) getKeyUsage(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	from, to := q.day("from"), q.day("to")
	if err := q.check(); err != nil {
		return err
	}
	items, err := s.svc.Usage.GetKeyUsage(r.Context(), r.PathValue("id"), from, to)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newList(items, ""))
}

func (s *server) readKeyValue(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	v, err := s.svc.Keys.ReadKeyValue(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, keyValueBody{ID: id, Value: v})
}

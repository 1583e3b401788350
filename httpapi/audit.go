package httpapi

import (
	"net/http"

	"github.com/keyward/keyward"
)

// Endpoints of /v1/audit. Lists here page by sequence number (afterSeq in
// chain order, beforeSeq newest first with order=desc), not by an opaque
// position, so their answers carry no "next".

func (s *server) listAudit(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := keyward.AuditFilter{
		AfterSeq:    q.int64("afterSeq"),
		BeforeSeq:   q.int64("beforeSeq"),
		EventName:   q.str("eventName"),
		PrincipalID: q.str("principalId"),
		Since:       q.time("since"),
		Until:       q.time("until"),
		Limit:       q.int("limit"),
	}
	switch q.str("order") {
	case "", "asc":
	case "desc":
		f.Descending = true
	default:
		q.fail("order", `"asc" or "desc"`)
	}
	if err := q.check(); err != nil {
		return err
	}
	items, err := s.svc.Audit.ListAudit(r.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newList(items, ""))
}

func (s *server) listCheckpoints(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	after, limit := q.int64("afterSeq"), q.int("limit")
	if err := q.check(); err != nil {
		return err
	}
	items, err := s.svc.Audit.ListCheckpoints(r.Context(), after, limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newList(items, ""))
}

func (s *server) verifyAudit(w http.ResponseWriter, r *http.Request) error {
	if err := decodeEmpty(r); err != nil {
		return err
	}
	v, err := s.svc.Audit.VerifyAudit(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

package httpapi

import (
	"net/http"

	"github.com/keyward/keyward"
)

// Endpoints of /v1/audit. Lists here page by sequence number (records:
// afterSeq in chain order, beforeSeq newest first with order=desc;
// checkpoints: afterSize), not by an opaque position, so their answers carry
// no "next".

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
	// afterSeq is the parameter's name from before checkpoints had sizes;
	// it is still read, as an alias.
	after, alias, limit := q.int64("afterSize"), q.int64("afterSeq"), q.int("limit")
	if after == 0 {
		after = alias
	} else if alias != 0 && alias != after {
		q.fail("afterSeq", "absent or equal to afterSize (it is its old name)")
	}
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

func (s *server) proveRecord(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	seq, size := q.int64("seq"), q.int64("size") // ranges: the core, after authorizing
	if err := q.check(); err != nil {
		return err
	}
	p, err := s.svc.Audit.ProveRecord(r.Context(), seq, size)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

func (s *server) proveConsistency(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	from, to := q.int64("from"), q.int64("to")
	if err := q.check(); err != nil {
		return err
	}
	p, err := s.svc.Audit.ProveConsistency(r.Context(), from, to)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

// auditPublicKey is the answer of GET /v1/audit/public-key.
type auditPublicKey struct {
	VerifierKey string `json:"verifierKey"`
}

func (s *server) auditPublicKey(w http.ResponseWriter, r *http.Request) error {
	if err := newQuery(r).check(); err != nil {
		return err
	}
	k, err := s.svc.Audit.PublicKey(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, auditPublicKey{VerifierKey: k})
}

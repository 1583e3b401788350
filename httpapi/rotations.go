package httpapi

import (
	"net/http"

	"github.com/keyward/keyward"
)

// Endpoints of keyward.RotationService: /v1/keys/{id}/rotate,
// /revoke-previous and /rotations, and the same for /v1/secrets/{name}.
// The bodies of rotate are optional: every field has a default.
// A rotated key's value travels only in the answer to rotate, which, like
// every admin answer, is sent with Cache-Control: no-store and never logged.

func (s *server) rotateKey(w http.ResponseWriter, r *http.Request) error {
	var in keyward.KeyRotate
	if err := decodeOptional(r, &in); err != nil {
		return err
	}
	out, err := s.svc.Rotations.RotateKey(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *server) revokePrevious(w http.ResponseWriter, r *http.Request) error {
	if err := decodeEmpty(r); err != nil {
		return err
	}
	k, err := s.svc.Rotations.RevokePrevious(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, k)
}

func (s *server) listKeyRotations(w http.ResponseWriter, r *http.Request) error {
	f, err := rotationQuery(r)
	if err != nil {
		return err
	}
	items, next, err := s.svc.Rotations.ListKeyRotations(r.Context(), r.PathValue("id"), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newList(items, next))
}

// rotateSecret answers 202 with the rotation started: its steps run in the
// background, and its state tells how far they got. When none was started
// (rotateImmediately false: the configuration alone was saved) it answers
// 204.
func (s *server) rotateSecret(w http.ResponseWriter, r *http.Request) error {
	var in keyward.SecretRotate
	if err := decodeOptional(r, &in); err != nil {
		return err
	}
	rot, err := s.svc.Rotations.RotateSecret(r.Context(), r.PathValue("name"), in)
	if err != nil {
		return err
	}
	if rot == nil {
		return noContent(w)
	}
	return writeJSON(w, http.StatusAccepted, rot)
}

func (s *server) cancelSecretRotation(w http.ResponseWriter, r *http.Request) error {
	if err := decodeEmpty(r); err != nil {
		return err
	}
	rot, err := s.svc.Rotations.CancelSecretRotation(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rot)
}

func (s *server) listSecretRotations(w http.ResponseWriter, r *http.Request) error {
	f, err := rotationQuery(r)
	if err != nil {
		return err
	}
	items, next, err := s.svc.Rotations.ListSecretRotations(r.Context(), r.PathValue("name"), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newList(items, next))
}

// rotationQuery reads state, clientToken, limit and position. Kind and
// Target are left to the service, which takes them from the path.
func rotationQuery(r *http.Request) (keyward.RotationFilter, error) {
	q := newQuery(r)
	f := keyward.RotationFilter{
		State:       keyward.RotationState(q.str("state")),
		ClientToken: q.str("clientToken"),
		Page:        q.page(),
	}
	return f, q.check()
}

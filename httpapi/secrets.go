package httpapi

import (
	"net/http"
	"unicode/utf8"

	"github.com/keyward/keyward"
)

// Endpoints of /v1/secrets. {name} may contain '/': clients send it
// path-escaped as one segment (prod%2Fopenai). ServeMux matches on the
// escaped path and PathValue returns the name unescaped.

func (s *server) createSecret(w http.ResponseWriter, r *http.Request) error {
	var b secretCreateBody
	if err := decodeBody(r, &b); err != nil {
		return err
	}
	value, binary, err := secretPayload(b.SecretString, b.SecretBinary)
	if err != nil {
		return err
	}
	ref, err := s.svc.Secrets.CreateSecret(r.Context(), keyward.SecretCreate{
		Name: b.Name, Description: b.Description, Tags: b.Tags,
		Value: value, Binary: binary, ClientToken: b.ClientToken,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, ref)
}

func (s *server) listSecrets(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	f := keyward.SecretFilter{
		NamePrefix:     q.str("namePrefix"),
		TagKey:         q.str("tagKey"),
		TagValue:       q.str("tagValue"),
		IncludeDeleted: q.bool("includeDeleted"),
		Page:           q.page(),
	}
	if err := q.check(); err != nil {
		return err
	}
	items, next, err := s.svc.Secrets.ListSecrets(r.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newList(items, next))
}

func (s *server) describeSecret(w http.ResponseWriter, r *http.Request) error {
	sec, err := s.svc.Secrets.DescribeSecret(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sec)
}

func (s *server) updateSecret(w http.ResponseWriter, r *http.Request) error {
	var u keyward.SecretUpdate
	if err := decodeBody(r, &u); err != nil {
		return err
	}
	sec, err := s.svc.Secrets.UpdateSecret(r.Context(), r.PathValue("name"), u)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sec)
}

func (s *server) deleteSecret(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	d := keyward.SecretDelete{RecoveryWindowDays: q.int("recoveryWindowDays"), Force: q.bool("force")}
	if err := q.check(); err != nil {
		return err
	}
	sec, err := s.svc.Secrets.DeleteSecret(r.Context(), r.PathValue("name"), d)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sec)
}

func (s *server) restoreSecret(w http.ResponseWriter, r *http.Request) error {
	if err := decodeEmpty(r); err != nil {
		return err
	}
	sec, err := s.svc.Secrets.RestoreSecret(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, sec)
}

func (s *server) putSecretValue(w http.ResponseWriter, r *http.Request) error {
	var b secretPutBody
	if err := decodeBody(r, &b); err != nil {
		return err
	}
	value, binary, err := secretPayload(b.SecretString, b.SecretBinary)
	if err != nil {
		return err
	}
	ref, err := s.svc.Secrets.PutSecretValue(r.Context(), r.PathValue("name"), keyward.SecretPut{
		Value: value, Binary: binary, ClientToken: b.ClientToken, Stages: b.VersionStages,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, ref)
}

func (s *server) getSecretValue(w http.ResponseWriter, r *http.Request) error {
	q := newQuery(r)
	sel := keyward.SecretSelector{VersionID: q.str("versionId"), Stage: q.str("versionStage")}
	if err := q.check(); err != nil {
		return err
	}
	v, err := s.svc.Secrets.GetSecretValue(r.Context(), r.PathValue("name"), sel)
	if err != nil {
		return err
	}
	out := secretValueBody{Name: v.Name, VersionID: v.VersionID, VersionStages: v.Stages, CreatedAt: v.CreatedAt}
	if v.Binary || !utf8.Valid(v.Value) {
		// A string that is not UTF-8 would be mangled by JSON: send its bytes.
		out.SecretBinary = v.Value
	} else {
		str := string(v.Value)
		out.SecretString = &str
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *server) updateSecretStage(w http.ResponseWriter, r *http.Request) error {
	var m keyward.StageMove
	if err := decodeBody(r, &m); err != nil {
		return err
	}
	if err := s.svc.Secrets.UpdateSecretVersionStage(r.Context(), r.PathValue("name"), m); err != nil {
		return err
	}
	return noContent(w)
}

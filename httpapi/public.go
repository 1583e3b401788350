package httpapi

import (
	_ "embed"
	"log/slog"
	"net/http"

	"github.com/keyward/keyward"
)

// openAPIDoc is the OpenAPI 3.1 description of Routes(); a test holds the two
// to each other.
//
//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the OpenAPI 3.1 document served at /v1/openapi.json.
func OpenAPI() []byte { return append([]byte(nil), openAPIDoc...) }

// Public endpoints: no token, no action.

func (s *server) healthz(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, healthBody{Status: "ok"})
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) error {
	if s.ready != nil {
		if err := s.ready(r.Context()); err != nil {
			// Why is for the operator, not for whoever probes.
			s.log.LogAttrs(r.Context(), slog.LevelWarn, "not ready",
				slog.String("request_id", stateFrom(r.Context()).requestID), slog.String("error", err.Error()))
			return keyward.Errorf(keyward.EUNAVAILABLE, "not ready")
		}
	}
	body := healthBody{Status: "ready"}
	if s.node != nil {
		n := s.node()
		body.Node = &n
	}
	return writeJSON(w, http.StatusOK, body)
}

func (s *server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	if s.metricsHandler == nil {
		return keyward.Errorf(keyward.ENOTFOUND, "metrics are not enabled")
	}
	s.metricsHandler.ServeHTTP(w, r)
	return nil
}

func (s *server) openAPI(w http.ResponseWriter, r *http.Request) error {
	writeRawDoc(w, openAPIDoc)
	return nil
}

func writeRawDoc(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

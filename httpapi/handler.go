package httpapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/google/uuid"

	"github.com/keyward/keyward"
)

// Services are the domain services the admin API exposes. Every field but
// AuthFailures must be set (Usage may be left nil when Keys also implements
// keyward.UsageService, as the core does); a route whose service is nil
// answers 500.
type Services struct {
	Keys       keyward.KeyService
	Importer   keyward.KeyImporter // POST /v1/keys/import; nil answers 500
	Usage      keyward.UsageService
	APIs       keyward.APIService
	Plans      keyward.PlanService
	Secrets    keyward.SecretService
	Principals keyward.PrincipalService
	Policies   keyward.PolicyService
	Audit      keyward.AuditService
	Rotations  keyward.RotationService
	Webhooks   keyward.WebhookService
	Auth       keyward.Authenticator

	// AuthFailures records admin calls that failed authentication (the core
	// writes an audit record). May be nil. The context carries a Caller
	// without a principal; reason is "missing", "malformed" or "unknown"
	// (see authenticate), never the token.
	AuthFailures interface {
		RecordAuthFailure(ctx context.Context, action keyward.Action, reason string)
	}
}

// Options tune the handler. The zero value is usable.
type Options struct {
	Logger  *slog.Logger // access and error lines; default slog.Default()
	Metrics Metrics      // default NopMetrics
	// TrustedProxies are the peers whose X-Forwarded-For is believed. Empty:
	// the header is ignored and the source address is the socket's peer.
	TrustedProxies []netip.Prefix
	// Ready backs GET /readyz; nil means always ready.
	Ready func(context.Context) error
	// Node, when set, describes the node in /readyz's answer.
	Node func() NodeState
	// MetricsHandler serves GET /metrics; nil answers 404.
	MetricsHandler http.Handler
	// MaxBodyBytes limits request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// ClientPrincipals, when set, binds admin tokens to client
	// certificates: a token is accepted only over a connection whose
	// verified client certificate names the token's principal.
	ClientPrincipals CertPrincipals
	// ClientCert, when set, re-checks the connection's client
	// certificate on every request (against the client CAs loaded now);
	// an error answers 401 like a bad token.
	ClientCert func(*tls.ConnectionState) error
}

// CertPrincipals names the principals (names or IDs) a verified client
// certificate is bound to; tlsconfig.PrincipalMap implements it.
type CertPrincipals interface {
	Principals(cert *x509.Certificate) []string
}

// DefaultMaxBodyBytes is the request body limit when Options.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 1 << 20

// server is the handler built by NewHandler.
type server struct {
	svc            Services
	log            *slog.Logger
	metrics        Metrics
	trusted        []netip.Prefix
	ready          func(context.Context) error
	node           func() NodeState
	metricsHandler http.Handler
	maxBody        int64
	certPrincipals CertPrincipals
	clientCert     func(*tls.ConnectionState) error
	mux            *http.ServeMux
}

// NewHandler returns the admin API: exactly the routes of Routes(), each with
// its handler, behind request IDs, access logging, metrics and panic
// recovery. Shutting down is the caller's business (http.Server.Shutdown).
func NewHandler(s Services, o Options) http.Handler {
	if s.Usage == nil {
		s.Usage, _ = s.Keys.(keyward.UsageService)
	}
	srv := &server{
		svc:            s,
		log:            o.Logger,
		metrics:        o.Metrics,
		trusted:        append([]netip.Prefix(nil), o.TrustedProxies...),
		ready:          o.Ready,
		node:           o.Node,
		metricsHandler: o.MetricsHandler,
		maxBody:        o.MaxBodyBytes,
		certPrincipals: o.ClientPrincipals,
		clientCert:     o.ClientCert,
		mux:            http.NewServeMux(),
	}
	if srv.log == nil {
		srv.log = slog.Default()
	}
	if srv.metrics == nil {
		srv.metrics = NopMetrics{}
	}
	if srv.maxBody <= 0 {
		srv.maxBody = DefaultMaxBodyBytes
	}
	for _, rt := range table {
		srv.mux.Handle(rt.Method+" "+rt.Pattern, srv.route(rt))
	}
	return srv
}

// reqState is what the outer middleware learns about a request from the
// route handler, for the access line and metrics.
type reqState struct {
	requestID   string
	sourceIP    string
	userAgent   string
	route       string // the route pattern; "" until a route matched
	principalID string
}

type stateKey struct{}

func stateFrom(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{}).(*reqState)
	if st == nil {
		st = &reqState{}
	}
	return st
}

// ServeHTTP assigns the request ID, dispatches, and logs and measures the
// request once it is done.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st := &reqState{
		requestID: uuid.NewString(),
		sourceIP:  clientIP(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), s.trusted),
		userAgent: sanitize(r.UserAgent()),
	}
	w.Header().Set("X-Request-Id", st.requestID)
	// Nothing the admin listener answers is for a cache: errors, health
	// and metrics included.
	w.Header().Set("Cache-Control", "no-store")
	if r.TLS != nil {
		// Browsers (the console) must never fall back to plain HTTP
		// once they have seen keyward over TLS.
		w.Header().Set("Strict-Transport-Security", "max-age=63072000")
	}
	sw := &statusWriter{ResponseWriter: w}
	r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))

	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				s.finish(r, sw, st, start)
				panic(v)
			}
			s.log.LogAttrs(r.Context(), slog.LevelError, "panic in admin API handler",
				slog.String("request_id", st.requestID), slog.String("route", routeLabel(st)),
				slog.String("panic", fmt.Sprint(v)), slog.String("stack", string(debug.Stack())))
			if !sw.wrote {
				writeErrorBody(sw, http.StatusInternalServerError, keyward.EINTERNAL, "internal error")
			}
		}
		s.finish(r, sw, st, start)
	}()

	if h, pattern := s.mux.Handler(r); pattern == "" {
		s.unmatched(sw, r, h)
		return
	}
	s.mux.ServeHTTP(sw, r)
}

// unmatched answers a request no route matches with a JSON 404, or 405 (with
// Allow) when the path exists for another method. h is the mux's own answer,
// which is probed for its status and Allow header and then discarded.
func (s *server) unmatched(w http.ResponseWriter, r *http.Request, h http.Handler) {
	probe := &probeWriter{header: http.Header{}}
	h.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", probe.header.Get("Allow"))
		writeErrorBody(w, http.StatusMethodNotAllowed, keyward.EINVALID, "method not allowed")
		return
	}
	writeErrorBody(w, http.StatusNotFound, keyward.ENOTFOUND, "no such route")
}

// route wraps one entry of the route table: body limit, authentication, the
// Caller in the context, then the endpoint.
func (s *server) route(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateFrom(r.Context())
		st.route = rt.Pattern
		r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)

		caller := keyward.Caller{SourceIP: st.sourceIP, UserAgent: st.userAgent, RequestID: st.requestID}
		if !rt.Public && r.Method == http.MethodHead {
			// ServeMux lets HEAD into GET routes; on admin routes that would
			// reveal (and audit) values nobody receives.
			w.Header().Set("Allow", rt.Method)
			writeErrorBody(w, http.StatusMethodNotAllowed, keyward.EINVALID, "method not allowed")
			return
		}
		if !rt.Public {
			// Admin answers carry keys, tokens and secret values: never cache.
			w.Header().Set("Cache-Control", "no-store")
			p, tok, err := s.authenticate(r.Context(), r, rt.Action, caller)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			caller.Principal = p
			if tok != nil {
				caller.TokenID = tok.ID
			}
			st.principalID = p.ID
		}
		r = r.WithContext(keyward.WithCaller(r.Context(), caller))
		if err := checkURL(r.URL); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := rt.serve(s, w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// finish writes the access line and the metric of a request.
func (s *server) finish(r *http.Request, sw *statusWriter, st *reqState, start time.Time) {
	d := time.Since(start)
	status := sw.statusCode()
	method := methodLabel(r.Method)
	route := routeLabel(st)
	s.metrics.ObserveRequest(route, method, status, d)
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "admin request",
		slog.String("request_id", st.requestID),
		slog.String("method", method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.String("principal_id", sanitize(st.principalID)),
		slog.String("source_ip", st.sourceIP),
		slog.String("user_agent", st.userAgent),
	)
}

func routeLabel(st *reqState) string {
	if st.route == "" {
		return "unmatched"
	}
	return st.route
}

// methodLabel bounds the method to the standard set, for logs and labels.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) statusCode() int {
	if !w.wrote {
		return http.StatusOK // net/http sends 200 when a handler writes nothing
	}
	return w.status
}

// probeWriter captures what the mux's own 404/405 handlers would answer.
type probeWriter struct {
	header http.Header
	status int
}

func (p *probeWriter) Header() http.Header { return p.header }
func (p *probeWriter) WriteHeader(code int) {
	if p.status == 0 {
		p.status = code
	}
}
func (p *probeWriter) Write(b []byte) (int, error) {
	p.WriteHeader(http.StatusOK)
	return len(b), nil
}

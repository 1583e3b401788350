package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/keyward/keyward/httpapi"
	"github.com/keyward/keyward/tlsconfig"
)

// listenerTLS is the TLS of one listener, nil when it serves plain HTTP.
type listenerTLS struct {
	name   string
	server *tlsconfig.Server
	reload chan struct{} // SIGHUP: reload now
}

// openTLS loads the certificates of the admin and gateway listeners and the
// client configuration for what the server dials (webhooks, rotators,
// HTTPS upstreams). A certificate that does not load stops the start.
func (s *Server) openTLS(cfg TLSConfig) (err error) {
	if cert, key := cfg.admin(); cert != "" {
		s.adminTLS, err = newListenerTLS("admin", tlsconfig.ServerFiles{
			Cert: cert, Key: key, ClientCA: cfg.ClientCA, NextProtos: []string{"h2", "http/1.1"},
		})
		if err != nil {
			return &SettingError{Field: certField(cfg.AdminCert, "TLS.AdminCert"), Reason: err.Error(), Err: err}
		}
	}
	if cert, key := cfg.gateway(); cert != "" {
		// The gateway (fasthttp) speaks HTTP/1.1 only; streams and
		// keep-alive work as over plain HTTP.
		s.gatewayTLS, err = newListenerTLS("gateway", tlsconfig.ServerFiles{
			Cert: cert, Key: key, NextProtos: []string{"http/1.1"},
		})
		if err != nil {
			return &SettingError{Field: certField(cfg.GatewayCert, "TLS.GatewayCert"), Reason: err.Error(), Err: err}
		}
	}
	if s.clientPrincipals, err = tlsconfig.ParsePrincipalMap(cfg.ClientPrincipals); err != nil {
		return &SettingError{Field: "TLS.ClientPrincipals", Reason: err.Error()}
	}
	if s.dialTLS, err = tlsconfig.Client(tlsconfig.ClientFiles{CA: cfg.CAFile}); err != nil {
		return &SettingError{Field: "TLS.CAFile", Reason: err.Error(), Err: err}
	}
	return nil
}

func newListenerTLS(name string, files tlsconfig.ServerFiles) (*listenerTLS, error) {
	srv, err := tlsconfig.NewServer(files)
	if err != nil {
		return nil, fmt.Errorf("%s listener: %w", name, err)
	}
	return &listenerTLS{name: name, server: srv, reload: make(chan struct{}, 1)}, nil
}

// wrap returns ln serving TLS, or ln itself for a plain listener.
func (l *listenerTLS) wrap(ln net.Listener) net.Listener {
	if l == nil {
		return ln
	}
	return tls.NewListener(ln, l.server.Config())
}

func (l *listenerTLS) scheme() string {
	if l == nil {
		return "http://"
	}
	return "https://"
}

// watch reloads the certificate when its files change or on ReloadTLS.
func (s *Server) watchTLS(ctx context.Context) {
	for _, l := range []*listenerTLS{s.adminTLS, s.gatewayTLS} {
		if l == nil {
			continue
		}
		s.workers.Add(1)
		go func() {
			defer s.workers.Done()
			l.server.Watch(ctx, l.name, s.cfg.TLS.ReloadInterval, l.reload, s.log)
		}()
	}
}

// ReloadTLS reloads every listener's certificate now (SIGHUP). A pair that
// does not load is logged and the previous one kept.
func (s *Server) ReloadTLS() {
	for _, l := range []*listenerTLS{s.adminTLS, s.gatewayTLS} {
		if l == nil {
			continue
		}
		select {
		case l.reload <- struct{}{}:
		default: // a reload is already pending
		}
	}
}

// certPrincipals is the admin API's certificate binding; a nil interface
// (not a nil map in one) when there is none.
func (s *Server) certPrincipals() httpapi.CertPrincipals {
	if s.clientPrincipals == nil {
		return nil
	}
	return s.clientPrincipals
}

// certField names the setting a listener's certificate came from: its own
// override, or the shared --tls-cert.
func certField(override, field string) string {
	if override != "" {
		return field
	}
	return "TLS.Cert"
}

// clientCertCheck re-checks admin client certificates per request when the
// admin listener requires them; nil otherwise.
func (s *Server) clientCertCheck() func(*tls.ConnectionState) error {
	if s.adminTLS == nil || s.cfg.TLS.ClientCA == "" {
		return nil
	}
	return s.adminTLS.server.VerifyClient
}

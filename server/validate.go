package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxGatewayBody bounds GatewayMaxBody: the gateway holds a request body in
// memory, sized from its Content-Length before it arrives.
const MaxGatewayBody = 1 << 30

// SettingError is a setting of Config that is out of range or does not
// parse. Field names the Config field, so that a caller that read the
// setting from a flag or an environment variable can name that instead.
type SettingError struct {
	Field  string // e.g. "GatewayMaxBody"
	Reason string // what is wrong, without the value (it may be secret)
	Err    error  // the cause, when there is one
}

func (e *SettingError) Error() string { return "server config " + e.Field + ": " + e.Reason }

func (e *SettingError) Unwrap() error { return e.Err }

// Validate reports the first setting of c that cannot run a server, as a
// *SettingError. Zero values are for Defaults to fill: call Validate on
// c.Defaults() (Open does), or on a config whose every setting was given,
// where a zero interval or size is then refused like a negative one.
func (c Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &SettingError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if c.DataDir == "" {
		return bad("DataDir", "must not be empty")
	}
	for _, a := range []struct{ field, addr string }{{"AdminAddr", c.AdminAddr}, {"GatewayAddr", c.GatewayAddr}} {
		if err := checkListenAddr(a.addr); err != nil {
			return bad(a.field, "%v", err)
		}
	}
	if err := c.TLS.validate(c.AdminAddr, c.GatewayAddr); err != nil {
		return err
	}
	if c.KeyringURL != "" {
		// Not quoted back: a base64key:// URL is the key itself.
		if u, err := url.Parse(c.KeyringURL); err != nil || u.Scheme == "" || u.Opaque != "" {
			return bad("KeyringURL", "not a keyring URL of the form scheme://host/path")
		}
	}
	// Floors and ceilings, not only signs: a 1ns interval spins a core, a
	// 1ns timeout fails every exchange, and a body limit near 2^63 lets one
	// unauthenticated Content-Length make the server allocate until it dies.
	for _, d := range []struct {
		field    string
		v        time.Duration
		min, max time.Duration
	}{
		{"CheckpointInterval", c.CheckpointInterval, 10 * time.Millisecond, 24 * time.Hour},
		{"GatewayTimeout", c.GatewayTimeout, 100 * time.Millisecond, 24 * time.Hour},
		{"RotationCheckInterval", c.RotationCheckInterval, 10 * time.Millisecond, 24 * time.Hour},
		{"Retention", c.Retention, time.Hour, 10 * 365 * 24 * time.Hour},
	} {
		if d.v <= 0 {
			return bad(d.field, "must be positive")
		}
		if d.v < d.min || d.v > d.max {
			return bad(d.field, "must be from %v to %v", d.min, d.max)
		}
	}
	if c.LimitsUnavailable != "open" && c.LimitsUnavailable != "closed" {
		return bad("LimitsUnavailable", "must be open or closed")
	}
	if c.RedisURL != "" {
		if err := checkRedisURL(c.RedisURL, c.TLS.AllowPlaintext); err != nil {
			return bad("RedisURL", "%v", err)
		}
	} else if c.RedisCAFile != "" {
		return bad("RedisCAFile", "is for a rediss:// Redis URL, and none is set")
	}
	if c.CheckpointEvery < 1 || c.CheckpointEvery > 1_000_000 {
		return bad("CheckpointEvery", "must be from 1 to 1000000")
	}
	if len(c.AuditRebaseReason) > 1000 || strings.ContainsAny(c.AuditRebaseReason, "\r\n") {
		return bad("AuditRebaseReason", "must be one line of at most 1000 bytes")
	}
	if c.GatewayMaxBody <= 0 {
		return bad("GatewayMaxBody", "must be positive")
	}
	if c.GatewayMaxBody > MaxGatewayBody {
		return bad("GatewayMaxBody", "must be at most %d bytes (1 GiB)", MaxGatewayBody)
	}
	for _, p := range c.TrustedProxies {
		if !p.IsValid() {
			return bad("TrustedProxies", "holds an invalid prefix")
		}
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return bad("LogFormat", "want text or json")
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return bad("LogLevel", "want debug, info, warn or error")
	}
	return nil
}

// checkListenAddr accepts host:port with a numeric port (0: any free
// port); the host may be empty (every interface).
func checkListenAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("not host:port, e.g. 127.0.0.1:7070")
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n > 65535 {
		return errors.New("the port is not a number from 0 to 65535")
	}
	return nil
}

// parseLevel reads a log level the way slog names them, in any case.
func parseLevel(s string) (slog.Level, error) {
	var level slog.Level
	err := level.UnmarshalText([]byte(strings.ToUpper(s)))
	return level, err
}

// validate checks that certificates come in pairs, that mutual TLS has TLS
// under it, and that no listener off loopback serves plain HTTP unless told.
func (t TLSConfig) validate(adminAddr, gatewayAddr string) error {
	bad := func(field, format string, args ...any) error {
		return &SettingError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	for _, p := range []struct{ certField, keyField, cert, key string }{
		{"TLS.Cert", "TLS.Key", t.Cert, t.Key},
		{"TLS.AdminCert", "TLS.AdminKey", t.AdminCert, t.AdminKey},
		{"TLS.GatewayCert", "TLS.GatewayKey", t.GatewayCert, t.GatewayKey},
	} {
		if p.cert != "" && p.key == "" {
			return bad(p.certField, "a certificate needs its key file too")
		}
		if p.key != "" && p.cert == "" {
			return bad(p.keyField, "a key needs its certificate file too")
		}
	}
	adminCert, _ := t.admin()
	gatewayCert, _ := t.gateway()
	if t.ClientCA != "" && adminCert == "" {
		return bad("TLS.ClientCA", "client certificates need TLS on the admin listener: give a certificate and key")
	}
	if len(t.ClientPrincipals) > 0 && t.ClientCA == "" {
		return bad("TLS.ClientPrincipals", "binding certificates to principals needs a client CA")
	}
	if t.ReloadInterval < 100*time.Millisecond || t.ReloadInterval > time.Hour {
		return bad("TLS.ReloadInterval", "must be from 100ms to 1h")
	}
	if t.AllowPlaintext {
		return nil
	}
	for _, l := range []struct{ field, name, addr, cert, exposed string }{
		{"AdminAddr", "admin API", adminAddr, adminCert, "admin tokens, key values and secrets"},
		{"GatewayAddr", "gateway", gatewayAddr, gatewayCert, "callers' API keys and their prompts and completions"},
	} {
		if l.cert == "" && !loopbackAddr(l.addr) {
			return bad(l.field, "the %s would serve plain HTTP on %s, a non-loopback address: %s "+
				"would cross the network in clear. Give a certificate (--tls-cert and --tls-key), "+
				"or --allow-plaintext when a TLS-terminating proxy in front of keyward is the only way in", l.name, l.addr, l.exposed)
		}
	}
	return nil
}

// loopbackAddr reports whether a listen address binds loopback only: an
// IP in 127.0.0.0/8 or ::1, or "localhost". An empty host binds every
// interface; another name may resolve anywhere.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && loopbackHost(host)
}

// loopbackHost reports whether host is an IP in 127.0.0.0/8 or ::1, or
// "localhost".
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

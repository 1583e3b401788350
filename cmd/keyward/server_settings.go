package main

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/clientip"
	"github.com/keyward/keyward/server"
)

// setting is one server setting: its flag, its environment variable, and
// how its text becomes a field of server.Config. Every server setting is
// read through this table, so each is read, and reported, the same way.
type setting struct {
	field  string // the server.Config field, as server.SettingError names it
	flag   string // without the dashes
	env    string
	typ    string // shown in --help
	usage  string
	def    func(d server.Config) string // the default, as text
	set    func(cfg *server.Config, text string) error
	secret bool // its value is never echoed: a keyring URL may be the key itself
}

var serverSettings = []setting{
	{field: "DataDir", flag: "data-dir", env: "KEYWARD_DATA_DIR", typ: "string", usage: "data directory",
		def: func(d server.Config) string { return d.DataDir },
		set: func(c *server.Config, s string) error { c.DataDir = s; return nil }},
	{field: "AdminAddr", flag: "admin-addr", env: "KEYWARD_ADMIN_ADDR", typ: "host:port", usage: "admin API listen address",
		def: func(d server.Config) string { return d.AdminAddr },
		set: func(c *server.Config, s string) error { c.AdminAddr = s; return nil }},
	{field: "GatewayAddr", flag: "gateway-addr", env: "KEYWARD_GATEWAY_ADDR", typ: "host:port", usage: "gateway listen address",
		def: func(d server.Config) string { return d.GatewayAddr },
		set: func(c *server.Config, s string) error { c.GatewayAddr = s; return nil }},
	{field: "KeyringURL", flag: "keyring", env: "KEYWARD_KEYRING", typ: "url", secret: true,
		usage: "key-encryption keyring URL; default file://<data-dir>/master.key",
		def:   func(server.Config) string { return "" },
		set:   func(c *server.Config, s string) error { c.KeyringURL = s; return nil }},
	{field: "DatabaseURL", flag: "database-url", env: "KEYWARD_DATABASE_URL", typ: "url", secret: true,
		usage: "PostgreSQL URL of a cluster's shared store (default: SQLite in the data dir); a password only from the environment (this variable, PGPASSWORD) or --database-url-file, never on the command line",
		def:   func(server.Config) string { return "" },
		set:   func(c *server.Config, s string) error { c.DatabaseURL = s; return nil }},
	{field: "DatabaseURLFile", flag: "database-url-file", env: "KEYWARD_DATABASE_URL_FILE", typ: "path",
		usage: "read the PostgreSQL URL from this file (it may hold the password)",
		def:   func(server.Config) string { return "" },
		set:   urlFromFile("database", func(c *server.Config, u string) { c.DatabaseURL = u })},
	{field: "RedisURL", flag: "redis-url", env: "KEYWARD_REDIS_URL", typ: "url", secret: true,
		usage: "Redis URL (redis://, rediss:// for TLS) through which every node of a cluster shares the plans' limits (default: each node limits on its own); a password only from the environment (this variable) or --redis-url-file, never on the command line",
		def:   func(server.Config) string { return "" },
		set:   func(c *server.Config, s string) error { c.RedisURL = s; return nil }},
	{field: "RedisURLFile", flag: "redis-url-file", env: "KEYWARD_REDIS_URL_FILE", typ: "path",
		usage: "read the Redis URL from this file (it may hold the password)",
		def:   func(server.Config) string { return "" },
		set:   urlFromFile("Redis", func(c *server.Config, u string) { c.RedisURL = u })},
	{field: "RedisCAFile", flag: "redis-ca-file", env: "KEYWARD_REDIS_CA_FILE", typ: "path",
		usage: "PEM CA certificates that verify a rediss:// Redis (default: the system's roots)",
		def:   func(server.Config) string { return "" },
		set:   func(c *server.Config, s string) error { c.RedisCAFile = s; return nil }},
	{field: "LimitsUnavailable", flag: "limits-unavailable", env: "KEYWARD_LIMITS_UNAVAILABLE", typ: "open|closed",
		usage: "while Redis cannot be reached: closed refuses requests that have limits (503, Retry-After: 1); open enforces each limit divided by the nodes last seen alive",
		def:   func(d server.Config) string { return d.LimitsUnavailable },
		set:   func(c *server.Config, s string) error { c.LimitsUnavailable = s; return nil }},
	{field: "AuditFile", flag: "audit-file", env: "KEYWARD_AUDIT_FILE", typ: "path", usage: "also append audit records to this JSONL file",
		def: func(server.Config) string { return "" },
		set: func(c *server.Config, s string) error { c.AuditFile = s; return nil }},
	{field: "AuditStdout", flag: "audit-stdout", env: "KEYWARD_AUDIT_STDOUT", typ: "bool", usage: "also write audit records to stdout",
		def: func(server.Config) string { return "false" },
		set: func(c *server.Config, s string) (err error) { c.AuditStdout, err = parseBool(s); return err }},
	{field: "CheckpointInterval", flag: "audit-checkpoint-interval", env: "KEYWARD_AUDIT_CHECKPOINT_INTERVAL", typ: "duration",
		usage: "how often the audit log's head is signed (a checkpoint)",
		def:   func(d server.Config) string { return d.CheckpointInterval.String() },
		set:   func(c *server.Config, s string) (err error) { c.CheckpointInterval, err = parseDuration(s); return err }},
	{field: "CheckpointEvery", flag: "audit-checkpoint-every", env: "KEYWARD_AUDIT_CHECKPOINT_EVERY", typ: "int",
		usage: "also sign the audit log's head after this many records",
		def:   func(d server.Config) string { return strconv.FormatInt(d.CheckpointEvery, 10) },
		set: func(c *server.Config, s string) (err error) {
			c.CheckpointEvery, err = strconv.ParseInt(s, 10, 64)
			if err != nil {
				return errors.New("not a whole number")
			}
			return nil
		}},
	{field: "AuditRebaseReason", flag: "audit-rebase", env: "KEYWARD_AUDIT_REBASE", typ: "reason",
		usage: "at start, make the database's audit log the trusted one again after a deliberate restore, saying why (audited; see the README)",
		def:   func(server.Config) string { return "" },
		set:   func(c *server.Config, s string) error { c.AuditRebaseReason = s; return nil }},
	{field: "TrustedProxies", flag: "trusted-proxies", env: "KEYWARD_TRUSTED_PROXIES", typ: "cidrs",
		usage: "comma-separated CIDRs whose X-Forwarded-For is believed",
		def:   func(server.Config) string { return "" },
		set:   func(c *server.Config, s string) (err error) { c.TrustedProxies, err = parseProxies(s); return err }},
	{field: "GatewayKeyLabels", flag: "gateway-key-labels", env: "KEYWARD_GATEWAY_KEY_LABELS", typ: "bool",
		usage: "label gateway request metrics by key ID too",
		def:   func(server.Config) string { return "false" },
		set:   func(c *server.Config, s string) (err error) { c.GatewayKeyLabels, err = parseBool(s); return err }},
	{field: "GatewayMaxBody", flag: "gateway-max-body", env: "KEYWARD_GATEWAY_MAX_BODY", typ: "bytes",
		usage: "largest request body the gateway accepts, in bytes",
		def:   func(d server.Config) string { return strconv.Itoa(d.GatewayMaxBody) },
		set:   func(c *server.Config, s string) (err error) { c.GatewayMaxBody, err = parseBytes(s); return err }},
	{field: "GatewayTimeout", flag: "gateway-timeout", env: "KEYWARD_GATEWAY_TIMEOUT", typ: "duration",
		usage: "limit on one upstream exchange, streams included",
		def:   func(d server.Config) string { return d.GatewayTimeout.String() },
		set:   func(c *server.Config, s string) (err error) { c.GatewayTimeout, err = parseDuration(s); return err }},
	{field: "GatewayGoroutines", flag: "gateway-goroutines", env: "KEYWARD_GATEWAY_GOROUTINES", typ: "bool",
		usage: "serve plain-HTTP gateway connections on goroutines, not the event loop (Linux)",
		def:   func(server.Config) string { return "false" },
		set:   func(c *server.Config, s string) (err error) { c.GatewayGoroutines, err = parseBool(s); return err }},
	{field: "RotationCheckInterval", flag: "rotation-check-interval", env: "KEYWARD_ROTATION_CHECK_INTERVAL", typ: "duration",
		usage: "how often the scheduler looks for due rotations and deadlines to announce",
		def:   func(d server.Config) string { return d.RotationCheckInterval.String() },
		set: func(c *server.Config, s string) (err error) {
			c.RotationCheckInterval, err = parseDuration(s)
			return err
		}},
	{field: "TLS.Cert", flag: "tls-cert", env: "KEYWARD_TLS_CERT", typ: "path",
		usage: "PEM certificate (chain) both listeners serve TLS with; reloaded when it changes",
		def:   func(server.Config) string { return "" },
		set:   func(c *server.Config, s string) error { c.TLS.Cert = s; return nil }},
	{field: "TLS.Key", flag: "tls-key", env: "KEYWARD_TLS_KEY", typ: "path",
		usage: "PEM private key of --tls-cert",
		def:   func(server.Config) string { return "" },
		set:   func(c *server.Config, s string) error { c.TLS.Key = s; return nil }},
	{field: "TLS.AdminCert", flag: "admin-tls-cert", env: "KEYWARD_ADMIN_TLS_CERT", typ: "path",
		usage: "admin listener's own certificate (overrides --tls-cert)",
		def:   func(server.Config) string { return "" },
		set:   func(c *server.Config, s string) error { c.TLS.AdminCert = s; return nil }},
	{field: "TLS.AdminKey", flag: "admin-tls-key", env: "KEYWARD_ADMIN_TLS_KEY", typ: "path",
		usage: "private key of --admin-tls-cert",
		def:   func(server.Config) string { return "" },
		set:   func(c *server.Config, s string) error { c.TLS.AdminKey = s; return nil }},
	{field: "TLS.GatewayCert", flag: "gateway-tls-cert", env: "KEYWARD_GATEWAY_TLS_CERT", typ: "path",
		usage: "gateway listener's own certificate (overrides --tls-cert)",
		def:   func(server.Config) string { return "" },
		set:   func(c *server.Config, s string) error { c.TLS.GatewayCert = s; return nil }},
	{field: "TLS.GatewayKey", flag: "gateway-tls-key", env: "KEYWARD_GATEWAY_TLS_KEY", typ: "path",
		usage: "private key of --gateway-tls-cert",
		def:   func(server.Config) string { return "" },
		set:   func(c *server.Config, s string) error { c.TLS.GatewayKey = s; return nil }},
	{field: "TLS.ClientCA", flag: "tls-client-ca", env: "KEYWARD_TLS_CLIENT_CA", typ: "path",
		usage: "require admin clients to present a certificate signed by a CA in this PEM file (mutual TLS)",
		def:   func(server.Config) string { return "" },
		set:   func(c *server.Config, s string) error { c.TLS.ClientCA = s; return nil }},
	{field: "TLS.ClientPrincipals", flag: "tls-client-principals", env: "KEYWARD_TLS_CLIENT_PRINCIPALS", typ: "rules",
		usage: "bind admin tokens to client certificates: ';'-separated KIND:VALUE=PRINCIPAL rules, KIND cn, subject, dns, uri or email",
		def:   func(server.Config) string { return "" },
		set:   func(c *server.Config, s string) error { c.TLS.ClientPrincipals = splitRules(s); return nil }},
	{field: "TLS.AllowPlaintext", flag: "allow-plaintext", env: "KEYWARD_ALLOW_PLAINTEXT", typ: "bool",
		usage: "let a listener on a non-loopback address serve plain HTTP (a TLS-terminating proxy in front)",
		def:   func(server.Config) string { return "false" },
		set:   func(c *server.Config, s string) (err error) { c.TLS.AllowPlaintext, err = parseBool(s); return err }},
	{field: "TLS.CAFile", flag: "ca-file", env: "KEYWARD_CA_FILE", typ: "path",
		usage: "PEM CA certificates trusted besides the system's when the server dials webhooks, rotators and HTTPS upstreams",
		def:   func(server.Config) string { return "" },
		set:   func(c *server.Config, s string) error { c.TLS.CAFile = s; return nil }},
	{field: "TLS.ReloadInterval", flag: "tls-reload-interval", env: "KEYWARD_TLS_RELOAD_INTERVAL", typ: "duration",
		usage: "how often certificate files are checked for change (SIGHUP reloads at once)",
		def:   func(d server.Config) string { return d.TLS.ReloadInterval.String() },
		set:   func(c *server.Config, s string) (err error) { c.TLS.ReloadInterval, err = parseDuration(s); return err }},
	{field: "Retention", flag: "retention", env: "KEYWARD_RETENTION", typ: "duration",
		usage: "keep delivered and failed webhook deliveries and given notices this long, then prune them (1h to 3650d)",
		def:   func(d server.Config) string { return keyward.Duration(d.Retention).String() },
		set:   func(c *server.Config, s string) (err error) { c.Retention, err = parseDuration(s); return err }},
	{field: "LogFormat", flag: "log-format", env: "KEYWARD_LOG_FORMAT", typ: "string", usage: "text or json",
		def: func(d server.Config) string { return d.LogFormat },
		set: func(c *server.Config, s string) error { c.LogFormat = s; return nil }},
	{field: "LogLevel", flag: "log-level", env: "KEYWARD_LOG_LEVEL", typ: "string", usage: "debug, info, warn or error",
		def: func(d server.Config) string { return d.LogLevel },
		set: func(c *server.Config, s string) error { c.LogLevel = s; return nil }},
}

// textFlag holds a flag's text as given: parsing it is loadServerConfig's
// job, so that a flag and its environment variable are read by the same code
// and their errors read alike.
type textFlag struct {
	text string
	typ  string
}

func (f *textFlag) String() string     { return f.text }
func (f *textFlag) Set(s string) error { f.text = s; return nil }
func (f *textFlag) Type() string       { return f.typ }

// addServerFlags adds a flag for every server setting to fs.
func addServerFlags(fs *pflag.FlagSet) {
	d := server.Config{}.Defaults()
	for _, s := range serverSettings {
		f := fs.VarPF(&textFlag{text: s.def(d), typ: s.typ}, s.flag, "", s.usage+" ("+s.env+")")
		if s.typ == "bool" {
			f.NoOptDefVal = "true" // --audit-stdout alone turns it on
		}
	}
}

// source is where a setting's text came from, as the user wrote it: a flag
// (or its default) or an environment variable.
type source struct {
	name   string // "--gateway-timeout" or "KEYWARD_GATEWAY_TIMEOUT"
	text   string
	secret bool
}

// String names the setting with its value, the way the user would have
// typed it, unless the value is secret.
func (s source) String() string {
	switch {
	case s.secret:
		return s.name
	case strings.HasPrefix(s.name, "--"):
		return fmt.Sprintf("%s %q", s.name, s.text)
	default:
		return fmt.Sprintf("%s=%q", s.name, s.text)
	}
}

// loadServerConfig reads every server setting: the flag when given, else
// its environment variable when set and not empty, else the default. A
// value that does not parse or that server.Config.Validate refuses is an
// error naming the flag or the variable it came from. named does the same
// for the errors of server.Open, which finds a bad keyring URL, say.
func loadServerConfig(fs *pflag.FlagSet, lookupEnv func(string) (string, bool)) (cfg server.Config, named func(error) error, err error) {
	from := make(map[string]source, len(serverSettings))
	named = func(err error) error {
		return nameSetting(err, func(field string) (source, bool) { s, ok := from[field]; return s, ok })
	}
	for _, s := range serverSettings {
		f := fs.Lookup(s.flag)
		src := source{name: "--" + s.flag, text: f.Value.String(), secret: s.secret}
		if !f.Changed {
			if v, ok := lookupEnv(s.env); ok && v != "" {
				src.name, src.text = s.env, v
			}
		}
		if err := s.set(&cfg, src.text); err != nil {
			return cfg, named, fmt.Errorf("%s: %w", src, err)
		}
		from[s.field] = src
	}
	if d := from["DatabaseURL"]; d.name == "--database-url" && databaseURLCarriesPassword(d.text) {
		return cfg, named, errors.New("--database-url: this URL carries a password, which must not be on the command line (ps, shell history): set KEYWARD_DATABASE_URL, PGPASSWORD or --database-url-file instead")
	}
	if r := from["RedisURL"]; r.name == "--redis-url" && urlCarriesSecret(r.text) {
		return cfg, named, errors.New("--redis-url: this URL carries a password, which must not be on the command line (ps, shell history): set KEYWARD_REDIS_URL or --redis-url-file instead")
	}
	if k := from["KeyringURL"]; k.name == "--keyring" && urlCarriesSecret(k.text) {
		return cfg, named, errors.New("--keyring: this URL carries a key or credentials, which must not be on the command line (ps, shell history): set KEYWARD_KEYRING instead")
	}
	return cfg, named, named(cfg.Validate())
}

// nameSetting rewrites a *server.SettingError to name the setting as the
// user gave it; other errors are returned as they are.
func nameSetting(err error, lookup func(field string) (source, bool)) error {
	var se *server.SettingError
	if !errors.As(err, &se) {
		return err // nil included
	}
	src, ok := lookup(se.Field)
	if !ok {
		return err
	}
	return fmt.Errorf("%s: %s", src, se.Reason)
}

// urlFromFile is the setter of a --*-url-file setting: it reads the URL
// (which may hold a password, so it is kept off argv) from the file named.
func urlFromFile(what string, set func(c *server.Config, url string)) func(*server.Config, string) error {
	return func(c *server.Config, name string) error {
		if name == "" {
			return nil
		}
		b, err := os.ReadFile(name)
		if err != nil {
			return fmt.Errorf("reading the %s URL: %w", what, err)
		}
		set(c, strings.TrimSpace(string(b)))
		return nil
	}
}

// databaseURLCarriesPassword reports whether a PostgreSQL URL or
// connection string holds a password (or cannot be read well enough to
// tell).
func databaseURLCarriesPassword(raw string) bool {
	if strings.HasPrefix(raw, "postgres://") || strings.HasPrefix(raw, "postgresql://") {
		u, err := url.Parse(raw)
		if err != nil {
			return true
		}
		_, has := u.User.Password()
		return has || u.Query().Has("password")
	}
	return strings.Contains(raw, "password")
}

// urlCarriesSecret reports whether a keyring URL holds key material or
// credentials: base64key:// URLs are the key itself, userinfo is a password.
func urlCarriesSecret(raw string) bool {
	u, err := url.Parse(raw)
	return err != nil || u.User != nil || strings.EqualFold(u.Scheme, "base64key")
}

// namedByFlags is nameSetting for a command with flags of its own named as
// the server's (quickstart's --admin-addr, say).
func namedByFlags(err error, fs *pflag.FlagSet) error {
	return nameSetting(err, func(field string) (source, bool) {
		for _, s := range serverSettings {
			if f := fs.Lookup(s.flag); s.field == field && f != nil {
				return source{name: "--" + s.flag, text: f.Value.String(), secret: s.secret}, true
			}
		}
		return source{}, false
	})
}

func parseBool(s string) (bool, error) {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, errors.New("not true or false")
	}
	return b, nil
}

// parseDuration reads durations as everything else in keyward does
// (keyward.ParseDuration: "30s", "5m", "1d", "1d12h").
func parseDuration(s string) (time.Duration, error) {
	d, err := keyward.ParseDuration(s)
	if err != nil {
		return 0, errors.New("not a duration such as 30s, 5m, 1h or 1d")
	}
	return time.Duration(d), nil
}

func parseBytes(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errors.New("not a whole number of bytes")
	}
	return n, nil
}

func parseProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := clientip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8", part)
		}
		out = append(out, p)
	}
	return out, nil
}

// splitRules splits ";"-separated rules, dropping empty ones: subjects hold
// commas, so the list separator cannot be one.
func splitRules(s string) []string {
	var out []string
	for _, r := range strings.Split(s, ";") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

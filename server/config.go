// Package server wires keyward's concrete parts together: the SQLite store,
// the keyring, the pepper, the audit signer and sinks, the core service, the
// HTTP admin API and the metrics. It is the composition root that
// cmd/keyward (and end-to-end tests of other adapters) start.
package server

import (
	"context"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/keyward/keyward"
)

// Config is every setting of a keyward server. Each has a flag and a
// KEYWARD_* environment variable in cmd/keyward.
type Config struct {
	DataDir     string // KEYWARD_DATA_DIR; database, keys and bootstrap token live here
	AdminAddr   string // KEYWARD_ADMIN_ADDR; host:port of the admin API (port 0: any)
	GatewayAddr string // KEYWARD_GATEWAY_ADDR; host:port of the gateway (data plane)
	KeyringURL  string // KEYWARD_KEYRING; default file://<data-dir>/master.key
	// DatabaseURL, when set, makes the node one of a cluster on that
	// PostgreSQL database; otherwise the store is SQLite in DataDir.
	DatabaseURL string // KEYWARD_DATABASE_URL
	// DatabaseURLFile holds the URL instead (only the settings read it).
	DatabaseURLFile string // KEYWARD_DATABASE_URL_FILE
	// RedisURL, when set, makes the plans' limits shared by every node
	// through that Redis (redis://, or rediss:// for TLS); otherwise each
	// node limits on its own.
	RedisURL string // KEYWARD_REDIS_URL
	// RedisURLFile holds the URL instead (only the settings read it).
	RedisURLFile string // KEYWARD_REDIS_URL_FILE
	// RedisCAFile verifies a rediss:// Redis (default: the system roots).
	RedisCAFile string // KEYWARD_REDIS_CA_FILE
	// LimitsUnavailable is what the gateway does while Redis cannot be
	// reached: "closed" refuses requests that have limits (503), "open"
	// enforces each limit divided by the nodes last seen alive.
	LimitsUnavailable string // KEYWARD_LIMITS_UNAVAILABLE
	AuditFile         string // KEYWARD_AUDIT_FILE; optional JSONL copy of the audit trail
	AuditStdout       bool   // KEYWARD_AUDIT_STDOUT; copy audit records to stdout
	// CheckpointInterval is how often the audit log's head is signed.
	CheckpointInterval time.Duration // KEYWARD_AUDIT_CHECKPOINT_INTERVAL
	// CheckpointEvery signs the head after that many records too.
	CheckpointEvery int64 // KEYWARD_AUDIT_CHECKPOINT_EVERY
	// AuditRebaseReason, when set, re-bases the audit log's witness on the
	// database at start (after a deliberate restore), recording why.
	AuditRebaseReason string         // KEYWARD_AUDIT_REBASE
	TrustedProxies    []netip.Prefix // KEYWARD_TRUSTED_PROXIES
	// GatewayKeyLabels adds a per-key-ID request counter to the metrics.
	GatewayKeyLabels bool // KEYWARD_GATEWAY_KEY_LABELS
	// GatewayMaxBody is the largest request body the gateway accepts.
	GatewayMaxBody int // KEYWARD_GATEWAY_MAX_BODY (bytes)
	// GatewayTimeout bounds one upstream exchange, streams included.
	GatewayTimeout time.Duration // KEYWARD_GATEWAY_TIMEOUT
	// GatewayGoroutines serves every plain-HTTP gateway connection on a
	// goroutine of its own, as TLS ones are, instead of the event loop.
	GatewayGoroutines bool // KEYWARD_GATEWAY_GOROUTINES
	// RotationCheckInterval is how often the scheduler looks for due
	// rotations, deadlines to announce and PREVIOUS values past their grace.
	RotationCheckInterval time.Duration // KEYWARD_ROTATION_CHECK_INTERVAL
	// AfterRotationStep is a test hook called after each rotation step
	// commits (the crash tests stop the process there). No flag.
	AfterRotationStep func(ctx context.Context, r *keyward.Rotation)
	// Retention is how long delivered and failed webhook deliveries and
	// given notices are kept; older ones are pruned hourly.
	Retention time.Duration // KEYWARD_RETENTION
	TLS       TLSConfig
	LogFormat string // KEYWARD_LOG_FORMAT: text or json
	LogLevel  string // KEYWARD_LOG_LEVEL: debug, info, warn, error
}

// Defaults fills unset (zero) fields with the embedded defaults. A value
// out of range, such as a negative interval, is kept for Validate to
// refuse: silently replacing it would run a server on settings nobody chose.
func (c Config) Defaults() Config {
	if c.DataDir == "" {
		c.DataDir = "./keyward-data"
	}
	if c.AdminAddr == "" {
		c.AdminAddr = "127.0.0.1:7070"
	}
	if c.GatewayAddr == "" {
		c.GatewayAddr = "127.0.0.1:8080"
	}
	if c.CheckpointEvery == 0 {
		c.CheckpointEvery = 1000
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = time.Minute
	}
	if c.GatewayMaxBody == 0 {
		c.GatewayMaxBody = 8 << 20
	}
	if c.GatewayTimeout == 0 {
		c.GatewayTimeout = 10 * time.Minute
	}
	if c.RotationCheckInterval == 0 {
		c.RotationCheckInterval = 30 * time.Second
	}
	if c.Retention == 0 {
		c.Retention = 30 * 24 * time.Hour
	}
	if c.TLS.ReloadInterval == 0 {
		c.TLS.ReloadInterval = 5 * time.Second
	}
	if c.LimitsUnavailable == "" {
		c.LimitsUnavailable = "closed"
	}
	if c.LogFormat == "" {
		c.LogFormat = "text"
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	return c
}

func (c Config) path(name string) string { return filepath.Join(c.DataDir, name) }

// Files in the data directory.
const (
	DatabaseFile       = "keyward.db"
	MasterKeyFile      = "master.key"
	PepperFile         = "pepper.key"
	AuditSigningFile   = "audit-signing.key"
	AuditPublicKeyFile = "audit-signing.pub" // hex Ed25519 public key, 0644
	AuditTailKeyFile   = "audit-tail.key"    // tags records until a checkpoint covers them, 0600
	AuditWitnessFile   = "audit-witness"     // the latest checkpoint, outside the database, 0644
	BootstrapTokenFile = "bootstrap-token"
)

// TLSConfig is how the listeners speak TLS. A listener serves TLS when it
// has a certificate: its own (Admin*, Gateway*) or the shared one.
type TLSConfig struct {
	Cert, Key               string // KEYWARD_TLS_CERT, KEYWARD_TLS_KEY: both listeners
	AdminCert, AdminKey     string // KEYWARD_ADMIN_TLS_CERT, KEYWARD_ADMIN_TLS_KEY
	GatewayCert, GatewayKey string // KEYWARD_GATEWAY_TLS_CERT, KEYWARD_GATEWAY_TLS_KEY
	// ClientCA requires a client certificate signed by it on the admin
	// listener (mutual TLS), besides the admin token.
	ClientCA string // KEYWARD_TLS_CLIENT_CA
	// ClientPrincipals bind client certificates to principals
	// (tlsconfig.PrincipalMap rules): a token is then accepted only with a
	// certificate bound to its principal.
	ClientPrincipals []string // KEYWARD_TLS_CLIENT_PRINCIPALS, ";"-separated
	// AllowPlaintext lets a listener on a non-loopback address serve plain
	// HTTP (behind a TLS-terminating proxy, say).
	AllowPlaintext bool // KEYWARD_ALLOW_PLAINTEXT
	// CAFile holds CA certificates trusted, besides the system's, when the
	// server dials out: webhooks, rotators and HTTPS upstreams.
	CAFile string // KEYWARD_CA_FILE
	// ReloadInterval is how often certificate files are checked for change.
	ReloadInterval time.Duration // KEYWARD_TLS_RELOAD_INTERVAL
}

// admin returns the admin listener's certificate files ("" for none).
func (t TLSConfig) admin() (cert, key string) {
	if t.AdminCert != "" || t.AdminKey != "" {
		return t.AdminCert, t.AdminKey
	}
	return t.Cert, t.Key
}

// gateway returns the gateway listener's certificate files.
func (t TLSConfig) gateway() (cert, key string) {
	if t.GatewayCert != "" || t.GatewayKey != "" {
		return t.GatewayCert, t.GatewayKey
	}
	return t.Cert, t.Key
}

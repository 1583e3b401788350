package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/keyward/keyward/limit/redislimit"
	"github.com/redis/go-redis/v9"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"sync"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
	"github.com/keyward/keyward/changefeed"
	"github.com/keyward/keyward/core"
	"github.com/keyward/keyward/envelope"
	"github.com/keyward/keyward/gateway"
	"github.com/keyward/keyward/httpapi"
	"github.com/keyward/keyward/keyring"
	"github.com/keyward/keyward/keyvalue"
	"github.com/keyward/keyward/policy"
	"github.com/keyward/keyward/postgres"
	"github.com/keyward/keyward/prom"
	"github.com/keyward/keyward/sqlite"
	"github.com/keyward/keyward/tlsconfig"
	"github.com/keyward/keyward/webhook"
)

// Server is a running keyward: open it, Run it, Close it.
type Server struct {
	cfg     Config
	log     *slog.Logger
	store   keyward.Store // *sqlite.DB, or *postgres.DB on a cluster
	cluster *postgres.DB  // the store, on a cluster; nil on a single node
	// On a cluster: the change feed across nodes, and who does the
	// background work.
	feed       *postgres.Feed
	leadership *postgres.Leadership
	keyring    keyring.Keyring
	service    *core.Services
	sinks      []io.Closer
	admin      *http.Server
	adminLn    net.Listener
	gateway    *gateway.Gateway
	gwLn       net.Listener

	adminTLS, gatewayTLS *listenerTLS            // nil: plain HTTP
	clientPrincipals     *tlsconfig.PrincipalMap // binds admin client certificates to principals
	dialTLS              *tls.Config             // what the server dials out with

	dispatcher *webhook.Dispatcher
	workers    sync.WaitGroup // scheduler and dispatcher loops

	// With Redis: the limiter every node shares, and its client.
	limiter *redislimit.Limiter
	redis   *redis.Client

	// BootstrapTokenPath is set when this start created the bootstrap admin.
	BootstrapTokenPath string
}

// Open prepares a server: it creates the data directory, the master key, the
// pepper and the audit signing key on first start (all 0600), opens and
// migrates the database, installs the built-in roles, writes the bootstrap
// admin token when the store has no principal yet, and binds the admin
// listener. Nothing is served until Run.
func Open(ctx context.Context, cfg Config, logOut io.Writer) (_ *Server, err error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: newLogger(cfg, logOut)}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	// Certificates first: a bad one stops the start before anything is
	// created.
	if err := s.openTLS(cfg.TLS); err != nil {
		return nil, err
	}
	if s.keyring, err = openKeyring(ctx, cfg); err != nil {
		return nil, err
	}
	km, err := s.openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	hasher, err := keyvalue.NewHasher(km.pepper)
	if err != nil {
		return nil, err
	}
	signer := audit.NewSigner(ed25519.NewKeyFromSeed(km.signingSeed))
	if err := writePublicKey(cfg.path(AuditPublicKeyFile), signer.PublicKey()); err != nil {
		return nil, err
	}
	tailKey := audit.NewTailKey(km.tailKey)
	sinks, err := s.openSinks(cfg)
	if err != nil {
		return nil, err
	}
	var changes keyward.ChangeFeed = &changefeed.Local{}
	if s.cluster != nil {
		// Listening before anything is loaded: a change another node
		// commits from here on arrives as a notice.
		s.feed = s.cluster.Feed(s.log)
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := s.feed.WaitListening(wctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("change feed: not listening after 30 s: %w", err)
		}
		changes = s.feed
		s.leadership = s.cluster.Leadership(s.log, 2*time.Second)
	}
	outbound := webhook.NewClient(30*time.Second, s.dialTLS)
	metrics := prom.New()
	rotationMetrics := metrics.NewRotationMetrics(s.deadlines, time.Now)
	s.service = core.New(core.Config{
		Store: s.store, Hasher: hasher, Sealer: envelope.NewSealer(s.keyring),
		Authorizer: policy.Evaluator{}, AuditLog: audit.NewLog(signer, tailKey), Sinks: sinks, Logger: s.log,
		Witness: audit.NewWitness(cfg.path(AuditWitnessFile)), CheckpointEvery: cfg.CheckpointEvery,
		Changes: changes, WebhookClient: outbound,
		Hooks: core.Hooks{
			AfterStep: cfg.AfterRotationStep,
			OnRotation: func(r *keyward.Rotation) {
				rotationMetrics.Rotation(string(r.Kind), string(r.State), r.Trigger)
			},
			Notified: func() { s.dispatcher.Kick() },
		},
	})
	// The dispatcher writes its delivery attempts through the core, like
	// every other write.
	s.dispatcher, err = webhook.NewDispatcher(webhook.Config{
		Store: s.service.Webhooks.DeliveryStore(), Logger: s.log, OnAttempt: rotationMetrics.WebhookAttempt,
		Client: outbound,
		Secret: s.service.Webhooks.WebhookSecret,
	})
	if err != nil {
		return nil, err
	}
	if s.cluster != nil {
		metrics.RegisterCluster(func() prom.ClusterState {
			return prom.ClusterState{FeedListening: s.feed.Listening(), FeedResyncs: s.feed.Resyncs(),
				Leader: s.leadership.Leading(), LeaderTerms: s.leadership.Changes()}
		})
	}
	metrics.RegisterAudit(func() prom.AuditState { return prom.AuditState(s.service.Audit.State()) }, time.Now)
	// The audit log is checked against its witness before anything else
	// is written; a mismatch raises the alarm (admin changes refused, the
	// gateway serving), it does not stop the server.
	if err := s.joinCluster(ctx, cfg); err != nil {
		return nil, err
	}
	if err := s.service.Audit.OpenAudit(ctx); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	if cfg.AuditRebaseReason != "" {
		if err := s.rebaseAudit(ctx, cfg.AuditRebaseReason); err != nil {
			return nil, err
		}
	}
	if s.service.Audit.AuditAlarm() == "" {
		token, err := s.service.Access.Bootstrap(ctx, func(token string) error {
			return writeBootstrapToken(cfg.path(BootstrapTokenFile), token)
		})
		if err != nil {
			return nil, fmt.Errorf("bootstrap: %w", err)
		}
		if token != "" {
			s.BootstrapTokenPath = cfg.path(BootstrapTokenFile)
		}
		// Sign what the bootstrap wrote, so that from the first start on
		// the log has its witness outside the database.
		if err := s.service.Audit.Checkpoint(ctx); err != nil {
			return nil, fmt.Errorf("audit checkpoint: %w", err)
		}
	}
	limiter, err := s.openLimiter(ctx, cfg, metrics)
	if err != nil {
		return nil, err
	}
	s.gateway, err = gateway.New(ctx, gateway.Config{
		Source: s.service.DataPlane, Changes: changes, Hasher: hasher, Logger: s.log,
		Metrics:        metrics.NewGatewayMetrics(cfg.GatewayKeyLabels),
		TrustedProxies: cfg.TrustedProxies, MaxBodyBytes: cfg.GatewayMaxBody, Timeout: cfg.GatewayTimeout, NoEventLoop: cfg.GatewayGoroutines,
		UpstreamRootCAs: s.dialTLS.RootCAs, Limiter: limiter,
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	s.admin = &http.Server{
		Handler: httpapi.NewHandler(httpapi.Services{
			Keys: s.service.Keys, Importer: s.service.Keys, APIs: s.service.APIs, Plans: s.service.Plans, Secrets: s.service.Secrets,
			Principals: s.service.Access, Policies: s.service.Access, Audit: s.service.Audit,
			Usage: s.service.Usage, Rotations: s.service.Rotations, Webhooks: s.service.Webhooks,
			Auth: s.service.Access, AuthFailures: s.service.Access,
		}, httpapi.Options{
			Logger: s.log, Metrics: metrics, MetricsHandler: metrics.Handler(),
			TrustedProxies: cfg.TrustedProxies, Ready: s.ready, Node: s.nodeState,
			ClientPrincipals: s.certPrincipals(),
			ClientCert:       s.clientCertCheck(),
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if s.adminLn, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	if s.gwLn, err = net.Listen("tcp", cfg.GatewayAddr); err != nil {
		return nil, fmt.Errorf("gateway listener: %w", err)
	}
	if s.adminTLS != nil {
		s.admin.TLSConfig = s.adminTLS.server.Config()
	}
	return s, nil
}

// rebaseAudit makes the database's audit log the trusted one again (see
// core.Audit.Rebase): the operator restored it deliberately and says why.
func (s *Server) rebaseAudit(ctx context.Context, reason string) error {
	operator := "unknown"
	if u, err := user.Current(); err == nil {
		operator = u.Username
	}
	res, err := s.service.Audit.Rebase(ctx, operator, reason)
	if err != nil {
		return fmt.Errorf("audit rebase refused: %w", err)
	}
	args := []any{"records", res.Records, "newWitnessSize", res.Base.Size, "newWitnessRoot", res.Base.Root, "operator", operator}
	if res.Previous != nil {
		args = append(args, "previousWitnessSize", res.Previous.Size, "previousWitnessRoot", res.Previous.Root)
	}
	s.log.Warn("audit log re-based on the database: the witness now follows it", args...)
	return nil
}

func openKeyring(ctx context.Context, cfg Config) (keyring.Keyring, error) {
	if cfg.KeyringURL == "" || cfg.KeyringURL == "file://"+cfg.path(MasterKeyFile) {
		kr, err := keyring.OpenFile(cfg.path(MasterKeyFile), true)
		if err != nil {
			return nil, fmt.Errorf("master key: %w", err)
		}
		return kr, nil
	}
	kr, err := keyring.Open(ctx, cfg.KeyringURL)
	if errors.Is(err, keyring.ErrBadURL) {
		// The URL itself is wrong (an unknown scheme, say): a setting to fix.
		return nil, &SettingError{Field: "KeyringURL", Reason: err.Error(), Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if err := probeKeyring(ctx, kr); err != nil {
		kr.Close()
		// The reason names no URL or key: the cause (Err) is kept for
		// errors.Is, not printed.
		return nil, &SettingError{Field: "KeyringURL", Reason: "the keyring does not wrap and unwrap a test key (unreachable, or no access)", Err: err}
	}
	return kr, nil
}

// probeKeyring wraps and unwraps a throwaway key, so that a keyring that
// cannot serve stops the server at start rather than failing the first
// secret write with an internal error.
func probeKeyring(ctx context.Context, kr keyring.Keyring) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	dek := make([]byte, 32)
	if _, err := rand.Read(dek); err != nil {
		return err
	}
	wrapped, err := kr.Wrap(ctx, dek)
	if err != nil {
		return err
	}
	back, err := kr.Unwrap(ctx, wrapped)
	if err != nil {
		return err
	}
	if !bytes.Equal(back, dek) {
		return errors.New("unwrap returned another key")
	}
	return nil
}

func (s *Server) openSinks(cfg Config) ([]audit.Sink, error) {
	var sinks []audit.Sink
	if cfg.AuditFile != "" {
		f, err := audit.OpenJSONLSink(cfg.AuditFile, false)
		if err != nil {
			return nil, &SettingError{Field: "AuditFile", Reason: err.Error(), Err: err}
		}
		s.sinks = append(s.sinks, f)
		sinks = append(sinks, f)
	}
	if cfg.AuditStdout {
		sinks = append(sinks, audit.NewWriterSink(os.Stdout))
	}
	return sinks, nil
}

// writeBootstrapToken writes the first admin token to a file only its owner
// can read. It is called only when the store has no principal at all, so a
// file already there is left from an earlier, wiped database and is
// replaced; the new one appears whole (temp file, fsync, rename).
func writeBootstrapToken(path, token string) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("bootstrap token file: %w", err)
	}
	_, err = f.WriteString(token + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("bootstrap token file: %w", err)
	}
	return nil
}

// writePublicKey keeps <data-dir>/audit-signing.pub in step with the signing
// key: the key an auditor pins to verify an exported trail offline
// (keyward audit verify --file F --public-key-file audit-signing.pub). It is
// public, so 0644.
func writePublicKey(path string, pub ed25519.PublicKey) error {
	want := hex.EncodeToString(pub) + "\n"
	if have, err := os.ReadFile(path); err == nil && string(have) == want {
		return nil
	}
	if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
		return fmt.Errorf("audit public key: %w", err)
	}
	return nil
}

// deadlines adapts the scheduler's key deadlines to the metrics.
func (s *Server) deadlines() []prom.KeyDeadline {
	if s.service == nil {
		return nil
	}
	ds := s.service.Rotations.Deadlines()
	out := make([]prom.KeyDeadline, len(ds))
	for i, d := range ds {
		out[i] = prom.KeyDeadline(d)
	}
	return out
}

// AdminURL is the base URL of the admin API, e.g. http://127.0.0.1:7070.
func (s *Server) AdminURL() string { return s.adminTLS.scheme() + s.adminLn.Addr().String() }

// GatewayURL is the base URL of the gateway listener.
func (s *Server) GatewayURL() string { return s.gatewayTLS.scheme() + s.gwLn.Addr().String() }

// Gateway is the data plane, for tests that need to wait on it.
func (s *Server) Gateway() *gateway.Gateway { return s.gateway }

// Service is the core service, for in-process callers such as quickstart.
func (s *Server) Service() *core.Services { return s.service }

// Logger is the server's logger.
func (s *Server) Logger() *slog.Logger { return s.log }

// Run serves until ctx is cancelled, then shuts down gracefully: in-flight
// requests finish (up to 10 s), the audit head is checkpointed, the store is
// closed by Close.
func (s *Server) Run(ctx context.Context) error {
	// Interrupted rotations are resumed or rolled back before any admin
	// call can start a new one; on a cluster, by its leader.
	if s.leadership == nil {
		if err := s.service.Rotations.ResumeRotations(ctx); err != nil {
			s.log.Error("resuming rotations", "err", err)
		}
	}
	s.workers.Add(1)
	go func() { defer s.workers.Done(); s.service.Rotations.RunHeartbeat(ctx, core.HeartbeatEvery) }()
	errc := make(chan error, 2)
	go func() {
		if s.adminTLS != nil {
			// ServeTLS (not Serve on a TLS listener) sets up HTTP/2;
			// the certificate comes from TLSConfig, not from files here.
			errc <- s.admin.ServeTLS(s.adminLn, "", "")
			return
		}
		errc <- s.admin.Serve(s.adminLn)
	}()
	go func() { errc <- s.gateway.Serve(ctx, s.gatewayTLS.wrap(s.gwLn)) }()
	s.watchTLS(ctx)
	s.log.Info("keyward admin API listening", "addr", s.AdminURL())
	s.log.Info("keyward gateway listening", "addr", s.GatewayURL())
	go s.background(ctx)
	s.workers.Add(2)
	go func() { defer s.workers.Done(); s.service.Audit.VerifyInBackground(ctx) }()
	go func() {
		defer s.workers.Done()
		if s.leadership == nil {
			s.leaderWork(ctx)
			return
		}
		// On a cluster one node at a time does it: two schedulers would
		// start the same rotation twice. A new leader does not resume
		// every rotation IN_PROGRESS, as a restarted single node does:
		// another node may be running one. Its scheduler takes over those
		// whose node stopped touching them (sweepStale, at its first pass).
		s.leadership.Run(ctx, s.leaderWork)
	}()
	select {
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := errors.Join(s.admin.Shutdown(shutdownCtx), s.gateway.Shutdown(shutdownCtx))
	s.service.Stop() // background rotations: an interrupted one resumes on the next start
	s.workers.Wait()
	if cerr := s.service.Audit.Checkpoint(shutdownCtx); cerr != nil {
		s.log.Error("final audit checkpoint failed", "err", cerr)
	}
	s.log.Info("keyward stopped")
	return err
}

// leaderWork runs the work one node does for all: the audit checkpointer,
// the rotation scheduler and the webhook dispatcher, until ctx ends.
func (s *Server) leaderWork(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); s.service.Audit.RunCheckpointer(ctx, s.cfg.CheckpointInterval) }()
	go func() { defer wg.Done(); s.service.Rotations.RunScheduler(ctx, s.cfg.RotationCheckInterval) }()
	go func() { defer wg.Done(); s.dispatcher.Run(ctx) }()
	wg.Wait()
}

// walLimit is the WAL size past which the server checkpoints at once
// rather than at the next minute: a bulk import writes gigabytes of WAL a
// minute otherwise.
const walLimit = 64 << 20

// background purges deleted secrets and prunes history periodically, and
// checkpoints the database's WAL every minute, or sooner once it passes
// walLimit, so that it does not grow without bound.
func (s *Server) background(ctx context.Context) {
	purge := time.NewTicker(time.Hour)
	defer purge.Stop()
	wal := time.NewTicker(5 * time.Second)
	defer wal.Stop()
	lastCheckpoint := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wal.C:
			fi, err := os.Stat(s.cfg.path(DatabaseFile) + "-wal")
			if err != nil || (fi.Size() < walLimit && time.Since(lastCheckpoint) < time.Minute) {
				continue
			}
			if err := walCheckpoint(ctx, s.store); err != nil {
				if ctx.Err() == nil {
					s.log.Warn("database WAL checkpoint did not complete", "err", err)
				}
				continue
			}
			lastCheckpoint = time.Now()
		case <-purge.C:
			if d, n, err := s.service.Webhooks.PruneHistory(ctx, s.cfg.Retention); err != nil && ctx.Err() == nil {
				s.log.Error("pruning webhook history failed", "err", err)
			} else if d+n > 0 {
				s.log.Info("pruned webhook history", "deliveries", d, "notices", n)
			}
			if n, err := s.service.Secrets.PurgeDeletedSecrets(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("purging deleted secrets failed", "err", err)
			} else if n > 0 {
				s.log.Info("purged deleted secrets", "count", n)
			}
		}
	}
}

// Close releases everything Open acquired.
func (s *Server) Close() error {
	var errs []error
	if s.adminLn != nil {
		s.admin.Close()
	}
	if s.gwLn != nil {
		s.gwLn.Close()
	}
	if s.feed != nil {
		s.feed.Close()
	}
	errs = append(errs, s.closeLimiter())
	if s.store != nil {
		errs = append(errs, s.store.Close())
	}
	for _, c := range s.sinks {
		errs = append(errs, c.Close())
	}
	if s.keyring != nil {
		errs = append(errs, s.keyring.Close())
	}
	return errors.Join(errs...)
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	if w == nil {
		w = os.Stderr
	}
	level, err := parseLevel(cfg.LogLevel) // Validate refused anything else
	if err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

var _ keyward.Store = (*sqlite.DB)(nil)

// ready is /readyz: the store answers and the audit log is intact; on a
// cluster the change feed must listen too, or this node's gateway could
// miss another node's revocation until its next full reload.
func (s *Server) ready(ctx context.Context) error {
	if err := s.service.Ready(ctx); err != nil {
		return err
	}
	if s.feed != nil && !s.feed.Listening() {
		return errors.New("the change feed is not listening")
	}
	return nil
}

// nodeState describes the node for /readyz.
func (s *Server) nodeState() httpapi.NodeState {
	if s.cluster == nil {
		return httpapi.NodeState{Store: "sqlite", ChangeFeed: "local", Leader: true}
	}
	feed := "reconnecting"
	if s.feed.Listening() {
		feed = "listening"
	}
	return httpapi.NodeState{Store: "postgres", ChangeFeed: feed, Leader: s.Leading()}
}

// Leading reports whether this node does the background work: always on
// a single node; on a cluster, when it holds the leadership.
func (s *Server) Leading() bool { return s.leadership == nil || s.leadership.Leading() }

// Store is the server's store, for tests that inspect what was written.
func (s *Server) Store() keyward.Store { return s.store }

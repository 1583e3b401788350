// Package core is keyward's business logic: it validates input, authorizes
// every call against the caller's policies, runs the change in one store
// transaction together with its audit record, and encrypts what must be
// recoverable. It implements the domain's service interfaces; the HTTP admin
// API (and later the AWS-compatible endpoint and the Pulumi provider) are thin
// adapters over it.
package core

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"net/http"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
	"github.com/keyward/keyward/envelope"
	"github.com/keyward/keyward/keyvalue"
	"github.com/keyward/keyward/webhook"
)

// Sealer encrypts values under envelope encryption (package envelope).
type Sealer interface {
	Seal(ctx context.Context, b envelope.Binding, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, b envelope.Binding, sealed []byte) ([]byte, error)
}

// Config is what a Service is built from.
type Config struct {
	Store      keyward.Store
	Clock      keyward.Clock      // default keyward.SystemClock
	Hasher     *keyvalue.Hasher   // HMAC with the server pepper
	Sealer     Sealer             // envelope encryption under the keyring
	Authorizer keyward.Authorizer // policy evaluation
	Signer     *audit.Signer      // signs audit checkpoints
	Sinks      []audit.Sink       // copies of committed audit records (JSONL, stdout)
	Changes    keyward.ChangeFeed // told after each committed change; nil: nobody listens
	Logger     *slog.Logger
	Hooks      Hooks
	// WebhookClient calls rotator endpoints; default webhook.NewClient:
	// 30 s timeout, no redirects, no link-local destinations.
	WebhookClient *http.Client
}

// Service implements the domain's services over a Store.
type Service struct {
	store  keyward.Store
	clock  keyward.Clock
	hasher *keyvalue.Hasher
	sealer Sealer
	authz  keyward.Authorizer
	signer *audit.Signer
	sinks  *sinkQueue
	log    *slog.Logger

	changes keyward.ChangeFeed
	hooks   Hooks

	webhookClient *http.Client
	bg            background

	authFailures    failureFolder
	auth            authCache
	upstreamAudited versionSet
}

var (
	_ keyward.KeyService       = (*Service)(nil)
	_ keyward.APIService       = (*Service)(nil)
	_ keyward.PlanService      = (*Service)(nil)
	_ keyward.SecretService    = (*Service)(nil)
	_ keyward.PrincipalService = (*Service)(nil)
	_ keyward.PolicyService    = (*Service)(nil)
	_ keyward.AuditService     = (*Service)(nil)
	_ keyward.Authenticator    = (*Service)(nil)
	_ keyward.RotationService  = (*Service)(nil)
	_ keyward.WebhookService   = (*Service)(nil)
)

// New returns a Service. Store, Hasher, Sealer, Authorizer and Signer are
// required.
func New(c Config) *Service {
	if c.Clock == nil {
		c.Clock = keyward.SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.WebhookClient == nil {
		c.WebhookClient = webhook.NewClient(30 * time.Second)
	}
	return &Service{
		store: c.Store, clock: c.Clock, hasher: c.Hasher, sealer: c.Sealer,
		authz: c.Authorizer, signer: c.Signer, log: c.Logger,
		sinks:   &sinkQueue{sinks: c.Sinks, log: c.Logger.WarnContext},
		changes: c.Changes, hooks: c.Hooks, webhookClient: c.WebhookClient,
		bg: background{running: map[string]context.CancelFunc{}, keys: map[string]bool{}, kick: make(chan struct{}, 1)},
	}
}

// AuditPublicKey is the key that verifies the audit checkpoints.
func (s *Service) AuditPublicKey() ed25519.PublicKey { return s.signer.PublicKey() }

// Ready reports whether the store answers.
func (s *Service) Ready(ctx context.Context) error { return s.store.Ping(ctx) }

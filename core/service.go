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
	AuditLog   *audit.Log         // tags records, signs checkpoints
	Sinks      []audit.Sink       // copies of committed audit records (JSONL, stdout)
	// Witness keeps the latest checkpoint outside the store; nil: none
	// (tests). See OpenAudit.
	Witness *audit.Witness
	// CheckpointEvery is how many records may come between checkpoints
	// (default 1000); the server also checkpoints on a timer.
	CheckpointEvery int64
	Changes         keyward.ChangeFeed // told after each committed change; nil: nobody listens
	Logger          *slog.Logger
	Hooks           Hooks
	// WebhookClient calls rotator endpoints; default webhook.NewClient:
	// 30 s timeout, no redirects, no link-local destinations.
	WebhookClient *http.Client
}

// base is the plumbing every service shares: the store, the clock, the
// crypto, the authorizer, the audit trail's sinks, and the state that must
// be one per process (auth caches, background work). Each capability's
// service embeds the same *base.
type base struct {
	// store is what services may do with the store themselves: read. It
	// has no Update, so a write can only go through commit.go, the one
	// user of writer (a test holds every other file to that).
	store  reader
	writer keyward.Store
	// stopAccessFeed ends the subscription that flushes the auth cache on
	// access changes made elsewhere.
	stopAccessFeed func()
	clock          keyward.Clock
	hasher         *keyvalue.Hasher
	sealer         Sealer
	authz          keyward.Authorizer
	alog           *audit.Log
	signer         *audit.Signer
	sinks          *sinkQueue
	trail          trail // the audit log's state: witness, alarm, checkpoint pace
	log            *slog.Logger

	changes keyward.ChangeFeed
	hooks   Hooks

	webhookClient *http.Client
	bg            background

	authFailures    failureFolder
	auth            authCache
	upstreamAudited versionSet
}

// reader is the read side of keyward.Store.
type reader interface {
	View(ctx context.Context, fn func(ctx context.Context, tx keyward.Tx) error) error
	Ping(ctx context.Context) error
}

// One small service per capability, over the shared plumbing.
type (
	// Keys creates, reads, updates and deletes API keys.
	Keys struct{ *base }
	// APIs manages APIs and their stages.
	APIs struct{ *base }
	// Plans manages usage plans and which keys they apply to.
	Plans struct{ *base }
	// Secrets is the secrets store.
	Secrets struct{ *base }
	// Rotations rotates keys and secrets, on demand and on schedule.
	Rotations struct{ *base }
	// Webhooks manages the endpoints told of rotations and deadlines.
	Webhooks struct{ *base }
	// Access manages principals, their tokens and policies, and
	// authenticates admin tokens.
	Access struct{ *base }
	// Audit reads and verifies the audit trail.
	Audit struct{ *base }
	// Usage reads and records per-key usage.
	Usage struct{ *base }
	// DataPlane is what the gateway reads and reports through.
	DataPlane struct{ *base }
)

// Services are the capabilities a server wires to its adapters.
type Services struct {
	Keys      *Keys
	APIs      *APIs
	Plans     *Plans
	Secrets   *Secrets
	Rotations *Rotations
	Webhooks  *Webhooks
	Access    *Access
	Audit     *Audit
	Usage     *Usage
	DataPlane *DataPlane
	base      *base
}

var (
	_ keyward.KeyService       = (*Keys)(nil)
	_ keyward.APIService       = (*APIs)(nil)
	_ keyward.PlanService      = (*Plans)(nil)
	_ keyward.SecretService    = (*Secrets)(nil)
	_ keyward.PrincipalService = (*Access)(nil)
	_ keyward.PolicyService    = (*Access)(nil)
	_ keyward.Authenticator    = (*Access)(nil)
	_ keyward.AuditService     = (*Audit)(nil)
	_ keyward.RotationService  = (*Rotations)(nil)
	_ keyward.WebhookService   = (*Webhooks)(nil)
	_ keyward.UsageService     = (*Usage)(nil)
	_ keyward.DataPlaneSource  = (*DataPlane)(nil)
)

// New returns the services over one shared plumbing. Store, Hasher,
// Sealer, Authorizer and AuditLog are required.
func New(c Config) *Services {
	if c.Clock == nil {
		c.Clock = keyward.SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.WebhookClient == nil {
		c.WebhookClient = webhook.NewClient(30*time.Second, nil)
	}
	b := &base{
		store: c.Store, writer: c.Store, clock: c.Clock, hasher: c.Hasher, sealer: c.Sealer,
		authz: c.Authorizer, alog: c.AuditLog, signer: c.AuditLog.Signer(), log: c.Logger,
		sinks:   &sinkQueue{sinks: c.Sinks, log: c.Logger.WarnContext},
		changes: c.Changes, hooks: c.Hooks, webhookClient: c.WebhookClient,
		bg:    background{running: map[string]context.CancelFunc{}, keys: map[string]bool{}, kick: make(chan struct{}, 1), runner: newID("runner")},
		trail: trail{witness: c.Witness, every: c.CheckpointEvery, kick: make(chan struct{}, 1)},
	}
	if b.trail.every <= 0 {
		b.trail.every = 1000
	}
	if c.Changes != nil {
		// Access changed on another node: forget what is cached of it.
		changes, stop := c.Changes.Subscribe()
		b.stopAccessFeed = stop
		go func() {
			for ch := range changes {
				if ch.Kind == keyward.ChangeAccess {
					b.auth.flush()
				}
			}
		}()
	}
	return &Services{
		Keys: &Keys{b}, APIs: &APIs{b}, Plans: &Plans{b}, Secrets: &Secrets{b},
		Rotations: &Rotations{b}, Webhooks: &Webhooks{b}, Access: &Access{b},
		Audit: &Audit{b}, Usage: &Usage{b}, DataPlane: &DataPlane{b}, base: b,
	}
}

// AuditPublicKey is the key that verifies the audit checkpoints.
func (s *Audit) AuditPublicKey() ed25519.PublicKey { return s.signer.PublicKey() }

// Ready reports whether the store answers and the audit log is intact.
func (s *Services) Ready(ctx context.Context) error {
	if err := s.base.store.Ping(ctx); err != nil {
		return err
	}
	return s.base.trail.alarmError()
}

// Stop cancels background rotations and waits for them; a rotation cut off
// is resumed by ResumeRotations on the next start.
func (s *Services) Stop() {
	s.Rotations.Stop()
	if s.base.stopAccessFeed != nil {
		s.base.stopAccessFeed()
	}
}

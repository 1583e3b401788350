package keyward

import (
	"context"
	"encoding/json"
	"time"
)

// Store is the persistence port. It is deliberately dumb: rows in, rows out,
// inside transactions. Business rules (validation, authorization, audit,
// encryption) live in the core, so that every backend (SQLite and
// PostgreSQL) behaves the same and is held to it by one conformance
// suite (storetest).
type Store interface {
	// Update runs fn in a read-write transaction, committed when fn returns
	// nil and rolled back otherwise. Read-write transactions are
	// serialized, across every process sharing the store (SQLite: one
	// writer; PostgreSQL: one lock for the cluster): each sees everything
	// committed before it and nothing else commits meanwhile, which the
	// audit log's appends (head + 1) rely on. A backend may run fn again:
	// after a failure the database calls transient, or when it throws away
	// a pass that ran fn among other calls (one of them failed, or a write
	// it kept back did); only the last run commits and answers, and fn
	// must not keep effects of a run that did not.
	Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// View runs fn in a read-only transaction that sees one snapshot for
	// all its statements (the gateway's load and the audit verifier read
	// many rows and must not see half a write); it does not wait for
	// writers.
	View(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// Ping reports whether the store can serve requests (readiness).
	Ping(ctx context.Context) error
	Close() error
}

// Tx is what a transaction can do. Methods return *Error values with codes
// ENOTFOUND and ECONFLICT as documented; anything else is internal.
type Tx interface {
	KeyStore
	APIStore
	PlanStore
	SecretStore
	PrincipalStore
	PolicyStore
	AuditStore
	IdempotencyStore
	UsageStore
	RotationStore
	WebhookStore
}

// KeyStore keeps API keys and their credentials.
type KeyStore interface {
	InsertKey(ctx context.Context, k *APIKey) error // ECONFLICT on a duplicate ID
	// GetKey returns the key with its credentials (digests and sealed values
	// included) and PlanIDs. ENOTFOUND.
	GetKey(ctx context.Context, id string) (*APIKey, error)
	// ListKeys returns keys ordered by ID, with credentials and PlanIDs, and
	// the position of the next page ("" when none).
	ListKeys(ctx context.Context, f KeyFilter) ([]*APIKey, string, error)
	// UpdateKey stores k's mutable fields (everything but ID, CreatedAt,
	// credentials and plans; Rotation included). ENOTFOUND.
	UpdateKey(ctx context.Context, k *APIKey) error
	DeleteKey(ctx context.Context, id string) error // removes credentials and plan attachments too; ENOTFOUND
	// GetKeys returns the keys with these IDs that exist, as GetKey does,
	// in ID order; missing ones are left out.
	GetKeys(ctx context.Context, ids []string) ([]*APIKey, error)
	// EachScheduledKey calls fn with every key that has something for the
	// rotation scheduler, in ID order, as ListKeys gives them: an expiry, a
	// rotation policy, a credential with a grace period, or an attachment
	// to one of rotatingPlans. Keys with none of these are not read.
	EachScheduledKey(ctx context.Context, rotatingPlans []string, fn func(*APIKey) error) error
	// EachGatewayKey calls fn with every key in ID order, holding what a
	// gateway serves from: ID, Enabled, ExpiresAt, StageKeys, Scopes,
	// PlanIDs, and credentials with key ID, label, grace and digest (no
	// credential IDs, hints or sealed values). Keys stream: the store holds one at a time, so a
	// million of them load without a million in memory. Keys may share
	// their StageKeys and Scopes (a store may decode a value once for the
	// keys that hold the same): fn must not modify them. An error from fn
	// stops the walk and is returned as is.
	EachGatewayKey(ctx context.Context, fn func(*APIKey) error) error
	// GatewayKeys returns the keys among ids that exist, in ID order,
	// holding what EachGatewayKey gives: what a gateway re-reads when some
	// keys changed.
	GatewayKeys(ctx context.Context, ids []string) ([]*APIKey, error)
	// InsertCredential adds a credential. ECONFLICT when the key already has
	// one with that label, or when the digest is already in use by any key.
	InsertCredential(ctx context.Context, c *Credential) error
	// UpdateCredential stores c's Label and GraceUntil. ENOTFOUND; ECONFLICT
	// when the label is taken on the key.
	UpdateCredential(ctx context.Context, c *Credential) error
	DeleteCredential(ctx context.Context, id string) error // ENOTFOUND
	// FindCredential returns the credential with that digest. ENOTFOUND.
	FindCredential(ctx context.Context, digest []byte) (*Credential, error)
}

// APIStore keeps APIs with their stages.
type APIStore interface {
	InsertAPI(ctx context.Context, a *API) error // ECONFLICT on duplicate ID or name
	GetAPI(ctx context.Context, id string) (*API, error)
	GetAPIByName(ctx context.Context, name string) (*API, error)
	ListAPIs(ctx context.Context, p Page) ([]*API, string, error) // ordered by name
	UpdateAPI(ctx context.Context, a *API) error                  // ENOTFOUND, ECONFLICT on a taken name
	DeleteAPI(ctx context.Context, id string) error
}

// PlanStore keeps usage plans and their key attachments.
type PlanStore interface {
	InsertPlan(ctx context.Context, p *UsagePlan) error // ECONFLICT on duplicate ID or name
	GetPlan(ctx context.Context, id string) (*UsagePlan, error)
	GetPlanByName(ctx context.Context, name string) (*UsagePlan, error)
	ListPlans(ctx context.Context, p Page) ([]*UsagePlan, string, error) // ordered by name
	UpdatePlan(ctx context.Context, p *UsagePlan) error                  // ENOTFOUND, ECONFLICT on a taken name
	DeletePlan(ctx context.Context, id string) error                     // removes attachments too
	AttachKey(ctx context.Context, planID, keyID string) error           // ECONFLICT when attached; ENOTFOUND for a missing plan or key
	DetachKey(ctx context.Context, planID, keyID string) error           // ENOTFOUND when not attached
	// ListPlanKeyIDs returns the IDs of the keys attached to a plan, ordered.
	ListPlanKeyIDs(ctx context.Context, planID string, p Page) ([]string, string, error)
}

// SecretStore keeps secrets and their versions. A staging label is on at most
// one version of a secret at a time; the store enforces it.
type SecretStore interface {
	// InsertSecret is ECONFLICT on a taken name, and the transaction
	// stays usable (a retried create reads what it made the first time).
	InsertSecret(ctx context.Context, s *Secret) error
	// GetSecret returns a secret, pending deletion or not, with
	// VersionIDsToStages filled. ENOTFOUND.
	GetSecret(ctx context.Context, name string) (*Secret, error)
	// ListSecrets returns secrets ordered by name. Secrets pending deletion
	// only when f.IncludeDeleted. TagKey/TagValue match when both match one
	// tag (an empty one matches any).
	ListSecrets(ctx context.Context, f SecretFilter) ([]*Secret, string, error)
	// UpdateSecret stores Description, Tags, UpdatedAt, LastAccessedAt,
	// DeletionDate and Rotation. ENOTFOUND.
	UpdateSecret(ctx context.Context, s *Secret) error
	DeleteSecret(ctx context.Context, name string) error // removes versions; ENOTFOUND
	// InsertSecretVersion adds a version (Stages ignored: use MoveStage).
	// ECONFLICT on a duplicate version ID for the secret.
	InsertSecretVersion(ctx context.Context, v *SecretVersion) error
	GetSecretVersion(ctx context.Context, name, versionID string) (*SecretVersion, error) // Stages filled; ENOTFOUND
	// GetSecretVersionByStage returns the version holding stage. ENOTFOUND.
	GetSecretVersionByStage(ctx context.Context, name, stage string) (*SecretVersion, error)
	ListSecretVersions(ctx context.Context, name string) ([]*SecretVersion, error) // newest first
	// MoveStage puts stage on version toID, taking it off whichever version
	// had it; toID "" only takes it off. ENOTFOUND for a missing version.
	MoveStage(ctx context.Context, name, stage, toID string) error
}

// PrincipalStore keeps principals and their admin tokens.
type PrincipalStore interface {
	InsertPrincipal(ctx context.Context, p *Principal) error         // ECONFLICT on a taken name
	GetPrincipal(ctx context.Context, id string) (*Principal, error) // PolicyIDs filled
	GetPrincipalByName(ctx context.Context, name string) (*Principal, error)
	ListPrincipals(ctx context.Context, p Page) ([]*Principal, string, error) // ordered by name
	DeletePrincipal(ctx context.Context, id string) error                     // removes tokens and attachments
	InsertToken(ctx context.Context, t *AdminToken) error                     // ECONFLICT on a duplicate digest
	FindToken(ctx context.Context, digest []byte) (*AdminToken, error)
	DeleteToken(ctx context.Context, id string) error
}

// PolicyStore keeps policies and their attachments to principals.
type PolicyStore interface {
	InsertPolicy(ctx context.Context, p *Policy) error // ECONFLICT on a taken name
	GetPolicy(ctx context.Context, id string) (*Policy, error)
	GetPolicyByName(ctx context.Context, name string) (*Policy, error)
	ListPolicies(ctx context.Context, p Page) ([]*Policy, string, error) // ordered by name
	UpdatePolicy(ctx context.Context, p *Policy) error
	DeletePolicy(ctx context.Context, id string) error
	AttachPolicy(ctx context.Context, policyID, principalID string) error // ECONFLICT when attached
	DetachPolicy(ctx context.Context, policyID, principalID string) error // ENOTFOUND when not attached
	PoliciesOf(ctx context.Context, principalID string) ([]*Policy, error)
	CountAttachments(ctx context.Context, policyID string) (int, error)
}

// AuditStore keeps the audit log: its records, the hashes of its Merkle
// tree and its signed checkpoints (see package audit).
type AuditStore interface {
	// AuditHead returns the last record's Seq (0 when empty).
	AuditHead(ctx context.Context) (int64, error)
	// AppendAudit adds r, which must have Seq = head+1 (ECONFLICT otherwise).
	// Index columns (time, name, principal) are read from r.Event.
	AppendAudit(ctx context.Context, r *AuditRecord) error
	ListAudit(ctx context.Context, f AuditFilter) ([]*AuditRecord, error) // ordered by Seq, descending with f.Descending
	// ReadAuditHashes returns the tree hashes stored at indexes (in the
	// layout of golang.org/x/mod/sumdb/tlog), in that order; ENOTFOUND
	// when one is missing.
	ReadAuditHashes(ctx context.Context, indexes []int64) ([][]byte, error)
	// WriteAuditHashes stores hashes at indexes from, from+1, ..., replacing
	// what is there.
	WriteAuditHashes(ctx context.Context, from int64, hashes [][]byte) error
	// InsertCheckpoint stores c; ECONFLICT when one of that size exists.
	InsertCheckpoint(ctx context.Context, c *AuditCheckpoint) error
	// ListCheckpoints returns checkpoints with Size > afterSize, by Size.
	ListCheckpoints(ctx context.Context, afterSize int64, limit int) ([]*AuditCheckpoint, error)
	// LatestCheckpoint returns the checkpoint of the largest size, nil when
	// there is none.
	LatestCheckpoint(ctx context.Context) (*AuditCheckpoint, error)
}

// IdempotencyRecord remembers the answer to a write made with a client token.
type IdempotencyRecord struct {
	Scope      string          // e.g. "apikeys:Create"
	Token      string          // the client token
	RequestMAC []byte          // HMAC of the request, to tell "same input" from "other input"
	Response   json.RawMessage // what to answer again (never a secret value)
	CreatedAt  time.Time
}

// IdempotencyStore keeps idempotency records.
type IdempotencyStore interface {
	GetIdempotency(ctx context.Context, scope, token string) (*IdempotencyRecord, error) // ENOTFOUND
	PutIdempotency(ctx context.Context, r *IdempotencyRecord) error                      // ECONFLICT when present
}

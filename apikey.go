package keyward

import (
	"context"
	"time"
)

// APIKey is what a caller presents to the gateway: a public, stable ID and a
// secret value. The value itself is never stored; each of the key's
// credentials keeps HMAC-SHA256(pepper, value). Rotation replaces credentials,
// never the ID, so plans, scopes, usage and audit history stay with it.
type APIKey struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	CustomerID  string            `json:"customerId,omitempty"`
	Enabled     bool              `json:"enabled"`
	Prefix      string            `json:"prefix"`              // value prefix, "kw" unless the key or its API says otherwise
	ExpiresAt   *time.Time        `json:"expiresAt,omitempty"` // nil: never
	StageKeys   []StageKey        `json:"stageKeys,omitempty"` // api/stage pairs it may call
	Scopes      Scopes            `json:"scopes"`              // empty: all of its stages
	Tags        map[string]string `json:"tags,omitempty"`
	Recoverable bool              `json:"recoverable"`           // value also kept under envelope encryption
	Imported    bool              `json:"imported,omitempty"`    // the value was supplied by the caller
	ValueSecret string            `json:"valueSecret,omitempty"` // secret the value is delivered to, if any
	PlanIDs     []string          `json:"planIds,omitempty"`     // usage plans it is attached to (derived)
	Rotation    *RotationPolicy   `json:"rotation,omitempty"`    // scheduled rotation; nil: the plans' or none
	Credentials []Credential      `json:"credentials,omitempty"` // metadata only, never digests or values
	// LastUsedAt is when the gateway last admitted a request with the key,
	// to the minute (derived; nil: never since tracking began).
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	CreatedAt  time.Time  `json:"createdAt"`
	UpdatedAt  time.Time  `json:"updatedAt"`
}

// StageKey names one stage of one API. Its text form is "apiId/stage".
type StageKey struct {
	APIID string `json:"apiId"`
	Stage string `json:"stage"`
}

// String returns "apiId/stage".
func (s StageKey) String() string { return s.APIID + "/" + s.Stage }

// Scopes narrow what a key may do within its stages.
type Scopes struct {
	Models []string       `json:"models,omitempty"` // allowed model names (globs); empty: any
	Routes []RoutePattern `json:"routes,omitempty"` // allowed method + path globs; empty: any
}

// RoutePattern is an HTTP method ("*" for any) and a path glob such as
// "/v1/chat/*".
type RoutePattern struct {
	Method string `json:"method"`
	Path   string `json:"path"`
}

// CredentialLabel says which role a credential plays in a key, like the
// staging labels of Secrets Manager versions.
type CredentialLabel string

// Credential labels. A key has at most one credential per label.
const (
	LabelCurrent  CredentialLabel = "CURRENT"
	LabelPrevious CredentialLabel = "PREVIOUS" // accepted until GraceUntil
	LabelPending  CredentialLabel = "PENDING"  // during a rotation, not yet accepted
)

// Credential is one value of a key, kept as a digest. Digest and SealedValue
// never leave the server: they are not marshalled.
type Credential struct {
	ID          string          `json:"id"`
	KeyID       string          `json:"keyId"`
	Label       CredentialLabel `json:"label"`
	Hint        string          `json:"hint"` // e.g. "kw_…a1B2", safe to show
	GraceUntil  *time.Time      `json:"graceUntil,omitempty"`
	CreatedAt   time.Time       `json:"createdAt"`
	Digest      []byte          `json:"-"` // HMAC-SHA256(pepper, value)
	SealedValue []byte          `json:"-"` // envelope, for recoverable keys only
}

// KeyCreate is the input of KeyService.CreateKey.
type KeyCreate struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	CustomerID  string            `json:"customerId,omitempty"`
	Enabled     *bool             `json:"enabled,omitempty"` // nil: true
	Prefix      string            `json:"prefix,omitempty"`  // "": the first stage's API prefix, else "kw"
	ExpiresAt   *time.Time        `json:"expiresAt,omitempty"`
	StageKeys   []StageKey        `json:"stageKeys,omitempty"` // APIID may be an API name; the core resolves it
	Scopes      Scopes            `json:"scopes"`
	Tags        map[string]string `json:"tags,omitempty"`
	Recoverable bool              `json:"recoverable,omitempty"`
	PlanIDs     []string          `json:"planIds,omitempty"`     // plan IDs or names to attach to
	StoreSecret string            `json:"storeSecret,omitempty"` // write the value to this secret (CURRENT) and do not return it
	Rotation    *RotationPolicy   `json:"rotation,omitempty"`
	Value       string            `json:"value,omitempty"`       // import a custom value (>= 20 chars) instead of generating one
	ClientToken string            `json:"clientToken,omitempty"` // idempotency token
}

// CreatedKey is the answer to CreateKey. Value is set only when the value was
// generated or imported and not delivered to a secret: it is shown once.
type CreatedKey struct {
	Key   *APIKey `json:"key"`
	Value string  `json:"value,omitempty"`
}

// KeyUpdate changes fields of a key; nil fields are left alone.
type KeyUpdate struct {
	Name        *string            `json:"name,omitempty"`
	Description *string            `json:"description,omitempty"`
	CustomerID  *string            `json:"customerId,omitempty"`
	Enabled     *bool              `json:"enabled,omitempty"`
	ExpiresAt   *time.Time         `json:"expiresAt,omitempty"`
	NoExpiry    bool               `json:"noExpiry,omitempty"` // clear ExpiresAt
	StageKeys   *[]StageKey        `json:"stageKeys,omitempty"`
	Scopes      *Scopes            `json:"scopes,omitempty"`
	Tags        *map[string]string `json:"tags,omitempty"`
	Rotation    *RotationPolicy    `json:"rotation,omitempty"`
	NoRotation  bool               `json:"noRotation,omitempty"` // clear Rotation
}

// KeyFilter selects keys in ListKeys.
type KeyFilter struct {
	// Name keeps the keys of exactly that name (names need not be
	// unique). Not indexed: customer-chosen names land anywhere in an
	// index, so a bulk import would write a leaf page of it per key, the
	// cost migration 0011 took away from digests; a lookup reads the
	// table (0.3 s at a million keys) but returns only that name's keys.
	Name       string
	NamePrefix string
	CustomerID string
	PlanID     string
	// ValueSecret keeps the keys whose value is delivered to that secret:
	// at most one, as the secret belongs to its key.
	ValueSecret string
	// UnusedSince keeps the keys not used since then: last used before it,
	// or never used and created before it.
	UnusedSince *time.Time
	Page
}

// KeyService manages API keys.
type KeyService interface {
	// CreateKey creates a key and returns it with its value (shown once).
	// EINVALID, ECONFLICT (client token reused with other input), ENOTFOUND
	// (stage, plan), EFORBIDDEN.
	CreateKey(ctx context.Context, in KeyCreate) (*CreatedKey, error)
	// GetKey returns a key, never its value. ENOTFOUND, EFORBIDDEN.
	GetKey(ctx context.Context, id string) (*APIKey, error)
	// ListKeys returns a page of keys and the position of the next page ("" at the end).
	ListKeys(ctx context.Context, f KeyFilter) ([]*APIKey, string, error)
	// UpdateKey changes a key in place. ENOTFOUND, EINVALID, EFORBIDDEN.
	UpdateKey(ctx context.Context, id string, u KeyUpdate) (*APIKey, error)
	// DeleteKey removes a key and its credentials. ENOTFOUND, EFORBIDDEN.
	DeleteKey(ctx context.Context, id string) error
	// ReadKeyValue returns the CURRENT value of a recoverable key; audited.
	// EPRECONDITION when the key is not recoverable, ENOTFOUND, EFORBIDDEN.
	ReadKeyValue(ctx context.Context, id string) (string, error)
}

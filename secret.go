package keyward

import (
	"context"
	"time"
)

// Secret is a named, versioned, encrypted value. Each version has an ID and
// staging labels; writing a new value moves CURRENT to it and PREVIOUS to the
// version that was CURRENT. Deletion is soft (a recovery window of 7-30 days)
// unless forced.
type Secret struct {
	Name               string              `json:"name"`
	ARN                string              `json:"arn"` // "kw:secret/<name>"
	Description        string              `json:"description,omitempty"`
	Tags               map[string]string   `json:"tags,omitempty"`
	CreatedAt          time.Time           `json:"createdAt"`
	UpdatedAt          time.Time           `json:"updatedAt"`
	LastAccessedAt     *time.Time          `json:"lastAccessedAt,omitempty"`
	DeletionDate       *time.Time          `json:"deletionDate,omitempty"` // set while pending deletion
	VersionIDsToStages map[string][]string `json:"versionIdsToStages,omitempty"`
	Rotation           *SecretRotation     `json:"rotation,omitempty"` // nil: not rotated by keyward
}

// SecretARN returns the resource name of a secret.
func SecretARN(name string) string { return ResourceSecret.ARN(name) }

// Secret version staging labels used by keyward itself; others may be custom.
const (
	StageCurrent  = "CURRENT"
	StagePrevious = "PREVIOUS"
	StagePending  = "PENDING"
)

// SecretVersion is one stored version. Sealed and ValueMAC never leave the
// server.
type SecretVersion struct {
	SecretName string    `json:"secretName"`
	ID         string    `json:"versionId"`
	Stages     []string  `json:"versionStages"`
	Binary     bool      `json:"binary"`
	CreatedAt  time.Time `json:"createdAt"`
	Sealed     []byte    `json:"-"` // envelope of the value
	ValueMAC   []byte    `json:"-"` // HMAC(pepper, value): idempotency checks without decrypting
}

// SecretValue is a decrypted value as returned by GetSecretValue. Its fields
// are exported for the adapters; it has no String method and its Value is not
// marshalled by encoding/json: adapters write it out on purpose.
type SecretValue struct {
	Name      string    `json:"name"`
	VersionID string    `json:"versionId"`
	Stages    []string  `json:"versionStages"`
	CreatedAt time.Time `json:"createdAt"`
	Binary    bool      `json:"binary"`
	Value     []byte    `json:"-"`
}

// SecretVersionRef identifies the version a write created or found.
type SecretVersionRef struct {
	Name      string `json:"name"`
	ARN       string `json:"arn"`
	VersionID string `json:"versionId"`
}

// SecretCreate is the input of CreateSecret. Value may be empty: the secret
// then has no version yet.
type SecretCreate struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Value       []byte            `json:"-"`
	Binary      bool              `json:"binary,omitempty"`
	ClientToken string            `json:"clientToken,omitempty"` // becomes the version ID
}

// SecretPut is the input of PutSecretValue. Stages defaults to [CURRENT].
type SecretPut struct {
	Value       []byte   `json:"-"`
	Binary      bool     `json:"binary,omitempty"`
	ClientToken string   `json:"clientToken,omitempty"`
	Stages      []string `json:"versionStages,omitempty"`
}

// SecretSelector picks a version: by ID, by stage label, or CURRENT when both
// are empty.
type SecretSelector struct {
	VersionID string `json:"versionId,omitempty"`
	Stage     string `json:"versionStage,omitempty"`
}

// SecretFilter selects secrets in ListSecrets.
type SecretFilter struct {
	NamePrefix     string
	TagKey         string
	TagValue       string
	IncludeDeleted bool
	Page
}

// SecretUpdate changes a secret's metadata.
type SecretUpdate struct {
	Description *string            `json:"description,omitempty"`
	Tags        *map[string]string `json:"tags,omitempty"`
}

// StageMove moves a staging label: onto MoveTo, off RemoveFrom (both may be
// set, as in UpdateSecretVersionStage).
type StageMove struct {
	Stage      string `json:"versionStage"`
	MoveTo     string `json:"moveToVersionId,omitempty"`
	RemoveFrom string `json:"removeFromVersionId,omitempty"`
}

// SecretDelete says how to delete: with a recovery window (7-30 days,
// default 30) or at once (Force). Both together is EINVALID.
type SecretDelete struct {
	RecoveryWindowDays int  `json:"recoveryWindowDays,omitempty"`
	Force              bool `json:"force,omitempty"`
}

// SecretService manages secrets.
type SecretService interface {
	// CreateSecret creates a secret, with a first version when Value is set.
	// ECONFLICT when the name exists, EINVALID, EFORBIDDEN.
	CreateSecret(ctx context.Context, in SecretCreate) (*SecretVersionRef, error)
	// PutSecretValue adds a version. The same client token with the same value
	// returns the same version; with another value it is ECONFLICT.
	// EPRECONDITION while the secret is pending deletion.
	PutSecretValue(ctx context.Context, name string, in SecretPut) (*SecretVersionRef, error)
	// GetSecretValue decrypts a version; every call is audited.
	// ENOTFOUND, EPRECONDITION (pending deletion), EFORBIDDEN.
	GetSecretValue(ctx context.Context, name string, sel SecretSelector) (*SecretValue, error)
	DescribeSecret(ctx context.Context, name string) (*Secret, error)
	ListSecrets(ctx context.Context, f SecretFilter) ([]*Secret, string, error)
	UpdateSecret(ctx context.Context, name string, u SecretUpdate) (*Secret, error)
	UpdateSecretVersionStage(ctx context.Context, name string, m StageMove) error
	// DeleteSecret schedules deletion, or deletes at once when forced.
	DeleteSecret(ctx context.Context, name string, d SecretDelete) (*Secret, error)
	// RestoreSecret cancels a scheduled deletion. EPRECONDITION if not pending.
	RestoreSecret(ctx context.Context, name string) (*Secret, error)
}

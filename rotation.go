package keyward

import (
	"context"
	"time"
)

// RotationPolicy rotates a key on a schedule: every Every, with the old
// value kept working for Grace. It is set on a key, or on a usage plan for
// the keys attached to it (a key's own policy wins; among plans, the one
// that rotates most often).
type RotationPolicy struct {
	Every Duration `json:"every"`
	Grace Duration `json:"grace"`
}

// SecretRotation rotates a generic secret on a schedule through a rotator
// webhook endpoint, the way Secrets Manager calls a rotation Lambda.
type SecretRotation struct {
	RotatorID string   `json:"rotatorId"`       // webhook endpoint of kind "rotator"
	Every     Duration `json:"every,omitempty"` // 0: only when asked
}

// RotationKind says what a rotation rotates.
type RotationKind string

// Rotation kinds.
const (
	RotationKey    RotationKind = "apikey"
	RotationSecret RotationKind = "secret"
)

// RotationState is where a rotation stands.
type RotationState string

// Rotation states. Only IN_PROGRESS changes; the others are final.
const (
	RotationInProgress RotationState = "IN_PROGRESS"
	RotationSucceeded  RotationState = "SUCCEEDED"
	RotationFailed     RotationState = "FAILED"      // a step failed; PENDING was taken back
	RotationRolledBack RotationState = "ROLLED_BACK" // interrupted, and could not be resumed
	RotationCancelled  RotationState = "CANCELLED"
)

// RotationStep names the steps of a rotation, as Secrets Manager calls its
// rotation function: create the PENDING value, set it where it is used,
// test it, then finish by making it CURRENT.
type RotationStep string

// Rotation steps, in order.
const (
	StepCreate RotationStep = "createSecret"
	StepSet    RotationStep = "setSecret"
	StepTest   RotationStep = "testSecret"
	StepFinish RotationStep = "finishSecret"
)

// RotationSteps returns the steps in the order they run.
func RotationSteps() []RotationStep { return []RotationStep{StepCreate, StepSet, StepTest, StepFinish} }

// Rotation triggers.
const (
	TriggerManual   = "manual"
	TriggerSchedule = "schedule"
)

// Rotation is the persisted record of one rotation. Its state is written
// after every step, so a server stopped between two steps resumes it or
// rolls it back on start.
type Rotation struct {
	ID          string        `json:"id"`
	Kind        RotationKind  `json:"kind"`
	Target      string        `json:"target"` // key ID or secret name
	State       RotationState `json:"state"`
	Step        RotationStep  `json:"step,omitempty"` // the last step completed
	Trigger     string        `json:"trigger"`
	ClientToken string        `json:"clientToken,omitempty"`
	Grace       Duration      `json:"grace"`
	StoreSecret string        `json:"storeSecret,omitempty"` // key rotations: the secret the value went to
	PendingID   string        `json:"pendingId,omitempty"`   // the PENDING credential or secret version
	Hint        string        `json:"hint,omitempty"`        // hint of the new key value
	Error       string        `json:"error,omitempty"`       // why it failed, client-safe
	StartedBy   string        `json:"startedBy"`             // principal ID, or "system"
	CreatedAt   time.Time     `json:"createdAt"`
	UpdatedAt   time.Time     `json:"updatedAt"`
	FinishedAt  *time.Time    `json:"finishedAt,omitempty"`
	// Runner is the process running the rotation (a random ID per
	// process). Only it advances, fails or touches the rotation; taking
	// over a stale one makes the taker its runner in the same write.
	Runner string `json:"-"`
}

// RotationFilter selects rotations in ListRotations. Kind and Target are
// required by the services, optional for the store.
type RotationFilter struct {
	Kind        RotationKind
	Target      string
	State       RotationState
	ClientToken string
	Page
}

// KeyRotate is the input of RotateKey.
type KeyRotate struct {
	Grace       *Duration `json:"grace,omitempty"`       // nil: the key's policy, else 24h
	StoreSecret string    `json:"storeSecret,omitempty"` // "": the key's value secret, if any
	ClientToken string    `json:"clientToken,omitempty"`
}

// RotatedKey is the answer to RotateKey. Value is the new value when it was
// not delivered to a secret: shown once, like at creation.
type RotatedKey struct {
	Key      *APIKey   `json:"key"`
	Rotation *Rotation `json:"rotation"`
	Value    string    `json:"value,omitempty"`
	Replayed bool      `json:"replayed,omitempty"`
}

// SecretRotate is the input of RotateSecret: it sets (or keeps) the
// rotation configuration and, unless Now is false, starts a rotation.
type SecretRotate struct {
	RotatorID   string    `json:"rotatorId,omitempty"` // "": keep the configured one
	Every       *Duration `json:"every,omitempty"`
	Now         *bool     `json:"rotateImmediately,omitempty"` // nil: true
	ClientToken string    `json:"clientToken,omitempty"`
}

// RotationService rotates keys and secrets.
type RotationService interface {
	// RotateKey makes a new value CURRENT and the old one PREVIOUS until the
	// grace deadline; the key ID stays. The same client token answers the
	// same rotation. ENOTFOUND, EINVALID, ECONFLICT (a rotation is running),
	// EFORBIDDEN.
	RotateKey(ctx context.Context, id string, in KeyRotate) (*RotatedKey, error)
	// RevokePrevious ends the PREVIOUS credential's grace now.
	// EPRECONDITION when there is none.
	RevokePrevious(ctx context.Context, id string) (*APIKey, error)
	// ListKeyRotations lists a key's rotations, newest first.
	ListKeyRotations(ctx context.Context, id string, f RotationFilter) ([]*Rotation, string, error)
	// RotateSecret configures a secret's rotation and starts one; the steps
	// run in the background. EPRECONDITION without a rotator.
	RotateSecret(ctx context.Context, name string, in SecretRotate) (*Rotation, error)
	// CancelSecretRotation stops a running rotation and takes PENDING back.
	// EPRECONDITION when none is running.
	CancelSecretRotation(ctx context.Context, name string) (*Rotation, error)
	// ListSecretRotations lists a secret's rotations, newest first.
	ListSecretRotations(ctx context.Context, name string, f RotationFilter) ([]*Rotation, string, error)
}

// RotationStore keeps rotations. At most one rotation per target is
// IN_PROGRESS: InsertRotation returns ECONFLICT otherwise, and also when
// the kind, target and client token are already used.
type RotationStore interface {
	InsertRotation(ctx context.Context, r *Rotation) error
	GetRotation(ctx context.Context, id string) (*Rotation, error) // ENOTFOUND
	// UpdateRotation stores State, Step, PendingID, Hint, Error, UpdatedAt,
	// FinishedAt and Runner. ENOTFOUND.
	UpdateRotation(ctx context.Context, r *Rotation) error
	// TouchRotation sets the UpdatedAt of rotation id to at while it is
	// IN_PROGRESS and runner runs it, and does nothing otherwise: the
	// heartbeat of a rotation a live process is running.
	TouchRotation(ctx context.Context, id, runner string, at time.Time) error
	// ListRotations returns rotations newest first (CreatedAt, then ID,
	// descending), filtered by every non-empty field of f.
	ListRotations(ctx context.Context, f RotationFilter) ([]*Rotation, string, error)
}

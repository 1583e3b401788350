package keyward

import (
	"context"
	"time"
)

// Principal is who calls the admin side: a person, a CI pipeline, a service.
type Principal struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"` // unique
	Type        string    `json:"type"` // "user" or "service"
	Description string    `json:"description,omitempty"`
	PolicyIDs   []string  `json:"policyIds"` // attached policies (derived)
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// PrincipalARN returns the resource name of a principal.
func PrincipalARN(id string) string { return ResourcePrincipal.ARN(id) }

// AdminToken is a credential of a principal: a value with prefix "kwa",
// stored as HMAC-SHA256(pepper, value) like key values.
type AdminToken struct {
	ID          string     `json:"id"`
	PrincipalID string     `json:"principalId"`
	Hint        string     `json:"hint"`
	CreatedAt   time.Time  `json:"createdAt"`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty"`
	Digest      []byte     `json:"-"`
}

// AdminTokenPrefix is the value prefix of admin tokens.
const AdminTokenPrefix = "kwa"

// PrincipalCreate is the input of CreatePrincipal. Roles are built-in role
// names or policy names/IDs to attach.
type PrincipalCreate struct {
	Name        string   `json:"name"`
	Type        string   `json:"type,omitempty"` // default "service"
	Description string   `json:"description,omitempty"`
	Roles       []string `json:"roles,omitempty"`
}

// CreatedPrincipal is the answer to CreatePrincipal; Token is shown once.
type CreatedPrincipal struct {
	Principal *Principal `json:"principal"`
	Token     string     `json:"token"`
}

// PrincipalService manages principals and their tokens. Wherever a principal
// is named, its ID or its name is accepted.
type PrincipalService interface {
	CreatePrincipal(ctx context.Context, in PrincipalCreate) (*CreatedPrincipal, error)
	GetPrincipal(ctx context.Context, idOrName string) (*Principal, error)
	ListPrincipals(ctx context.Context, p Page) ([]*Principal, string, error)
	DeletePrincipal(ctx context.Context, idOrName string) error
	// CreateToken issues another admin token for a principal; shown once.
	CreateToken(ctx context.Context, idOrName string) (string, *AdminToken, error)
}

// Authenticator turns an admin token into the principal it belongs to.
// EUNAUTHORIZED for a missing, malformed, unknown or expired token; the error
// never contains the token.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*Principal, *AdminToken, error)
}

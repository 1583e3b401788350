package keyward

import (
	"context"
	"encoding/json"
	"time"
)

// Policy grants or denies actions on resources to the principals it is
// attached to. Evaluation (package policy) is default deny, and an explicit
// deny wins over any allow.
type Policy struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"` // unique; built-in roles are policies named after the role
	Description string         `json:"description,omitempty"`
	BuiltIn     bool           `json:"builtIn"`
	Document    PolicyDocument `json:"document"`
	CreatedAt   time.Time      `json:"createdAt"`
	UpdatedAt   time.Time      `json:"updatedAt"`
}

// PolicyDocument is the IAM-like JSON form of a policy.
type PolicyDocument struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one rule of a policy document.
type Statement struct {
	Sid       string                           `json:"Sid,omitempty"`
	Effect    string                           `json:"Effect"` // "Allow" or "Deny"
	Action    StringList                       `json:"Action"`
	Resource  StringList                       `json:"Resource"`
	Condition map[string]map[string]StringList `json:"Condition,omitempty"`
}

// Policy effects.
const (
	EffectAllow = "Allow"
	EffectDeny  = "Deny"
)

// Condition operators and keys understood by the evaluator.
const (
	CondIPAddress       = "IpAddress"
	CondNotIPAddress    = "NotIpAddress"
	CondDateGreaterThan = "DateGreaterThan"
	CondDateLessThan    = "DateLessThan"
	KeySourceIP         = "kw:SourceIp"
	KeyCurrentTime      = "kw:CurrentTime"
)

// StringList is a JSON string or array of strings, as in IAM documents.
type StringList []string

// UnmarshalJSON accepts "x" or ["x", "y"].
func (l *StringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = StringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

// PolicyCreate is the input of CreatePolicy. Document is the JSON text,
// parsed and validated by the core.
type PolicyCreate struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Document    json.RawMessage `json:"document"`
}

// PolicyService manages policies and their attachment to principals. Policies
// and principals may be named by ID or name.
type PolicyService interface {
	CreatePolicy(ctx context.Context, in PolicyCreate) (*Policy, error) // EINVALID, ECONFLICT
	GetPolicy(ctx context.Context, idOrName string) (*Policy, error)
	ListPolicies(ctx context.Context, p Page) ([]*Policy, string, error)
	DeletePolicy(ctx context.Context, idOrName string) error // EPRECONDITION for built-ins or while attached
	AttachPolicy(ctx context.Context, policy, principal string) error
	DetachPolicy(ctx context.Context, policy, principal string) error
}

// Authorizer decides whether a principal may perform action on resource.
type Authorizer interface {
	// Authorize returns nil when allowed and an EFORBIDDEN *Error otherwise.
	Authorize(ctx context.Context, req AuthzRequest) error
}

// AuthzRequest is one authorization question.
type AuthzRequest struct {
	Policies []*Policy
	Action   Action
	Resource string
	SourceIP string
	Time     time.Time
}

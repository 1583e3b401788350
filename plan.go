package keyward

import (
	"context"
	"time"
)

// UsagePlan holds limits shared by the keys attached to it.
type UsagePlan struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"` // unique
	Description string       `json:"description,omitempty"`
	Throttle    *Throttle    `json:"throttle,omitempty"`
	Quota       *Quota       `json:"quota,omitempty"`
	Tokens      *TokenLimits `json:"tokens,omitempty"`
	APIStages   []PlanStage  `json:"apiStages,omitempty"`
	// Rotation rotates the attached keys that have no policy of their own.
	Rotation  *RotationPolicy `json:"rotation,omitempty"`
	CreatedAt time.Time       `json:"createdAt"`
	UpdatedAt time.Time       `json:"updatedAt"`
}

// Throttle is a token bucket: a steady rate per second and a burst.
type Throttle struct {
	RateLimit  float64 `json:"rateLimit"`
	BurstLimit int     `json:"burstLimit"`
}

// QuotaPeriod is the window of a quota.
type QuotaPeriod string

// Quota periods.
const (
	PeriodDay   QuotaPeriod = "DAY"
	PeriodWeek  QuotaPeriod = "WEEK"
	PeriodMonth QuotaPeriod = "MONTH"
)

// Quota allows Limit requests per Period; Offset shifts the period's start by
// days (WEEK: 0-6, MONTH: 0-27, DAY: 0).
type Quota struct {
	Limit  int64       `json:"limit"`
	Period QuotaPeriod `json:"period"`
	Offset int         `json:"offset,omitempty"`
}

// TokenLimits are LLM token budgets, for OpenAI-compatible APIs.
type TokenLimits struct {
	PerMinute        int64 `json:"perMinute,omitempty"`
	PerDay           int64 `json:"perDay,omitempty"`
	DefaultMaxTokens int64 `json:"defaultMaxTokens,omitempty"` // reserved when a request names no max_tokens
}

// PlanStage attaches a plan to one API stage, optionally overriding the
// throttle for the stage and per route ("/path/METHOD" keys, as AWS does).
type PlanStage struct {
	APIID          string              `json:"apiId"`
	Stage          string              `json:"stage"`
	Throttle       *Throttle           `json:"throttle,omitempty"`
	RouteThrottles map[string]Throttle `json:"routeThrottles,omitempty"`
}

// PlanCreate is the input of CreatePlan.
type PlanCreate struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Throttle    *Throttle       `json:"throttle,omitempty"`
	Quota       *Quota          `json:"quota,omitempty"`
	Tokens      *TokenLimits    `json:"tokens,omitempty"`
	APIStages   []PlanStage     `json:"apiStages,omitempty"` // APIID may be an API name
	Rotation    *RotationPolicy `json:"rotation,omitempty"`
}

// PlanUpdate changes fields of a plan; nil fields are left alone. A Clear*
// flag removes the corresponding limit.
type PlanUpdate struct {
	Name          *string         `json:"name,omitempty"`
	Description   *string         `json:"description,omitempty"`
	Throttle      *Throttle       `json:"throttle,omitempty"`
	Quota         *Quota          `json:"quota,omitempty"`
	Tokens        *TokenLimits    `json:"tokens,omitempty"`
	APIStages     *[]PlanStage    `json:"apiStages,omitempty"`
	ClearThrottle bool            `json:"clearThrottle,omitempty"`
	ClearQuota    bool            `json:"clearQuota,omitempty"`
	ClearTokens   bool            `json:"clearTokens,omitempty"`
	Rotation      *RotationPolicy `json:"rotation,omitempty"`
	ClearRotation bool            `json:"clearRotation,omitempty"`
}

// PlanService manages usage plans and which keys they apply to. Wherever a plan
// is named, its ID or its name is accepted.
type PlanService interface {
	CreatePlan(ctx context.Context, in PlanCreate) (*UsagePlan, error)
	GetPlan(ctx context.Context, idOrName string) (*UsagePlan, error)
	ListPlans(ctx context.Context, p Page) ([]*UsagePlan, string, error)
	UpdatePlan(ctx context.Context, idOrName string, u PlanUpdate) (*UsagePlan, error)
	DeletePlan(ctx context.Context, idOrName string) error   // EPRECONDITION while keys are attached
	AttachKey(ctx context.Context, plan, keyID string) error // ECONFLICT if already attached
	DetachKey(ctx context.Context, plan, keyID string) error // ENOTFOUND if not attached
	ListPlanKeys(ctx context.Context, plan string, p Page) ([]*APIKey, string, error)
}

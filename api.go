package keyward

import (
	"context"
	"time"
)

// API is a deployed AI service keyward protects, with one or more stages.
type API struct {
	ID               string    `json:"id"`
	Name             string    `json:"name"` // unique; the gateway routes /<name>/<stage>/...
	Description      string    `json:"description,omitempty"`
	OpenAICompatible bool      `json:"openaiCompatible"` // gateway may read model and usage
	KeyPrefix        string    `json:"keyPrefix,omitempty"`
	Stages           []Stage   `json:"stages"`
	CreatedAt        time.Time `json:"createdAt"`
	UpdatedAt        time.Time `json:"updatedAt"`
}

// Stage is one deployment of an API (dev, staging, prod).
type Stage struct {
	Name           string `json:"name"`
	UpstreamURL    string `json:"upstreamUrl"`
	UpstreamSecret string `json:"upstreamSecret,omitempty"` // secret whose CURRENT value is sent upstream
}

// Stage returns the stage called name.
func (a *API) Stage(name string) (Stage, bool) {
	for _, s := range a.Stages {
		if s.Name == name {
			return s, true
		}
	}
	return Stage{}, false
}

// APICreate is the input of CreateAPI.
type APICreate struct {
	Name             string  `json:"name"`
	Description      string  `json:"description,omitempty"`
	OpenAICompatible bool    `json:"openaiCompatible,omitempty"`
	KeyPrefix        string  `json:"keyPrefix,omitempty"`
	Stages           []Stage `json:"stages"`
}

// APIUpdate changes fields of an API; nil fields are left alone.
type APIUpdate struct {
	Name             *string  `json:"name,omitempty"`
	Description      *string  `json:"description,omitempty"`
	OpenAICompatible *bool    `json:"openaiCompatible,omitempty"`
	KeyPrefix        *string  `json:"keyPrefix,omitempty"`
	Stages           *[]Stage `json:"stages,omitempty"`
}

// APIService manages APIs and their stages. Wherever an API is named, its ID
// or its name is accepted.
type APIService interface {
	CreateAPI(ctx context.Context, in APICreate) (*API, error)    // EINVALID, ECONFLICT, EFORBIDDEN
	GetAPI(ctx context.Context, idOrName string) (*API, error)    // ENOTFOUND, EFORBIDDEN
	ListAPIs(ctx context.Context, p Page) ([]*API, string, error) // EFORBIDDEN
	UpdateAPI(ctx context.Context, idOrName string, u APIUpdate) (*API, error)
	DeleteAPI(ctx context.Context, idOrName string) error // ENOTFOUND, EFORBIDDEN
}

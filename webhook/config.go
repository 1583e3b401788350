package webhook

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/keyward/keyward"
)

// Defaults of Config.
const (
	DefaultMaxAttempts = 8
	DefaultPoll        = time.Second
	DefaultTimeout     = 10 * time.Second
	// BatchSize is how many due deliveries one pass takes, and Concurrency
	// how many of them are sent at once.
	BatchSize   = 32
	Concurrency = 4
)

// Config configures a Dispatcher. Store and Secret are required; Defaults
// fills the rest.
type Config struct {
	Store keyward.Store
	// Secret returns an endpoint's signing secret (the core unseals
	// w.SealedSecret). Its errors are logged, never stored in a delivery.
	Secret func(ctx context.Context, w *keyward.Webhook) ([]byte, error)
	Client *http.Client  // nil: a plain client; redirects are never followed
	Clock  keyward.Clock // nil: keyward.SystemClock
	// MaxAttempts is how many attempts a delivery gets before it is FAILED.
	MaxAttempts int
	// Backoff is the wait after the attempt-th failed attempt (1-based).
	// nil: DefaultBackoff.
	Backoff func(attempt int) time.Duration
	Poll    time.Duration // how often Run looks for due deliveries
	Timeout time.Duration // bound on one attempt: the secret and the request
	Logger  *slog.Logger  // nil: discard
	// OnAttempt, when set, is told of every attempt (for a metric). It is
	// called from several goroutines at once.
	OnAttempt func(eventType string, ok bool)
}

// Defaults returns c with every unset optional field given its default.
func (c Config) Defaults() Config {
	if c.Client == nil {
		c.Client = &http.Client{}
	}
	if c.Clock == nil {
		c.Clock = keyward.SystemClock{}
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Backoff == nil {
		c.Backoff = DefaultBackoff
	}
	if c.Poll == 0 {
		c.Poll = DefaultPoll
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports whether c can run a Dispatcher once Defaults has filled
// it. It changes nothing.
func (c Config) Validate() error {
	switch {
	case c.Store == nil:
		return errors.New("webhook: Config.Store is required")
	case c.Secret == nil:
		return errors.New("webhook: Config.Secret is required")
	case c.Client == nil || c.Clock == nil || c.Backoff == nil || c.Logger == nil:
		return errors.New("webhook: Config has unset fields (call Defaults)")
	case c.MaxAttempts < 1:
		return errors.New("webhook: Config.MaxAttempts must be at least 1")
	case c.Poll <= 0 || c.Timeout <= 0:
		return errors.New("webhook: Config.Poll and Config.Timeout must be positive")
	}
	return nil
}

// Bounds of DefaultBackoff.
const (
	backoffBase = time.Second
	backoffCap  = time.Hour
)

// DefaultBackoff waits 1s after the first failed attempt, then 2s, 4s, ...
// up to 1h, each shortened by a random 0 to 20% so that deliveries failed
// together do not all come back at once.
func DefaultBackoff(attempt int) time.Duration {
	d := backoffCap
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 13 { // 1s<<12 = 4096s is past the cap
		d = min(backoffBase<<(attempt-1), backoffCap)
	}
	return d - time.Duration(rand.Int64N(int64(d/5)+1))
}

package server

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/limit"
	"github.com/keyward/keyward/limit/redislimit"
	"github.com/keyward/keyward/prom"
)

// checkRedisURL refuses what Connect cannot use and plain redis:// to
// another machine (the limits' counters and the Redis password would
// travel in the clear) unless --allow-plaintext says the network is
// trusted, as for PostgreSQL. The URL is never quoted back (it may hold
// the password).
func checkRedisURL(raw string, allowPlaintext bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		return errors.New("not a redis:// or rediss:// URL with a host")
	}
	if u.Scheme == "redis" && !loopbackHost(u.Hostname()) && !allowPlaintext {
		return errors.New("a Redis on another machine must be reached over TLS: use rediss:// (and --redis-ca-file for a private CA), or --allow-plaintext on a trusted network")
	}
	return nil
}

// Leasing: a node takes up to maxLease units of a throttle or quota at a
// time and refuses on its own, for up to refuseLocally, what Redis has
// just refused (see package redislimit).
const (
	maxLease      = 64
	refuseLocally = 20 * time.Millisecond
)

// openLimiter returns the limiter the gateway charges: shared through
// Redis when cfg names one, nil (the gateway's in-process limiter)
// otherwise. A cluster node without Redis says that its limits are per
// node.
func (s *Server) openLimiter(ctx context.Context, cfg Config, metrics *prom.Metrics) (limit.Limiter, error) {
	if cfg.RedisURL == "" {
		if cfg.DatabaseURL != "" {
			s.log.Warn("no Redis (--redis-url): each node enforces usage plans on its own, so a cluster of N nodes admits up to N times each plan's limits")
		}
		return nil, nil
	}
	redis.SetLogger(quietRedisLog{})
	rdb, err := redislimit.Connect(cfg.RedisURL, cfg.RedisCAFile)
	if err != nil {
		return nil, &SettingError{Field: "RedisURL", Reason: err.Error(), Err: err}
	}
	// Reservations outlive the longest exchange the gateway lets run.
	ttl := max(2*cfg.GatewayTimeout, 15*time.Minute)
	l := redislimit.New(ctx, rdb, redislimit.Options{
		MaxLease: maxLease, RefuseLocally: refuseLocally, ReservationTTL: ttl,
		Unavailable: redislimit.Mode(cfg.LimitsUnavailable),
		Metrics:     metrics.NewLimitsMetrics(), Logger: s.log,
	})
	if !l.Available() {
		s.log.Warn("Redis does not answer yet: usage limits "+map[string]string{
			"closed": "refuse requests (503) until it does",
			"open":   "are enforced per node, each its share, until it does",
		}[cfg.LimitsUnavailable], "redis", redislimit.Redacted(cfg.RedisURL))
	} else {
		s.log.Info("usage limits shared through Redis", "redis", redislimit.Redacted(cfg.RedisURL), "nodes", l.Nodes())
	}
	s.limiter, s.redis = l, rdb
	return l, nil
}

// quietRedisLog drops go-redis's own log lines (dial failures, retried
// on a timer): the limiter reports Redis's state in one line when it
// changes, and in metrics.
type quietRedisLog struct{}

func (quietRedisLog) Printf(context.Context, string, ...any) {}

// closeLimiter gives leases back and closes the Redis client.
func (s *Server) closeLimiter() error {
	if s.limiter == nil {
		return nil
	}
	err := s.limiter.Close()
	if cerr := s.redis.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("limits: %w", err)
	}
	return nil
}

package redislimit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
)

// Connect returns a client of the Redis at rawURL (redis:// or rediss://
// for TLS, verified against the system's roots or, when caFile is set,
// that file's certificates). It does not wait for Redis to answer: a
// limiter started while Redis is down starts unavailable and probes.
// Errors never repeat the URL, which may hold a password.
func Connect(rawURL, caFile string) (*redis.Client, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, errors.New("the Redis URL is not a redis:// or rediss:// URL")
	}
	if caFile != "" {
		if opt.TLSConfig == nil {
			return nil, errors.New("a Redis CA file is given but the URL is not rediss://")
		}
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("the Redis CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("the Redis CA file %s holds no PEM certificate", caFile)
		}
		opt.TLSConfig.RootCAs = pool
	}
	if opt.TLSConfig != nil {
		if opt.TLSConfig.InsecureSkipVerify {
			// rediss://…?skip_verify=true would encrypt without
			// knowing to whom: use --redis-ca-file for a private CA.
			return nil, errors.New("the Redis URL turns off certificate verification (skip_verify); give its CA with --redis-ca-file instead")
		}
		opt.TLSConfig.MinVersion = tls.VersionTLS12
	}
	// The limiter bounds each call itself and decides what a failure
	// means; the client must not retry behind its back.
	opt.MaxRetries = -1
	opt.DialTimeout = time.Second
	opt.ReadTimeout = 250 * time.Millisecond
	opt.WriteTimeout = 250 * time.Millisecond
	opt.ContextTimeoutEnabled = true
	return redis.NewClient(opt), nil
}

// Redacted returns rawURL without its password, for messages.
func Redacted(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Ping reports whether rdb answers within d.
func Ping(rdb *redis.Client, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return rdb.Ping(ctx).Err()
}

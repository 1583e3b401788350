package postgres

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/jackc/pgx/v5"
)

// CheckTransport refuses a database URL that would reach a host other than
// loopback (or a Unix socket) without TLS verified against the host's
// name: sslmode=verify-full, PostgreSQL's only mode that checks whom it
// talks to. pgx's default, prefer, encrypts without checking and falls
// back to plain text, which hands key digests, sealed secrets and the
// audit log to whoever sits on the path.
func CheckTransport(url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return errors.New("the database URL cannot be parsed (it is not repeated here: it may hold a password)")
	}
	hosts := []string{cfg.Host}
	verified := []bool{cfg.TLSConfig != nil && !cfg.TLSConfig.InsecureSkipVerify}
	for _, fb := range cfg.Fallbacks {
		hosts = append(hosts, fb.Host)
		verified = append(verified, fb.TLSConfig != nil && !fb.TLSConfig.InsecureSkipVerify)
	}
	for i, h := range hosts {
		if !verified[i] && !local(h) {
			return fmt.Errorf("the database at %s would be reached without verified TLS: add sslmode=verify-full (and sslrootcert=<CA file> for a private CA) to the URL, or pass --allow-plaintext on a network you trust", h)
		}
	}
	return nil
}

// local reports a Unix socket directory or a loopback address or name.
func local(host string) bool {
	if strings.HasPrefix(host, "/") || host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

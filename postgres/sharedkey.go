package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/keyward/keyward/sqlstore"
)

// SharedKey returns the sealed key material stored under name. The first
// node to ask creates it with create (which seals fresh random bytes);
// every later call, from any node, gets what that first one stored, even
// when several nodes ask at once.
func (s *DB) SharedKey(ctx context.Context, name string, create func() ([]byte, error)) ([]byte, error) {
	var sealed []byte
	err := s.db.QueryRowContext(ctx, `SELECT sealed FROM cluster_keys WHERE name = $1`, name).Scan(&sealed)
	switch {
	case err == nil:
		return sealed, nil
	case !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("postgres: read the %s: %w", name, err)
	}
	fresh, cerr := create()
	if cerr != nil {
		return nil, cerr
	}
	// ON CONFLICT: a node that lost the race reads the winner's.
	_, err = s.db.ExecContext(ctx, `INSERT INTO cluster_keys (name, sealed, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO NOTHING`, name, fresh, sqlstore.FormatTime(s.clock.Now()))
	if err != nil {
		return nil, fmt.Errorf("postgres: store the %s: %w", name, err)
	}
	if err := s.db.QueryRowContext(ctx, `SELECT sealed FROM cluster_keys WHERE name = $1`, name).Scan(&sealed); err != nil {
		return nil, fmt.Errorf("postgres: read the %s: %w", name, err)
	}
	return sealed, nil
}

package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/keyward/keyward/envelope"
	"github.com/keyward/keyward/postgres"
	"github.com/keyward/keyward/sqlite"
)

// MigrateStoreConfig says what MigrateStore copies where.
type MigrateStoreConfig struct {
	DataDir     string // the single node's data dir (stopped)
	KeyringURL  string // the keyring that node ran with; default its master.key
	DatabaseURL string // an empty PostgreSQL database
}

// MigrateStore copies a single node's deployment into an empty PostgreSQL
// database for a cluster: every row of its SQLite store (keys, secrets
// still sealed, principals, policies, usage, rotations, webhooks, the
// audit log with its tree and checkpoints) and its key material (pepper,
// audit signing and tail keys) sealed by the keyring it ran with, which
// the cluster's nodes are then started with. Digests, sealed values and
// the audit log's signatures stay valid: nothing is re-keyed. It returns
// the number of rows copied per table.
func MigrateStore(ctx context.Context, mc MigrateStoreConfig) (map[string]int, error) {
	cfg := Config{DataDir: mc.DataDir, KeyringURL: mc.KeyringURL}.Defaults()
	if _, err := os.Stat(cfg.path(DatabaseFile)); err != nil {
		return nil, fmt.Errorf("no keyward database in %s: %w", cfg.DataDir, err)
	}
	for _, f := range []string{PepperFile, AuditSigningFile, AuditTailKeyFile} {
		if _, err := os.Stat(cfg.path(f)); err != nil {
			return nil, fmt.Errorf("the data dir lacks %s: %w", f, err)
		}
	}
	if cfg.KeyringURL == "" {
		if _, err := os.Stat(cfg.path(MasterKeyFile)); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("the data dir has no %s: give the keyring the node ran with (--keyring)", MasterKeyFile)
		}
	}
	kr, err := openKeyring(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer kr.Close()
	km, err := localKeyMaterial(cfg)
	if err != nil {
		return nil, err
	}
	sealer := envelope.NewSealer(kr)
	sealed := map[string][]byte{}
	for name, key := range km.byName() {
		if sealed[name], err = sealer.Seal(ctx, clusterKeyBinding(name), *key); err != nil {
			return nil, fmt.Errorf("sealing the %s: %w", name, err)
		}
	}
	// Bring the SQLite store to this version's schema, then read it as is.
	lite, err := sqlite.Open(ctx, cfg.path(DatabaseFile))
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	if err := lite.Close(); err != nil {
		return nil, err
	}
	src, err := sql.Open("sqlite", "file:"+cfg.path(DatabaseFile)+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, err
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, mc.DatabaseURL)
	if err != nil {
		return nil, &SettingError{Field: "DatabaseURL", Reason: err.Error(), Err: err}
	}
	defer dst.Close()
	return dst.CopyFrom(ctx, src, sealed)
}

package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/envelope"
	"github.com/keyward/keyward/keyring"
	"github.com/keyward/keyward/postgres"
	"github.com/keyward/keyward/sqlite"
)

// keyMaterial is what the node signs, tags and digests with.
type keyMaterial struct {
	pepper      []byte // HMAC key of key-value digests
	signingSeed []byte // Ed25519 seed of audit checkpoints
	tailKey     []byte // HMAC key of audit tail tags
}

// openStore opens the store the configuration names, and the key material
// that goes with it. A single node keeps both in its data dir (SQLite,
// and 0600 key files). A node of a cluster (DatabaseURL) shares them: the
// store is the PostgreSQL database, and the key material is created once,
// by the first node, and kept in that database sealed by the keyring,
// which every node must therefore be started with.
func (s *Server) openStore(ctx context.Context, cfg Config) (*keyMaterial, error) {
	if cfg.DatabaseURL == "" {
		db, err := sqlite.Open(ctx, cfg.path(DatabaseFile))
		if err != nil {
			return nil, fmt.Errorf("database: %w", err)
		}
		s.store = db
		return localKeyMaterial(cfg)
	}
	if !cfg.TLS.AllowPlaintext {
		if err := postgres.CheckTransport(cfg.DatabaseURL); err != nil {
			return nil, &SettingError{Field: "DatabaseURL", Reason: err.Error(), Err: err}
		}
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		// postgres.Open's errors never quote the URL.
		return nil, &SettingError{Field: "DatabaseURL", Reason: err.Error(), Err: err}
	}
	s.store = db
	s.cluster = db
	sealer := envelope.NewSealer(s.keyring)
	shared := func(name string) ([]byte, error) {
		sealed, err := db.SharedKey(ctx, name, func() ([]byte, error) {
			fresh := make([]byte, 32)
			_, _ = rand.Read(fresh)
			return sealer.Seal(ctx, clusterKeyBinding(name), fresh)
		})
		if err != nil {
			return nil, err
		}
		key, err := sealer.Open(ctx, clusterKeyBinding(name), sealed)
		if err != nil {
			return nil, fmt.Errorf("the cluster's %s cannot be unsealed with this node's keyring (every node needs the keyring the first one was started with): %w", name, err)
		}
		if len(key) != 32 {
			return nil, fmt.Errorf("the cluster's %s is %d bytes, not 32", name, len(key))
		}
		return key, nil
	}
	var km keyMaterial
	for name, dst := range km.byName() {
		if *dst, err = shared(name); err != nil {
			return nil, err
		}
	}
	return &km, nil
}

// byName names the key material as a cluster stores it.
func (km *keyMaterial) byName() map[string]*[]byte {
	return map[string]*[]byte{"pepper": &km.pepper, "audit signing key": &km.signingSeed, "audit tail key": &km.tailKey}
}

// clusterKeyBinding binds a sealed cluster key to its name: one sealed as
// the pepper does not open as the signing key.
func clusterKeyBinding(name string) envelope.Binding {
	return envelope.Binding{Kind: "cluster-key", ID: name, Field: "key"}
}

// localKeyMaterial reads the data dir's key files, creating them on the
// first start (0600).
func localKeyMaterial(cfg Config) (*keyMaterial, error) {
	var km keyMaterial
	var err error
	if km.pepper, err = keyring.LoadOrCreateSecretFile(cfg.path(PepperFile), 32); err != nil {
		return nil, fmt.Errorf("pepper: %w", err)
	}
	if km.signingSeed, err = keyring.LoadOrCreateSecretFile(cfg.path(AuditSigningFile), ed25519.SeedSize); err != nil {
		return nil, fmt.Errorf("audit signing key: %w", err)
	}
	if km.tailKey, err = keyring.LoadOrCreateSecretFile(cfg.path(AuditTailKeyFile), 32); err != nil {
		return nil, fmt.Errorf("audit tail key: %w", err)
	}
	return &km, nil
}

// walCheckpoint truncates the store's write-ahead log where it keeps one
// (SQLite); PostgreSQL checkpoints itself.
func walCheckpoint(ctx context.Context, st keyward.Store) error {
	if c, ok := st.(interface{ CheckpointWAL(context.Context) error }); ok {
		return c.CheckpointWAL(ctx)
	}
	return nil
}

// ClusterMemberFile marks a data dir whose node has joined its cluster's
// audit log (its witness followed the shared log from then on).
const ClusterMemberFile = "cluster-member"

// joinCluster adopts the cluster's audit log as this node's witness the
// first time the node starts with this data dir: the log must verify in
// full first. Later starts check the witness as a single node does.
func (s *Server) joinCluster(ctx context.Context, cfg Config) error {
	if s.cluster == nil {
		return nil
	}
	if _, err := os.Stat(cfg.path(ClusterMemberFile)); err == nil {
		return nil
	}
	if _, err := os.Stat(cfg.path(AuditWitnessFile)); err == nil {
		return nil // a data dir of a node that ran before the marker
	}
	cp, err := s.service.Audit.Join(ctx)
	if err != nil {
		return fmt.Errorf("joining the cluster's audit log: %w", err)
	}
	if cp != nil {
		s.log.Info("joined the cluster's audit log", "treeSize", cp.Size, "root", cp.Root)
	}
	return os.WriteFile(cfg.path(ClusterMemberFile), []byte("this node's witness follows its cluster's audit log\n"), 0o600)
}

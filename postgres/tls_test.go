package postgres_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/internal/testpg"
	"github.com/keyward/keyward/postgres"
	"github.com/keyward/keyward/tlsconfig"
)

// The store over TLS to PostgreSQL: verify-full with the CA works; a
// client that does not trust the server's CA, or does not use TLS, is
// refused, and the refusal says why.
func TestTLSToPostgres(t *testing.T) {
	pg := testpg.Start(t, testpg.Options{TLS: true, NoFsync: true})
	port, caFile := pg.Port, pg.CAFile
	ctx := context.Background()
	base := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?connect_timeout=5", port)

	db, err := postgres.Open(ctx, base+"&sslmode=verify-full&sslrootcert="+caFile)
	if err != nil {
		t.Fatalf("verify-full with the CA: %v", err)
	}
	defer db.Close()
	if err := db.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
		now := time.Now().UTC()
		return tx.InsertKey(ctx, &keyward.APIKey{ID: "key_tls", Name: "tls", Enabled: true, CreatedAt: now, UpdatedAt: now})
	}); err != nil {
		t.Fatal(err)
	}

	other, otherKey, err := tlsconfig.NewCA("someone else's CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	otherFile := filepath.Join(t.TempDir(), "other.pem")
	if err := tlsconfig.WritePair(otherFile, otherFile+".key", other, otherKey); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Open(ctx, base+"&sslmode=verify-full&sslrootcert="+otherFile); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("an untrusted server certificate: %v", err)
	}
	if _, err := postgres.Open(ctx, base+"&sslmode=disable"); err == nil {
		t.Error("a plain connection to a TLS-only server was accepted")
	}
}

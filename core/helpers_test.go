package core_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/audit"
	"github.com/keyward/keyward/core"
	"github.com/keyward/keyward/envelope"
	"github.com/keyward/keyward/keyring"
	"github.com/keyward/keyward/keyvalue"
	"github.com/keyward/keyward/policy"
	"github.com/keyward/keyward/sqlite"
)

// fakeClock is a settable clock: tests move time instead of sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	svc    *core.Services
	store  keyward.Store
	clock  *fakeClock
	admin  context.Context
	dir    string
	hasher *keyvalue.Hasher
	cfg    core.Config
}

// newEnv wires a Service from the real parts (SQLite in a temp dir, a file
// keyring, the policy evaluator, an audit signer) and returns it with a
// context for the bootstrap admin.
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWithStore(t, nil)
}

func newEnvWithStore(t *testing.T, wrap func(keyward.Store) keyward.Store) *env {
	t.Helper()
	return newEnvWith(t, wrap, core.Hooks{})
}

// newEnvWithHooks is newEnv with core hooks (rotation steps, metrics).
func newEnvWithHooks(t *testing.T, hooks core.Hooks) *env {
	t.Helper()
	return newEnvWith(t, nil, hooks)
}

// restart replaces the service with a new one on the same store, keyring
// and pepper, as a server restart does; the admin context stays valid.
func (e *env) restart(t *testing.T, hooks core.Hooks) {
	t.Helper()
	e.cfg.Hooks = hooks
	e.svc = core.New(e.cfg)
	t.Cleanup(e.svc.Stop)
}

func newEnvWith(t *testing.T, wrap func(keyward.Store) keyward.Store, hooks core.Hooks) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// Every write runs twice, the first attempt rolled back (replayStore):
	// the whole suite holds the services to the Store contract's "fn must
	// not keep effects of an attempt that failed".
	var store keyward.Store = replayStore{db}
	if wrap != nil {
		store = wrap(db)
	}
	kr, err := keyring.OpenFile(filepath.Join(dir, "master.key"), true)
	if err != nil {
		t.Fatal(err)
	}
	h, err := keyvalue.NewHasher([]byte("0123456789abcdef0123456789abcdef-test-pepper"))
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(nil)
	clock := &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	cfg := core.Config{Store: store, Clock: clock, Hasher: h, Sealer: envelope.NewSealer(kr),
		Authorizer: policy.Evaluator{}, AuditLog: audit.NewLog(audit.NewSigner(priv), audit.NewTailKey(bytes.Repeat([]byte{7}, 32))),
		Witness: audit.NewWitness(filepath.Join(dir, "audit-witness")), Hooks: hooks}
	svc := core.New(cfg)
	t.Cleanup(svc.Stop)
	if err := svc.Audit.OpenAudit(ctx); err != nil {
		t.Fatal(err)
	}
	token, err := svc.Access.Bootstrap(ctx, nil)
	if err != nil || token == "" {
		t.Fatalf("bootstrap: %q %v", token, err)
	}
	e := &env{svc: svc, store: store, clock: clock, dir: dir, hasher: h, cfg: cfg}
	e.admin = e.login(t, token)
	return e
}

// login authenticates token and returns a context carrying its caller.
func (e *env) login(t *testing.T, token string) context.Context {
	t.Helper()
	p, tok, err := e.svc.Access.Authenticate(context.Background(), token)
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	return keyward.WithCaller(context.Background(), keyward.Caller{Principal: p, TokenID: tok.ID, SourceIP: "127.0.0.1", UserAgent: "test"})
}

// as creates a principal with role and returns its context.
func (e *env) as(t *testing.T, role string) context.Context {
	t.Helper()
	cp, err := e.svc.Access.CreatePrincipal(e.admin, keyward.PrincipalCreate{Name: "p-" + role + "-" + time.Now().Format("150405.000000000"), Roles: []string{role}})
	if err != nil {
		t.Fatal(err)
	}
	return e.login(t, cp.Token)
}

func (e *env) demoAPI(t *testing.T) *keyward.API {
	t.Helper()
	a, err := e.svc.APIs.CreateAPI(e.admin, keyward.APICreate{Name: "chat", OpenAICompatible: true,
		Stages: []keyward.Stage{{Name: "prod", UpstreamURL: "http://127.0.0.1:9/"}, {Name: "dev", UpstreamURL: "http://127.0.0.1:9/"}}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// auditRecords returns every audit event in the store.
func (e *env) auditEvents(t *testing.T) []keyward.AuditEvent {
	t.Helper()
	var out []keyward.AuditEvent
	err := e.store.View(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
		recs, err := tx.ListAudit(ctx, keyward.AuditFilter{Limit: 1000})
		for _, r := range recs {
			var ev keyward.AuditEvent
			if err := jsonUnmarshal(r.Event, &ev); err != nil {
				return err
			}
			out = append(out, ev)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := keyward.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

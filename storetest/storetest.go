// Package storetest is the behavioural conformance suite of keyward.Store.
// Every backend runs it (sqlite always, PostgreSQL wherever one is reachable),
// so that the core can rely on one behaviour whichever store it is given.
//
// The suite checks what store.go documents: results, ordering, pagination and
// error codes (never message text). Where the interface leaves a choice open
// the suite does not test it (a row whose parent is missing must fail, with
// whatever code), except for these, which it pins:
//   - getting, updating or deleting a missing row is ENOTFOUND, for every
//     kind of row, as store.go says for some;
//   - AuditFilter's Since and Until are inclusive bounds;
//   - identifiers and names order bytewise (in PostgreSQL, COLLATE "C");
//   - name prefixes match literally and case-sensitively (no LIKE wildcards).
//
// Empty and nil collections are taken as equal, and times are compared with
// time.Equal.
package storetest

import (
	"context"
	"testing"

	"github.com/keyward/keyward"
)

// Run runs the suite. open must return a fresh, empty store on each call; it
// should close the store in a t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) keyward.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Keys", keyTests},
		{"APIs", apiTests},
		{"Plans", planTests},
		{"Secrets", secretTests},
		{"Principals", principalTests},
		{"Policies", policyTests},
		{"Audit", auditTests},
		{"Idempotency", idempotencyTests},
		{"Usage", usageTests},
		{"Rotations", rotationTests},
		{"Webhooks", webhookTests},
		{"Transactions", txTests},
		{"CombinedWrites", combinedWriteTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.run(&harness{t: t, s: open(t)})
				})
			}
		})
	}
}

type test struct {
	name string
	run  func(h *harness)
}

// harness runs transactions against the store under test and reports
// failures to t.
type harness struct {
	t *testing.T
	s keyward.Store
}

type txFunc = func(ctx context.Context, tx keyward.Tx) error

// do runs fn in a read-write transaction; an error fails the test.
func (h *harness) do(fn txFunc) {
	h.t.Helper()
	if err := h.s.Update(h.t.Context(), fn); err != nil {
		h.t.Fatalf("Update: %v", err)
	}
}

// read runs fn in a read-only transaction; an error fails the test.
func (h *harness) read(fn txFunc) {
	h.t.Helper()
	if err := h.s.View(h.t.Context(), fn); err != nil {
		h.t.Fatalf("View: %v", err)
	}
}

// expect runs fn in a read-write transaction and checks the code of the
// error it returns (rolling the transaction back); code "" expects success.
func (h *harness) expect(code string, what string, fn txFunc) {
	h.t.Helper()
	err := h.s.Update(h.t.Context(), fn)
	if got := keyward.ErrorCode(err); got != code {
		h.t.Errorf("%s: error code %q (%v), want %q", what, got, err, code)
	}
}

// fails runs fn in a read-write transaction and checks that it returns an
// error, whatever its code: for cases store.go does not give a code for.
func (h *harness) fails(what string, fn txFunc) {
	h.t.Helper()
	if err := h.s.Update(h.t.Context(), fn); err == nil {
		h.t.Errorf("%s: no error", what)
	}
}

// equal reports a difference between got and want (see diff).
func (h *harness) equal(what string, got, want any) {
	h.t.Helper()
	if d := diff(got, want); d != "" {
		h.t.Errorf("%s: %s", what, d)
	}
}

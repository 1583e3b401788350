package postgres_test

// Adversarial tests of the writes the PostgreSQL store keeps back
// (sqlstore.Dialect.CommitWith) and sends with the transaction's next
// statement. Every scenario runs on both stores (SQLite as the reference,
// PostgreSQL under test) and, where it can, compares what each returns.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/sqlite"
	"github.com/keyward/keyward/storetest"
)

// both runs f on a fresh SQLite store (file-backed, so its Update batches)
// and on a fresh PostgreSQL store.
func both(t *testing.T, f func(t *testing.T, s keyward.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "k.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		f(t, db)
	})
	t.Run("postgres", func(t *testing.T) { f(t, openStore(t)) })
}

var hbT0 = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

func hbKey(id string) *keyward.APIKey {
	exp := hbT0.Add(24 * time.Hour)
	return &keyward.APIKey{ID: id, Name: "name-" + id, CustomerID: "cust", Enabled: true, Prefix: "kw",
		ExpiresAt: &exp, ValueSecret: "vs/" + id, CreatedAt: hbT0, UpdatedAt: hbT0}
}

func hbDigest(seed string) []byte {
	d := sha256.Sum256([]byte(seed))
	return d[:]
}

func hbCred(id, keyID string, label keyward.CredentialLabel) *keyward.Credential {
	return &keyward.Credential{ID: id, KeyID: keyID, Label: label, Hint: "kw_…" + id,
		CreatedAt: hbT0, Digest: hbDigest("digest:" + id), SealedValue: []byte("sealed:" + id)}
}

func hbPlan(id, name string) *keyward.UsagePlan {
	return &keyward.UsagePlan{ID: id, Name: name, CreatedAt: hbT0, UpdatedAt: hbT0}
}

func mustUpdate(t *testing.T, s keyward.Store, fn func(context.Context, keyward.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("setup Update: %v", err)
	}
}

// seedAttachedKey commits plan "plan-1" and key keyID with its CURRENT
// credential credID, attached to it.
func seedAttachedKey(t *testing.T, s keyward.Store, keyID, credID string) {
	t.Helper()
	mustUpdate(t, s, func(ctx context.Context, tx keyward.Tx) error {
		if err := tx.InsertPlan(ctx, hbPlan("plan-1", "one")); err != nil {
			return err
		}
		if err := tx.InsertKey(ctx, hbKey(keyID)); err != nil {
			return err
		}
		if err := tx.InsertCredential(ctx, hbCred(credID, keyID, keyward.LabelCurrent)); err != nil {
			return err
		}
		return tx.AttachKey(ctx, "plan-1", keyID)
	})
}

func keyExists(t *testing.T, s keyward.Store, id string) bool {
	t.Helper()
	var ok bool
	err := s.View(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.GetKey(ctx, id)
		switch keyward.ErrorCode(err) {
		case "":
			ok = true
		case keyward.ENOTFOUND:
		default:
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("GetKey %s: %v", id, err)
	}
	return ok
}

func auditHead(t *testing.T, s keyward.Store) int64 {
	t.Helper()
	var h int64
	if err := s.View(context.Background(), func(ctx context.Context, tx keyward.Tx) (err error) {
		h, err = tx.AuditHead(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return h
}

// ---------------------------------------------------------------------
// Attack 1: a held-back write fails, and the statement that carries it
// fails too, for its own reason. SQLite reports the held-back write's
// failure (its method returned it); PostgreSQL must report the same code.

func TestHeldBackFKFailureHiddenByCarrierConflict(t *testing.T) {
	codes := map[string]string{}
	var mu sync.Mutex
	both(t, func(t *testing.T, s keyward.Store) {
		mustUpdate(t, s, func(ctx context.Context, tx keyward.Tx) error {
			return tx.InsertPlan(ctx, hbPlan("plan-1", "taken"))
		})
		var credErr error
		err := s.Update(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
			// The key does not exist: ENOTFOUND (on SQLite, right here).
			if credErr = tx.InsertCredential(ctx, hbCred("cred-x", "key-missing", keyward.LabelCurrent)); credErr != nil {
				return credErr
			}
			// A plan whose name is taken: ECONFLICT of its own.
			return tx.InsertPlan(ctx, hbPlan("plan-2", "taken"))
		})
		t.Logf("InsertCredential returned %v; Update returned %v", credErr, err)
		mu.Lock()
		codes[t.Name()] = keyward.ErrorCode(err)
		mu.Unlock()
		if got := keyward.ErrorCode(err); got != keyward.ENOTFOUND {
			t.Errorf("credential of a missing key, then a plan with a taken name: code %q (%v), want %q (the credential's failure, the first one of the call)", got, err, keyward.ENOTFOUND)
		}
	})
	t.Logf("codes: %v", codes)
}

// The same with two unique violations: the call's first failure is the
// key's (a duplicate ID), not the plan's.
func TestHeldBackConflictHiddenByCarrierConflict(t *testing.T) {
	both(t, func(t *testing.T, s keyward.Store) {
		mustUpdate(t, s, func(ctx context.Context, tx keyward.Tx) error {
			if err := tx.InsertKey(ctx, hbKey("key-1")); err != nil {
				return err
			}
			return tx.InsertPlan(ctx, hbPlan("plan-1", "taken"))
		})
		err := s.Update(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
			if err := tx.InsertKey(ctx, hbKey("key-1")); err != nil {
				return err
			}
			return tx.InsertPlan(ctx, hbPlan("plan-2", "taken"))
		})
		if keyward.ErrorCode(err) != keyward.ECONFLICT {
			t.Fatalf("code %q (%v), want ECONFLICT", keyward.ErrorCode(err), err)
		}
		if !strings.Contains(keyward.ErrorMessage(err), "key-1") {
			t.Errorf("error %q does not name the key whose insert failed first (the plan's conflict was reported instead)", keyward.ErrorMessage(err))
		}
	})
}

// ---------------------------------------------------------------------
// Attack 2: several held-back writes into one table, one of which fails:
// the error must be the failing write's, not the first one's.

func TestHeldBackFailureBlamedOnRightWrite(t *testing.T) {
	both(t, func(t *testing.T, s keyward.Store) {
		mustUpdate(t, s, func(ctx context.Context, tx keyward.Tx) error {
			if err := tx.InsertKey(ctx, hbKey("key-old")); err != nil {
				return err
			}
			return tx.InsertKey(ctx, hbKey("key-a"))
		})
		t.Run("keys", func(t *testing.T) {
			err := s.Update(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
				if err := tx.InsertKey(ctx, hbKey("key-new")); err != nil {
					return err
				}
				if err := tx.InsertKey(ctx, hbKey("key-old")); err != nil {
					return err
				}
				_, err := tx.GetKey(ctx, "key-new")
				return err
			})
			if keyward.ErrorCode(err) != keyward.ECONFLICT {
				t.Fatalf("code %q (%v), want ECONFLICT", keyward.ErrorCode(err), err)
			}
			if msg := keyward.ErrorMessage(err); !strings.Contains(msg, "key-old") || strings.Contains(msg, "key-new") {
				t.Errorf("duplicate key-old reported as %q", msg)
			}
		})
		t.Run("credentials", func(t *testing.T) {
			err := s.Update(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
				if err := tx.InsertCredential(ctx, hbCred("cred-a", "key-a", keyward.LabelCurrent)); err != nil {
					return err
				}
				if err := tx.InsertCredential(ctx, hbCred("cred-b", "key-b-missing", keyward.LabelCurrent)); err != nil {
					return err
				}
				_, err := tx.GetKey(ctx, "key-a")
				return err
			})
			if keyward.ErrorCode(err) != keyward.ENOTFOUND {
				t.Fatalf("code %q (%v), want ENOTFOUND", keyward.ErrorCode(err), err)
			}
			if msg := keyward.ErrorMessage(err); !strings.Contains(msg, "key-b-missing") {
				t.Errorf("credential of missing key-b-missing reported as %q (names a key that exists)", msg)
			}
		})
	})
}

// ---------------------------------------------------------------------
// Attack 3: every Tx method run after held-back inserts sees them, in a
// call alone and in calls sharing a batch.

func seeHeldBack(ctx context.Context, tx keyward.Tx, id, plan string) error {
	k := hbKey(id)
	k.Rotation = &keyward.RotationPolicy{Every: keyward.Duration(time.Hour)}
	if err := tx.InsertKey(ctx, k); err != nil {
		return err
	}
	c := hbCred(id+"-cur", id, keyward.LabelCurrent)
	if err := tx.InsertCredential(ctx, c); err != nil {
		return err
	}
	check := func(what string, ok bool) error {
		if !ok {
			return fmt.Errorf("%s does not see the key inserted before it in its call", what)
		}
		return nil
	}
	if got, err := tx.FindCredential(ctx, c.Digest); err != nil || got.KeyID != id {
		return fmt.Errorf("FindCredential: %v %v", got, err)
	}
	if got, err := tx.GetKeys(ctx, []string{id}); err != nil || len(got) != 1 || len(got[0].Credentials) != 1 {
		return fmt.Errorf("GetKeys: %d %v", len(got), err)
	}
	for _, f := range []keyward.KeyFilter{{CustomerID: "cust"}, {NamePrefix: "name-" + id}, {ValueSecret: "vs/" + id}, {UnusedSince: ptrTime(hbT0.Add(time.Hour))}} {
		f.Limit = 1000
		keys, _, err := tx.ListKeys(ctx, f)
		if err != nil {
			return err
		}
		if err := check(fmt.Sprintf("ListKeys(%+v)", f), slices.ContainsFunc(keys, func(k *keyward.APIKey) bool { return k.ID == id && len(k.Credentials) == 1 })); err != nil {
			return err
		}
	}
	var seen bool
	if err := tx.EachGatewayKey(ctx, func(k *keyward.APIKey) error {
		if k.ID == id && len(k.Credentials) == 1 {
			seen = true
		}
		return nil
	}); err != nil {
		return err
	}
	if err := check("EachGatewayKey", seen); err != nil {
		return err
	}
	if gk, err := tx.GatewayKeys(ctx, []string{id}); err != nil || len(gk) != 1 || len(gk[0].Credentials) != 1 {
		return fmt.Errorf("GatewayKeys: %v %v", gk, err)
	}
	seen = false
	if err := tx.EachScheduledKey(ctx, nil, func(k *keyward.APIKey) error {
		if k.ID == id {
			seen = true
		}
		return nil
	}); err != nil {
		return err
	}
	if err := check("EachScheduledKey", seen); err != nil {
		return err
	}
	// A second credential, then an update of the first one, then a delete.
	if err := tx.InsertCredential(ctx, hbCred(id+"-pen", id, keyward.LabelPending)); err != nil {
		return err
	}
	g := time.Now().UTC().Truncate(time.Second)
	c.Label, c.GraceUntil = keyward.LabelPrevious, &g
	if err := tx.UpdateCredential(ctx, c); err != nil {
		return fmt.Errorf("UpdateCredential of a held-back credential: %w", err)
	}
	if err := tx.DeleteCredential(ctx, id+"-pen"); err != nil {
		return fmt.Errorf("DeleteCredential of a held-back credential: %w", err)
	}
	// Usage of the key: its last use is recorded only when the key exists.
	if err := tx.AddUsage(ctx, []keyward.UsageDay{{KeyID: id, Day: "2025-03-14", Requests: 1, LastUsed: hbT0}}); err != nil {
		return err
	}
	if err := tx.AttachKey(ctx, plan, id); err != nil {
		return fmt.Errorf("AttachKey: %w", err)
	}
	ids, _, err := tx.ListPlanKeyIDs(ctx, plan, keyward.Page{Limit: 1000})
	if err != nil {
		return err
	}
	if err := check("ListPlanKeyIDs", slices.Contains(ids, id)); err != nil {
		return err
	}
	keys, _, err := tx.ListKeys(ctx, keyward.KeyFilter{PlanID: plan, Page: keyward.Page{Limit: 1000}})
	if err != nil {
		return err
	}
	if err := check("ListKeys(PlanID)", slices.ContainsFunc(keys, func(k *keyward.APIKey) bool { return k.ID == id })); err != nil {
		return err
	}
	if err := storetest.AppendNext(ctx, tx, "create "+id); err != nil {
		return err
	}
	head, err := tx.AuditHead(ctx)
	if err != nil {
		return err
	}
	recs, err := tx.ListAudit(ctx, keyward.AuditFilter{AfterSeq: head - 1})
	if err != nil {
		return err
	}
	if len(recs) != 1 || recs[0].Seq != head || !strings.Contains(string(recs[0].Event), "create "+id) {
		return fmt.Errorf("ListAudit after the append: %d records", len(recs))
	}
	got, err := tx.GetKey(ctx, id)
	if err != nil {
		return err
	}
	if len(got.Credentials) != 1 || got.Credentials[0].Label != keyward.LabelPrevious || got.LastUsedAt == nil || len(got.PlanIDs) != 1 {
		return fmt.Errorf("GetKey at the end: %d credentials %+v, last used %v, plans %v", len(got.Credentials), got.Credentials, got.LastUsedAt, got.PlanIDs)
	}
	// Rename it, then delete it and insert it again.
	got.Name = "renamed"
	if err := tx.UpdateKey(ctx, got); err != nil {
		return err
	}
	if err := tx.InsertKey(ctx, hbKey(id+"-tmp")); err != nil {
		return err
	}
	if err := tx.DeleteKey(ctx, id+"-tmp"); err != nil {
		return fmt.Errorf("DeleteKey of a held-back key: %w", err)
	}
	return tx.InsertKey(ctx, hbKey(id+"-tmp"))
}

func ptrTime(t time.Time) *time.Time { return &t }

func TestHeldBackWritesSeenByEveryMethod(t *testing.T) {
	both(t, func(t *testing.T, s keyward.Store) {
		mustUpdate(t, s, func(ctx context.Context, tx keyward.Tx) error { return tx.InsertPlan(ctx, hbPlan("plan-1", "one")) })
		t.Run("alone", func(t *testing.T) {
			if err := s.Update(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
				return seeHeldBack(ctx, tx, "key-alone", "plan-1")
			}); err != nil {
				t.Fatal(err)
			}
			if !keyExists(t, s, "key-alone") || !keyExists(t, s, "key-alone-tmp") {
				t.Fatal("committed keys missing")
			}
		})
		t.Run("batched", func(t *testing.T) {
			const n = 48
			errs := make([]error, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					errs[i] = s.Update(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
						return seeHeldBack(ctx, tx, fmt.Sprintf("key-b%02d", i), "plan-1")
					})
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("call %d: %v", i, err)
				} else if !keyExists(t, s, fmt.Sprintf("key-b%02d", i)) {
					t.Errorf("call %d returned nil, its key is missing", i)
				}
			}
			if h := auditHead(t, s); h != n+1 {
				t.Errorf("audit head %d, want %d", h, n+1)
			}
		})
	})
}

// ---------------------------------------------------------------------
// Attack 4: a held-back write fails; the call probes an attach that
// conflicts, takes the ECONFLICT as "already attached", goes on and
// returns nil. Its Update must fail, and nothing of it is committed.

func TestHeldBackFailureThenHandledProbeThenSuccess(t *testing.T) {
	both(t, func(t *testing.T, s keyward.Store) {
		seedAttachedKey(t, s, "key-1", "cred-1")
		head0 := auditHead(t, s)
		var insErr error
		err := s.Update(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
			_ = tx.InsertKey(ctx, hbKey("key-2"))
			c := hbCred("cred-2", "key-2", keyward.LabelCurrent)
			c.Digest = hbDigest("digest:cred-1") // in use
			insErr = tx.InsertCredential(ctx, c)
			if err := tx.AttachKey(ctx, "plan-1", "key-1"); err != nil && keyward.ErrorCode(err) != keyward.ECONFLICT {
				return err
			}
			_ = tx.InsertKey(ctx, hbKey("key-3"))
			_ = storetest.AppendNext(ctx, tx, "after")
			_, _ = tx.GetKey(ctx, "key-3")
			return nil
		})
		t.Logf("InsertCredential: %v; Update: %v", insErr, err)
		if insErr == nil && err == nil {
			t.Fatal("InsertCredential returned nil, its row could not be written, and Update returned nil")
		}
		if err == nil {
			// SQLite: the method returned its error and the call chose to go on.
			if !keyExists(t, s, "key-3") {
				t.Error("Update returned nil, key-3 missing")
			}
			return
		}
		// Told of the conflict, the call went on: on PostgreSQL its
		// transaction is then aborted, and the Update fails with whatever
		// the next statement met. Not told (a write kept back), the
		// conflict is the Update's error.
		if insErr == nil && keyward.ErrorCode(err) != keyward.ECONFLICT {
			t.Errorf("Update code %q (%v), want ECONFLICT (the credential's)", keyward.ErrorCode(err), err)
		}
		for _, id := range []string{"key-2", "key-3"} {
			if keyExists(t, s, id) {
				t.Errorf("%s committed by a failed Update", id)
			}
		}
		if h := auditHead(t, s); h != head0 {
			t.Errorf("audit head moved %d -> %d for a failed Update", head0, h)
		}
	})
}

// ---------------------------------------------------------------------
// Attack 5: many writes in one call, past the bound of what is kept back
// (256), with and without one failing in the middle.

func TestManyHeldBackWritesInOneCall(t *testing.T) {
	both(t, func(t *testing.T, s keyward.Store) {
		const n = 700
		err := s.Update(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
			for i := range n {
				id := fmt.Sprintf("key-%04d", i)
				if err := tx.InsertKey(ctx, hbKey(id)); err != nil {
					return err
				}
				if err := tx.InsertCredential(ctx, hbCred(id+"-c", id, keyward.LabelCurrent)); err != nil {
					return err
				}
				if i%100 == 0 {
					if err := storetest.AppendNext(ctx, tx, id); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var count int
		if err := s.View(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
			return tx.EachGatewayKey(ctx, func(k *keyward.APIKey) error {
				if len(k.Credentials) == 1 {
					count++
				}
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		if count != n {
			t.Errorf("%d keys with a credential, want %d", count, n)
		}
		if h := auditHead(t, s); h != 7 {
			t.Errorf("audit head %d, want 7", h)
		}
		// Again, one credential in the middle reusing a digest.
		for _, ignore := range []bool{false, true} {
			var methodErrs int
			err = s.Update(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
				for i := range n {
					id := fmt.Sprintf("key-x%v-%04d", ignore, i)
					if err := tx.InsertKey(ctx, hbKey(id)); err != nil {
						methodErrs++
						if !ignore {
							return err
						}
					}
					c := hbCred(id+"-c", id, keyward.LabelCurrent)
					if i == 333 {
						c.Digest = hbDigest("digest:key-0001-c")
					}
					if err := tx.InsertCredential(ctx, c); err != nil {
						methodErrs++
						if !ignore {
							return err
						}
					}
				}
				return storetest.AppendNext(ctx, tx, "many")
			})
			t.Logf("ignore=%v: %d method errors, Update: %v", ignore, methodErrs, err)
			switch {
			case err == nil && (!ignore || methodErrs != 1):
				// Every method but the one that reported its failure
				// returned nil: their rows must all be there.
				t.Errorf("ignore=%v: a call with a duplicate digest committed (%d method errors)", ignore, methodErrs)
			case err == nil:
				for _, id := range []string{"0000", "0333", "0699"} {
					if !keyExists(t, s, fmt.Sprintf("key-x%v-%s", ignore, id)) {
						t.Errorf("ignore=%v: Update nil, key %s missing", ignore, id)
					}
				}
			case !ignore && keyward.ErrorCode(err) != keyward.ECONFLICT:
				t.Errorf("ignore=%v: code %q (%v), want ECONFLICT", ignore, keyward.ErrorCode(err), err)
			case keyExists(t, s, fmt.Sprintf("key-x%v-0000", ignore)) || keyExists(t, s, fmt.Sprintf("key-x%v-0699", ignore)):
				t.Errorf("ignore=%v: part of a failed call committed", ignore)
			}
		}
	})
}

// ---------------------------------------------------------------------
// Attack 6: duplicates within one call, and delete/insert again.

func TestHeldBackDuplicatesWithinOneCall(t *testing.T) {
	both(t, func(t *testing.T, s keyward.Store) {
		cases := []struct {
			name string
			code string
			fn   func(ctx context.Context, tx keyward.Tx) error
		}{
			{"same key twice", keyward.ECONFLICT, func(ctx context.Context, tx keyward.Tx) error {
				if err := tx.InsertKey(ctx, hbKey("d1")); err != nil {
					return err
				}
				if err := tx.InsertKey(ctx, hbKey("d1")); err != nil {
					return err
				}
				return storetest.AppendNext(ctx, tx, "d1")
			}},
			{"same credential ID on two keys", keyward.ECONFLICT, func(ctx context.Context, tx keyward.Tx) error {
				for _, k := range []string{"d2a", "d2b"} {
					if err := tx.InsertKey(ctx, hbKey(k)); err != nil {
						return err
					}
					c := hbCred("d2-cred", k, keyward.LabelCurrent)
					c.Digest = hbDigest(k)
					if err := tx.InsertCredential(ctx, c); err != nil {
						return err
					}
				}
				return nil
			}},
			{"same label twice", keyward.ECONFLICT, func(ctx context.Context, tx keyward.Tx) error {
				if err := tx.InsertKey(ctx, hbKey("d3")); err != nil {
					return err
				}
				if err := tx.InsertCredential(ctx, hbCred("d3-a", "d3", keyward.LabelCurrent)); err != nil {
					return err
				}
				return tx.InsertCredential(ctx, hbCred("d3-b", "d3", keyward.LabelCurrent))
			}},
			{"credential after its key's delete", keyward.ENOTFOUND, func(ctx context.Context, tx keyward.Tx) error {
				if err := tx.InsertKey(ctx, hbKey("d4")); err != nil {
					return err
				}
				if err := tx.InsertCredential(ctx, hbCred("d4-a", "d4", keyward.LabelCurrent)); err != nil {
					return err
				}
				if err := tx.DeleteKey(ctx, "d4"); err != nil {
					return err
				}
				if err := tx.InsertCredential(ctx, hbCred("d4-b", "d4", keyward.LabelCurrent)); err != nil {
					return err
				}
				return storetest.AppendNext(ctx, tx, "d4")
			}},
			{"delete then insert again", "", func(ctx context.Context, tx keyward.Tx) error {
				if err := tx.InsertKey(ctx, hbKey("d5")); err != nil {
					return err
				}
				if err := tx.InsertCredential(ctx, hbCred("d5-a", "d5", keyward.LabelCurrent)); err != nil {
					return err
				}
				if err := tx.DeleteKey(ctx, "d5"); err != nil {
					return err
				}
				if err := tx.InsertKey(ctx, hbKey("d5")); err != nil {
					return err
				}
				return tx.InsertCredential(ctx, hbCred("d5-a", "d5", keyward.LabelCurrent))
			}},
			{"NOT NULL digest", keyward.EINTERNAL, func(ctx context.Context, tx keyward.Tx) error {
				if err := tx.InsertKey(ctx, hbKey("d6")); err != nil {
					return err
				}
				c := hbCred("d6-a", "d6", keyward.LabelCurrent)
				c.Digest = nil
				if err := tx.InsertCredential(ctx, c); err != nil {
					return err
				}
				return storetest.AppendNext(ctx, tx, "d6")
			}},
		}
		for _, c := range cases {
			head0 := auditHead(t, s)
			err := s.Update(context.Background(), c.fn)
			if got := keyward.ErrorCode(err); got != c.code {
				t.Errorf("%s: code %q (%v), want %q", c.name, got, err, c.code)
			}
			if c.code != "" && auditHead(t, s) != head0 {
				t.Errorf("%s: failed call moved the audit head", c.name)
			}
		}
		if !keyExists(t, s, "d5") {
			t.Error("d5 missing")
		}
		for _, id := range []string{"d1", "d2a", "d3", "d4", "d6"} {
			if keyExists(t, s, id) {
				t.Errorf("%s committed by a failed call", id)
			}
		}
	})
}

// ---------------------------------------------------------------------
// Attack 7: no secret material in the errors of held-back writes.

func TestHeldBackErrorsCarryNoSecret(t *testing.T) {
	both(t, func(t *testing.T, s keyward.Store) {
		secretDigest := hbDigest("THE-KEY-VALUE")
		sealed := []byte("SEALED-SECRET-ENVELOPE-0123456789")
		mustUpdate(t, s, func(ctx context.Context, tx keyward.Tx) error {
			if err := tx.InsertKey(ctx, hbKey("k1")); err != nil {
				return err
			}
			c := hbCred("c1", "k1", keyward.LabelCurrent)
			c.Digest, c.SealedValue = secretDigest, sealed
			return tx.InsertCredential(ctx, c)
		})
		var errs []error
		for i, mutate := range []func(c *keyward.Credential){
			func(c *keyward.Credential) {},                      // duplicate digest
			func(c *keyward.Credential) { c.KeyID = "missing" }, // missing key
			func(c *keyward.Credential) { c.Digest = nil },      // NOT NULL
		} {
			err := s.Update(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
				id := fmt.Sprintf("k%d", i+2)
				if err := tx.InsertKey(ctx, hbKey(id)); err != nil {
					return err
				}
				c := hbCred(fmt.Sprintf("c%d", i+2), id, keyward.LabelCurrent)
				c.Digest, c.SealedValue = secretDigest, sealed
				mutate(c)
				if err := tx.InsertCredential(ctx, c); err != nil {
					return err
				}
				return storetest.AppendNext(ctx, tx, "x")
			})
			if err == nil {
				t.Fatalf("case %d: no error", i)
			}
			errs = append(errs, err)
		}
		for _, err := range errs {
			msg := err.Error()
			for _, bad := range []string{hex.EncodeToString(secretDigest), base64.StdEncoding.EncodeToString(secretDigest), string(sealed), hex.EncodeToString(sealed), "THE-KEY-VALUE"} {
				if strings.Contains(strings.ToLower(msg), strings.ToLower(bad)) {
					t.Errorf("error %q holds secret material", msg)
				}
			}
		}
	})
}

// ---------------------------------------------------------------------
// Attack 8: 240 concurrent calls (several batches), mixing calls that
// succeed (with and without an audit record), calls whose held-back write
// fails (duplicate digest, missing parent, NOT NULL), calls that swallow
// that failure and return nil, calls that fail after held-back writes,
// panics, calls cancelled before they run and calls that cancel their own
// context mid-way. Each call's outcome is its own; the audit log holds
// exactly one record per committed call that appended one, gap-free.

type hbKind int

const (
	kOK hbKind = iota
	kOKNoAudit
	kDupDigest
	kMissingParent
	kNotNull
	kSwallow
	kFnErr
	kPanic
	kCancelBefore
	kCancelMid
	kKinds
)

func TestHeldBackConcurrentMix(t *testing.T) {
	both(t, func(t *testing.T, s keyward.Store) {
		seedAttachedKey(t, s, "shared", "shared-c")
		const n = 240
		type outcome struct {
			err      error
			panicked bool
		}
		out := make([]outcome, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			kind := hbKind(i % int(kKinds))
			wg.Go(func() {
				defer func() {
					if v := recover(); v != nil {
						out[i].panicked = true
					}
				}()
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				<-start
				if kind == kCancelBefore {
					cancel()
				}
				id := fmt.Sprintf("m%03d", i)
				out[i].err = s.Update(ctx, func(ctx context.Context, tx keyward.Tx) error {
					if err := tx.InsertKey(ctx, hbKey(id)); err != nil {
						return err
					}
					c := hbCred(id+"-c", id, keyward.LabelCurrent)
					switch kind {
					case kDupDigest, kSwallow:
						c.Digest = hbDigest("digest:shared-c")
					case kMissingParent:
						c.KeyID = "nope-" + id
					case kNotNull:
						c.Digest = nil
					}
					cerr := tx.InsertCredential(ctx, c)
					if cerr != nil && kind != kSwallow {
						return cerr
					}
					// A handled conflict probe.
					if err := tx.AttachKey(ctx, "plan-1", "shared"); keyward.ErrorCode(err) != keyward.ECONFLICT && kind != kSwallow {
						return fmt.Errorf("probe: %v", err)
					}
					if kind == kOKNoAudit {
						return nil
					}
					if kind == kCancelMid {
						cancel()
					}
					if err := storetest.AppendNext(ctx, tx, id); err != nil && kind != kSwallow {
						return err
					}
					switch kind {
					case kFnErr:
						return errors.New("fn fails after its writes")
					case kPanic:
						panic("fn panics after its writes")
					}
					return nil
				})
			})
		}
		close(start)
		wg.Wait()
		var wantAudit []string
		for i := range n {
			kind := hbKind(i % int(kKinds))
			id := fmt.Sprintf("m%03d", i)
			o := out[i]
			exists := keyExists(t, s, id)
			if o.err == nil && !o.panicked && !exists {
				t.Errorf("%s (kind %d): Update returned nil, key missing", id, kind)
			}
			if (o.err != nil || o.panicked) && exists {
				t.Errorf("%s (kind %d): Update failed (%v, panicked %v), key committed", id, kind, o.err, o.panicked)
			}
			want := ""
			switch kind {
			case kDupDigest:
				want = keyward.ECONFLICT
			case kMissingParent:
				want = keyward.ENOTFOUND
			case kNotNull, kFnErr:
				want = keyward.EINTERNAL
			}
			switch kind {
			case kOK, kOKNoAudit, kCancelMid:
				if o.err != nil || o.panicked {
					t.Errorf("%s (kind %d): %v (panicked %v), want success", id, kind, o.err, o.panicked)
				}
			case kDupDigest, kMissingParent, kNotNull, kFnErr:
				if got := keyward.ErrorCode(o.err); got != want {
					t.Errorf("%s (kind %d): code %q (%v), want %q", id, kind, got, o.err, want)
				}
			case kSwallow:
				if o.err == nil && exists {
					// SQLite: only the credential failed, and the call went on.
					var ok bool
					_ = s.View(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
						k, err := tx.GetKey(ctx, id)
						ok = err == nil && len(k.Credentials) == 0
						return nil
					})
					if !ok {
						t.Errorf("%s: swallowed credential committed", id)
					}
				}
			case kPanic:
				if !o.panicked {
					t.Errorf("%s: panic lost (%v)", id, o.err)
				}
			case kCancelBefore:
				if o.err == nil && !exists {
					t.Errorf("%s: nil without its key", id)
				}
			}
			if o.err == nil && !o.panicked && kind != kOKNoAudit {
				wantAudit = append(wantAudit, id)
			}
		}
		// The audit log: gap-free, one record per committed call that appended.
		var names []string
		if err := s.View(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
			after := int64(0)
			for {
				recs, err := tx.ListAudit(ctx, keyward.AuditFilter{AfterSeq: after, Limit: 1000})
				if err != nil {
					return err
				}
				if len(recs) == 0 {
					return nil
				}
				for _, r := range recs {
					if r.Seq != after+1 {
						return fmt.Errorf("audit gap: %d after %d", r.Seq, after)
					}
					after = r.Seq
					for _, w := range []string{"m"} {
						if i := strings.Index(string(r.Event), `"eventName":"`+w); i >= 0 {
							names = append(names, string(r.Event)[i+len(`"eventName":"`):i+len(`"eventName":"`)+4])
						}
					}
				}
			}
		}); err != nil {
			t.Fatal(err)
		}
		slices.Sort(names)
		slices.Sort(wantAudit)
		if !slices.Equal(names, wantAudit) {
			t.Errorf("audit records of %d calls %v,\nwant %d: %v", len(names), names, len(wantAudit), wantAudit)
		}
	})
}

// ---------------------------------------------------------------------
// Attack 9: the calls of a batch hold back only inserts (no audit) and one
// of them has a failing write flushed by another call's read: only the
// failing call fails.

func TestHeldBackFailureFlushedByAnotherCallsRead(t *testing.T) {
	both(t, func(t *testing.T, s keyward.Store) {
		mustUpdate(t, s, func(ctx context.Context, tx keyward.Tx) error { return tx.InsertKey(ctx, hbKey("taken")) })
		const n = 60
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				errs[i] = s.Update(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
					id := fmt.Sprintf("r%02d", i)
					if i%3 == 0 {
						return tx.InsertKey(ctx, hbKey("taken")) // held back, nothing else
					}
					if err := tx.InsertKey(ctx, hbKey(id)); err != nil {
						return err
					}
					// A read: in a shared batch it writes every call's held-back rows.
					if _, err := tx.GetKey(ctx, id); err != nil {
						return err
					}
					return nil
				})
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			id := fmt.Sprintf("r%02d", i)
			if i%3 == 0 {
				if keyward.ErrorCode(err) != keyward.ECONFLICT {
					t.Errorf("%s: %v, want ECONFLICT", id, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v, want success (another call's write failed)", id, err)
			} else if !keyExists(t, s, id) {
				t.Errorf("%s: lost", id)
			}
		}
	})
}

// ---------------------------------------------------------------------
// Attack 10: very long values held back, and a long key ID.

func TestHeldBackLongStrings(t *testing.T) {
	both(t, func(t *testing.T, s keyward.Store) {
		long := strings.Repeat("x", 4<<20)
		k := hbKey("long")
		k.Description = long
		c := hbCred("long-c", "long", keyward.LabelCurrent)
		c.SealedValue = []byte(long)
		c.Hint = strings.Repeat("h", 100000)
		mustUpdate(t, s, func(ctx context.Context, tx keyward.Tx) error {
			if err := tx.InsertKey(ctx, k); err != nil {
				return err
			}
			if err := tx.InsertCredential(ctx, c); err != nil {
				return err
			}
			got, err := tx.GetKey(ctx, "long")
			if err != nil {
				return err
			}
			if got.Description != long || len(got.Credentials) != 1 || string(got.Credentials[0].SealedValue) != long {
				return errors.New("long values read back changed")
			}
			return storetest.AppendNext(ctx, tx, "long")
		})
		// An ID too long for a PostgreSQL index: whatever the store
		// answers, nil means the key is there.
		var b strings.Builder
		for i := 0; b.Len() < 9000; i++ {
			b.WriteString(hex.EncodeToString(hbDigest(fmt.Sprint(i))))
		}
		id := b.String()
		var insErr error
		err := s.Update(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
			insErr = tx.InsertKey(ctx, hbKey(id))
			_ = storetest.AppendNext(ctx, tx, "longid")
			return nil
		})
		t.Logf("long ID: InsertKey %v, Update %v", insErr, err)
		if insErr == nil && err == nil && !keyExists(t, s, id) {
			t.Error("InsertKey and Update returned nil, the key is missing")
		}
		if err != nil && strings.Contains(err.Error(), id[:64]) {
			t.Errorf("error quotes the value: %.200s", err)
		}
	})
}

// ---------------------------------------------------------------------
// Attack 11: attack 1 under concurrency: each call's error is its first
// failure (ENOTFOUND, a credential of a missing key), not the conflict
// of the plan insert that carried the held-back credential; calls that
// do not fail commit.

func TestHeldBackFailureHiddenByCarrierInABatch(t *testing.T) {
	both(t, func(t *testing.T, s keyward.Store) {
		mustUpdate(t, s, func(ctx context.Context, tx keyward.Tx) error { return tx.InsertPlan(ctx, hbPlan("plan-0", "taken")) })
		const n = 64
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				errs[i] = s.Update(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
					id := fmt.Sprintf("b%02d", i)
					if i%2 == 0 {
						if err := tx.InsertKey(ctx, hbKey(id)); err != nil {
							return err
						}
						if err := tx.InsertCredential(ctx, hbCred(id+"-c", id, keyward.LabelCurrent)); err != nil {
							return err
						}
						return storetest.AppendNext(ctx, tx, id)
					}
					if err := tx.InsertCredential(ctx, hbCred(id+"-c", "missing-"+id, keyward.LabelCurrent)); err != nil {
						return err
					}
					return tx.InsertPlan(ctx, hbPlan("plan-"+id, "taken"))
				})
			})
		}
		close(start)
		wg.Wait()
		wrong := 0
		for i, err := range errs {
			if i%2 == 0 {
				if err != nil {
					t.Errorf("call %d: %v", i, err)
				}
				continue
			}
			if keyward.ErrorCode(err) != keyward.ENOTFOUND {
				wrong++
				if wrong <= 3 {
					t.Errorf("call %d: code %q (%v), want ENOTFOUND", i, keyward.ErrorCode(err), err)
				}
			}
		}
		if wrong > 0 {
			t.Errorf("%d of %d failing calls reported the wrong code", wrong, n/2)
		}
		if h := auditHead(t, s); h != n/2 {
			t.Errorf("audit head %d, want %d", h, n/2)
		}
	})
}

// ---------------------------------------------------------------------
// Attack 12: an insert in a read-only View is never silently dropped:
// either the method or View reports an error.

func TestHeldBackWriteInViewNotDropped(t *testing.T) {
	both(t, func(t *testing.T, s keyward.Store) {
		var insErr error
		err := s.View(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
			insErr = tx.InsertKey(ctx, hbKey("in-view"))
			return nil
		})
		if insErr == nil && err == nil {
			t.Fatal("InsertKey in a View returned nil, and so did View")
		}
		if keyExists(t, s, "in-view") {
			t.Error("a View wrote a key")
		}
	})
}

// ---------------------------------------------------------------------
// Attack 13: a call alone panics after held-back writes and an append;
// nothing of it lands, and the next call starts clean.

func TestHeldBackPanicAlone(t *testing.T) {
	both(t, func(t *testing.T, s keyward.Store) {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("panic lost")
				}
			}()
			_ = s.Update(context.Background(), func(ctx context.Context, tx keyward.Tx) error {
				_ = tx.InsertKey(ctx, hbKey("p1"))
				_ = tx.InsertCredential(ctx, hbCred("p1-c", "p1", keyward.LabelCurrent))
				_ = storetest.AppendNext(ctx, tx, "p1")
				_ = tx.InsertKey(ctx, hbKey("p2"))
				panic("after held-back writes")
			})
		}()
		mustUpdate(t, s, func(ctx context.Context, tx keyward.Tx) error {
			if err := tx.InsertKey(ctx, hbKey("p3")); err != nil {
				return err
			}
			return storetest.AppendNext(ctx, tx, "p3")
		})
		for _, id := range []string{"p1", "p2"} {
			if keyExists(t, s, id) {
				t.Errorf("%s of a panicked call committed", id)
			}
		}
		if !keyExists(t, s, "p3") || auditHead(t, s) != 1 {
			t.Errorf("after the panic: p3 %v, head %d (want 1)", keyExists(t, s, "p3"), auditHead(t, s))
		}
	})
}

package storetest

import (
	"context"
	"fmt"
	"time"

	"github.com/keyward/keyward"
)

var usageTests = []test{
	{"AddSums", testUsageAddSums},
	{"ListRange", testUsageListRange},
	{"ListSince", testUsageListSince},
	{"OutlivesKey", testUsageOutlivesKey},
	{"LastUsed", testUsageLastUsed},
}

// testUsageLastUsed: AddUsage with LastUsed records when a key was last
// used, to the minute, never going back; GetKey and ListKeys show it; the
// UnusedSince filter keeps keys last used (or, never used, created) before
// the cut; a deleted key's usage still adds.
func testUsageLastUsed(h *harness) {
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		for _, id := range []string{"k1", "k2", "k3"} {
			k := newKey(id)
			k.CreatedAt = t0
			if err := tx.InsertKey(ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
	add := func(rows ...keyward.UsageDay) {
		h.t.Helper()
		h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.AddUsage(ctx, rows) })
	}
	used := func(id string, when time.Time) keyward.UsageDay {
		u := usage(id, when.UTC().Format(keyward.DayFormat), 1, 0, 0)
		u.LastUsed = when
		return u
	}
	add(used("k1", at(10*time.Minute+17*time.Second)), used("k2", at(2*time.Hour+59*time.Second)))
	add(used("k1", at(5*time.Minute))) // earlier: does not go back
	add(used("gone", at(time.Hour)))   // no such key: counted, not an error
	lastUsed := func(id string) *time.Time {
		var k *keyward.APIKey
		h.read(func(ctx context.Context, tx keyward.Tx) error {
			var err error
			k, err = tx.GetKey(ctx, id)
			return err
		})
		return k.LastUsedAt
	}
	if want := at(10*time.Minute + 17*time.Second).Truncate(time.Minute); lastUsed("k1") == nil || !lastUsed("k1").Equal(want) {
		h.t.Errorf("k1 last used %v, want %v (to the minute, never back)", lastUsed("k1"), want)
	}
	if got := lastUsed("k2"); got == nil || !got.Equal(at(2*time.Hour+59*time.Second).Truncate(time.Minute)) {
		h.t.Errorf("k2 last used %v", got)
	}
	if got := lastUsed("k3"); got != nil {
		h.t.Errorf("k3, never used: %v", got)
	}
	unused := func(since time.Time) []string {
		var ids []string
		h.read(func(ctx context.Context, tx keyward.Tx) error {
			keys, _, err := tx.ListKeys(ctx, keyward.KeyFilter{UnusedSince: &since, Page: keyward.Page{Limit: 10}})
			for _, k := range keys {
				ids = append(ids, k.ID)
				if k.ID == "k1" && k.LastUsedAt == nil {
					h.t.Error("ListKeys does not fill LastUsedAt")
				}
			}
			return err
		})
		return ids
	}
	if got := fmt.Sprint(unused(at(time.Hour))); got != "[k1 k3]" {
		h.t.Errorf("unused since 1h: %s, want [k1 k3]", got)
	}
	if got := fmt.Sprint(unused(t0)); got != "[]" {
		h.t.Errorf("unused since t0 (all created at t0): %s", got)
	}
	if got := fmt.Sprint(unused(at(3 * time.Hour))); got != "[k1 k2 k3]" {
		h.t.Errorf("unused since 3h: %s", got)
	}
}

func usage(keyID, day string, requests, in, out int64) keyward.UsageDay {
	return keyward.UsageDay{KeyID: keyID, Day: day, Requests: requests, TokensIn: in, TokensOut: out}
}

// addUsage adds rows in a transaction of their own.
func (h *harness) addUsage(rows ...keyward.UsageDay) {
	h.t.Helper()
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.AddUsage(ctx, rows) })
}

// listUsage reads ListUsage in a read-only transaction.
func (h *harness) listUsage(keyID, from, to string) []keyward.UsageDay {
	h.t.Helper()
	var got []keyward.UsageDay
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		var err error
		got, err = tx.ListUsage(ctx, keyID, from, to)
		return err
	})
	return got
}

func (h *harness) listUsageSince(from string) []keyward.UsageDay {
	h.t.Helper()
	var got []keyward.UsageDay
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		var err error
		got, err = tx.ListUsageSince(ctx, from)
		return err
	})
	return got
}

// testUsageAddSums adds to the same key and day across transactions and
// within one call; counts past 32 bits must survive. No key row exists:
// usage is not tied to one.
func testUsageAddSums(h *harness) {
	h.addUsage(usage("k1", "2025-03-14", 1, 10, 100))
	h.addUsage(usage("k1", "2025-03-14", 2, 20, 200), usage("k1", "2025-03-14", 3, 30, 300))
	h.addUsage(usage("k1", "2025-03-15", 5_000_000_000, 1<<40, 0))
	h.addUsage() // nothing to add
	h.equal("ListUsage", h.listUsage("k1", "2025-03-14", "2025-03-15"), []keyward.UsageDay{
		usage("k1", "2025-03-14", 6, 60, 600),
		usage("k1", "2025-03-15", 5_000_000_000, 1<<40, 0),
	})
}

func testUsageListRange(h *harness) {
	// Written out of order, and with another key in the same days.
	h.addUsage(
		usage("k1", "2025-03-16", 3, 0, 0),
		usage("k1", "2025-03-13", 9, 0, 0),
		usage("k1", "2025-03-14", 1, 0, 0),
		usage("k1", "2025-03-15", 2, 0, 0),
		usage("k2", "2025-03-14", 7, 0, 0),
	)
	h.equal("ListUsage(14..15)", h.listUsage("k1", "2025-03-14", "2025-03-15"), []keyward.UsageDay{
		usage("k1", "2025-03-14", 1, 0, 0),
		usage("k1", "2025-03-15", 2, 0, 0),
	})
	h.equal("ListUsage(one day)", h.listUsage("k1", "2025-03-16", "2025-03-16"), []keyward.UsageDay{
		usage("k1", "2025-03-16", 3, 0, 0),
	})
	h.equal("ListUsage(all)", h.listUsage("k1", "2025-01-01", "2025-12-31"), []keyward.UsageDay{
		usage("k1", "2025-03-13", 9, 0, 0),
		usage("k1", "2025-03-14", 1, 0, 0),
		usage("k1", "2025-03-15", 2, 0, 0),
		usage("k1", "2025-03-16", 3, 0, 0),
	})
	h.equal("ListUsage(no rows in range)", h.listUsage("k1", "2025-04-01", "2025-04-30"), []keyward.UsageDay{})
	h.equal("ListUsage(unknown key)", h.listUsage("nope", "2025-01-01", "2025-12-31"), []keyward.UsageDay{})
}

func testUsageListSince(h *harness) {
	h.addUsage(
		usage("kb", "2025-03-15", 4, 0, 0),
		usage("ka", "2025-03-16", 2, 0, 0),
		usage("kb", "2025-03-13", 9, 0, 0),
		usage("ka", "2025-03-14", 1, 0, 0),
		usage("K9", "2025-03-14", 5, 0, 0), // "K" sorts before "k": bytewise
	)
	h.equal("ListUsageSince(14)", h.listUsageSince("2025-03-14"), []keyward.UsageDay{
		usage("K9", "2025-03-14", 5, 0, 0),
		usage("ka", "2025-03-14", 1, 0, 0),
		usage("ka", "2025-03-16", 2, 0, 0),
		usage("kb", "2025-03-15", 4, 0, 0),
	})
	h.equal("ListUsageSince(17)", h.listUsageSince("2025-03-17"), []keyward.UsageDay{})
}

// testUsageOutlivesKey: deleting a key leaves its usage, for reporting.
func testUsageOutlivesKey(h *harness) {
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.InsertKey(ctx, newKey("k1")) })
	h.addUsage(usage("k1", "2025-03-14", 1, 2, 3))
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.DeleteKey(ctx, "k1") })
	h.equal("ListUsage after DeleteKey", h.listUsage("k1", "2025-03-14", "2025-03-14"), []keyward.UsageDay{
		usage("k1", "2025-03-14", 1, 2, 3),
	})
}

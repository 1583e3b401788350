package storetest

import (
	"context"

	"github.com/keyward/keyward"
)

var usageTests = []test{
	{"AddSums", testUsageAddSums},
	{"ListRange", testUsageListRange},
	{"ListSince", testUsageListSince},
	{"OutlivesKey", testUsageOutlivesKey},
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

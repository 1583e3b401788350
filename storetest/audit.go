package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/keyward/keyward"
)

var auditTests = []test{
	{"Append", testAuditAppend},
	{"EventBytes", testAuditEventBytes},
	{"Filters", testAuditFilters},
	{"Checkpoints", testAuditCheckpoints},
	{"TreeHashes", testAuditTreeHashes},
	{"AttackTreeHashes", func(h *harness) { attackTreeHashes(h.t, h.s) }},
}

// appendEvents appends records with events to the chain, in one transaction,
// and returns them.
func (h *harness) appendEvents(events ...json.RawMessage) []*keyward.AuditRecord {
	h.t.Helper()
	var records []*keyward.AuditRecord
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		seq, err := tx.AuditHead(ctx)
		if err != nil {
			return err
		}
		for _, ev := range events {
			r := chain(seq+1, ev)
			if err := tx.AppendAudit(ctx, r); err != nil {
				return err
			}
			records = append(records, r)
			seq = r.Seq
		}
		return nil
	})
	return records
}

func (h *harness) head() int64 {
	h.t.Helper()
	var seq int64
	h.read(func(ctx context.Context, tx keyward.Tx) (err error) {
		seq, err = tx.AuditHead(ctx)
		return err
	})
	return seq
}

func testAuditAppend(h *harness) {
	if seq := h.head(); seq != 0 {
		h.t.Errorf("AuditHead of an empty log: %d, want 0", seq)
	}
	ev := newEvent("apikeys:Create", "u1", t0)
	for _, seq := range []int64{0, 2, -1} {
		h.expect(keyward.ECONFLICT, fmt.Sprintf("AppendAudit(seq %d on an empty chain)", seq), func(ctx context.Context, tx keyward.Tx) error {
			return tx.AppendAudit(ctx, chain(seq, ev))
		})
	}
	r1 := chain(1, ev)
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.AppendAudit(ctx, r1) })
	if seq := h.head(); seq != 1 {
		h.t.Errorf("AuditHead: %d, want 1", seq)
	}
	for _, seq := range []int64{1, 3} {
		h.expect(keyward.ECONFLICT, fmt.Sprintf("AppendAudit(seq %d after 1)", seq), func(ctx context.Context, tx keyward.Tx) error {
			return tx.AppendAudit(ctx, chain(seq, ev))
		})
	}
	r2 := chain(2, newEvent("apikeys:Delete", "u1", at(time.Second)))
	h.do(func(ctx context.Context, tx keyward.Tx) error { return tx.AppendAudit(ctx, r2) })
	if seq := h.head(); seq != 2 {
		h.t.Errorf("AuditHead: %d, want 2", seq)
	}
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, err := tx.ListAudit(ctx, keyward.AuditFilter{})
		if err != nil {
			return err
		}
		h.equal("ListAudit", got, []*keyward.AuditRecord{r1, r2})
		return nil
	})
}

// testAuditEventBytes checks that events come back as the bytes that were
// hashed, not as an equivalent JSON text.
func testAuditEventBytes(h *harness) {
	odd := json.RawMessage("{ \"eventVersion\":\"1.0\",  \"userIdentity\" : {\"type\":\"Principal\",\"principalId\":\"u\\u00e9\"},\n" +
		"\t\"eventTime\":\"2025-03-14T16:09:26.5+01:00\", \"eventName\":\"secrets:GetSecretValue\"," +
		"\"requestParameters\":{\"n\":1.50,\"big\":12345678901234567890,\"z\":null,\"a\":[ ]}, \"é\":\"\\ud83d\\ude00 \U0001F600\"}")
	records := h.appendEvents(odd, newEvent("apikeys:Create", "u1", t0))
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, err := tx.ListAudit(ctx, keyward.AuditFilter{})
		if err != nil {
			return err
		}
		if len(got) != len(records) {
			h.t.Fatalf("ListAudit: %d records, want %d", len(got), len(records))
		}
		for i, r := range got {
			if !bytes.Equal(r.Event, records[i].Event) {
				h.t.Errorf("record %d: event\n%s\nwant byte for byte\n%s", r.Seq, r.Event, records[i].Event)
			}
		}
		// The index columns were read from the odd event too.
		byName, err := tx.ListAudit(ctx, keyward.AuditFilter{EventName: "secrets:GetSecretValue", PrincipalID: "ué"})
		if err != nil {
			return err
		}
		if len(byName) != 1 || byName[0].Seq != 1 {
			h.t.Errorf("ListAudit(name and principal of the odd event): %d records, want seq 1", len(byName))
		}
		return nil
	})
}

func testAuditFilters(h *harness) {
	// 150 events, one a minute from t0, names and principals cycling.
	names := []string{"apikeys:Create", "apikeys:Delete", "secrets:GetSecretValue"}
	principals := []string{"u1", "u2"}
	var events []json.RawMessage
	for i := range 150 {
		when := at(time.Duration(i) * time.Minute)
		if i%2 == 1 {
			when = when.In(paris) // the zone of the text must not matter
		}
		events = append(events, newEvent(names[i%3], principals[i%2], when))
	}
	h.appendEvents(events...)

	seqs := func(f keyward.AuditFilter) []int64 {
		var out []int64
		h.read(func(ctx context.Context, tx keyward.Tx) error {
			rs, err := tx.ListAudit(ctx, f)
			if err != nil {
				return err
			}
			for _, r := range rs {
				out = append(out, r.Seq)
			}
			return nil
		})
		return out
	}
	// span returns the seqs from..to (inclusive) with a step.
	span := func(from, to, step int64) []int64 {
		var s []int64
		for i := from; i <= to; i += step {
			s = append(s, i)
		}
		return s
	}
	for _, tc := range []struct {
		what string
		f    keyward.AuditFilter
		want []int64
	}{
		{"default limit", keyward.AuditFilter{}, span(1, 100, 1)},
		{"limit", keyward.AuditFilter{Limit: 5}, span(1, 5, 1)},
		{"limit above the maximum", keyward.AuditFilter{Limit: 5000}, span(1, 150, 1)},
		{"after seq", keyward.AuditFilter{AfterSeq: 140}, span(141, 150, 1)},
		{"after seq and limit", keyward.AuditFilter{AfterSeq: 10, Limit: 3}, span(11, 13, 1)},
		{"event name", keyward.AuditFilter{EventName: "apikeys:Delete", Limit: 1000}, span(2, 150, 3)},
		{"principal", keyward.AuditFilter{PrincipalID: "u2", AfterSeq: 100}, span(102, 150, 2)},
		{"name and principal", keyward.AuditFilter{EventName: "apikeys:Create", PrincipalID: "u1"}, span(1, 150, 6)},
		// Event i+1 happened at t0 + i minutes; the bounds are inclusive.
		{"since", keyward.AuditFilter{Since: ptr(at(145 * time.Minute))}, span(146, 150, 1)},
		{"until", keyward.AuditFilter{Until: ptr(at(2 * time.Minute).In(paris))}, span(1, 3, 1)},
		{"since and until", keyward.AuditFilter{Since: ptr(at(10*time.Minute - time.Nanosecond)), Until: ptr(at(12*time.Minute + time.Nanosecond))}, span(11, 13, 1)},
		{"just after an event", keyward.AuditFilter{Since: ptr(at(149*time.Minute + time.Nanosecond))}, nil},
		{"everything", keyward.AuditFilter{AfterSeq: 20, EventName: "apikeys:Create", PrincipalID: "u1", Since: ptr(at(30 * time.Minute)), Until: ptr(at(60 * time.Minute)), Limit: 2}, []int64{31, 37}},
		{"unknown name", keyward.AuditFilter{EventName: "nope"}, nil},
		{"before seq", keyward.AuditFilter{BeforeSeq: 4}, span(1, 3, 1)},
		{"after and before seq", keyward.AuditFilter{AfterSeq: 10, BeforeSeq: 14}, span(11, 13, 1)},
		// Descending: newest first, every other bound and filter unchanged.
		{"newest first", keyward.AuditFilter{Descending: true, Limit: 5}, down(150, 146, 1)},
		{"newest first, default limit", keyward.AuditFilter{Descending: true}, down(150, 51, 1)},
		{"newest first before seq", keyward.AuditFilter{Descending: true, BeforeSeq: 146, Limit: 5}, down(145, 141, 1)},
		{"newest first between seqs", keyward.AuditFilter{Descending: true, AfterSeq: 10, BeforeSeq: 14}, down(13, 11, 1)},
		{"newest first, principal and since", keyward.AuditFilter{Descending: true, PrincipalID: "u2", Since: ptr(at(140 * time.Minute)), Limit: 3}, []int64{150, 148, 146}},
		{"newest first, until", keyward.AuditFilter{Descending: true, Until: ptr(at(2 * time.Minute))}, down(3, 1, 1)},
		{"newest first, event name and before seq", keyward.AuditFilter{Descending: true, EventName: "apikeys:Delete", BeforeSeq: 12}, []int64{11, 8, 5, 2}},
	} {
		h.equal("ListAudit("+tc.what+")", seqs(tc.f), tc.want)
	}

	// Paging back from the newest with BeforeSeq visits every record once,
	// in descending order, and ends on a short page.
	var paged []int64
	before := int64(0)
	for range 10 {
		page := seqs(keyward.AuditFilter{Descending: true, BeforeSeq: before, Limit: 40})
		paged = append(paged, page...)
		if len(page) < 40 {
			break
		}
		before = page[len(page)-1]
	}
	h.equal("ListAudit(newest first, paged back by BeforeSeq)", paged, down(150, 1, 1))
}

// down returns the seqs from..to (inclusive, from >= to) with a step.
func down(from, to, step int64) []int64 {
	var s []int64
	for i := from; i >= to; i -= step {
		s = append(s, i)
	}
	return s
}

func testAuditCheckpoints(h *harness) {
	h.appendEvents(newEvent("a", "u1", t0), newEvent("b", "u1", t0), newEvent("c", "u1", t0))
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		c, err := tx.LatestCheckpoint(ctx)
		h.equal("LatestCheckpoint of none", c, (*keyward.AuditCheckpoint)(nil))
		return err
	})
	cp := func(size int64) *keyward.AuditCheckpoint {
		return &keyward.AuditCheckpoint{
			Size: size, Root: fmt.Sprintf("%064x", size), Time: at(time.Duration(size) * time.Second),
			Note: fmt.Sprintf("keyward/audit/x\n%d\nroot\n\n— keyward/audit/x sig\n", size),
		}
	}
	cps := []*keyward.AuditCheckpoint{cp(1), cp(3)}
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		for _, c := range cps {
			if err := tx.InsertCheckpoint(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	h.expect(keyward.ECONFLICT, "InsertCheckpoint(same size)", func(ctx context.Context, tx keyward.Tx) error {
		return tx.InsertCheckpoint(ctx, cp(3))
	})
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, err := tx.ListCheckpoints(ctx, 0, 0)
		if err != nil {
			return err
		}
		h.equal("ListCheckpoints(0, 0)", got, cps)
		got, err = tx.ListCheckpoints(ctx, 1, 10)
		if err != nil {
			return err
		}
		h.equal("ListCheckpoints(1, 10)", got, cps[1:])
		got, err = tx.ListCheckpoints(ctx, 0, 1)
		if err != nil {
			return err
		}
		h.equal("ListCheckpoints(0, 1)", got, cps[:1])
		got, err = tx.ListCheckpoints(ctx, 3, 0)
		if err != nil {
			return err
		}
		h.equal("ListCheckpoints(3, 0)", len(got), 0)
		latest, err := tx.LatestCheckpoint(ctx)
		h.equal("LatestCheckpoint", latest, cps[1])
		return err
	})
}

func testAuditTreeHashes(h *harness) {
	hash := func(i int) []byte { return digest(fmt.Sprint("node", i)) }
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		return tx.WriteAuditHashes(ctx, 0, [][]byte{hash(0), hash(1), hash(2)})
	})
	h.do(func(ctx context.Context, tx keyward.Tx) error {
		return tx.WriteAuditHashes(ctx, 2, [][]byte{hash(20), hash(3)}) // replaces index 2
	})
	h.read(func(ctx context.Context, tx keyward.Tx) error {
		got, err := tx.ReadAuditHashes(ctx, []int64{3, 0, 2, 1})
		if err != nil {
			return err
		}
		h.equal("ReadAuditHashes", got, [][]byte{hash(3), hash(0), hash(20), hash(1)})
		return nil
	})
	h.expect(keyward.ENOTFOUND, "ReadAuditHashes(a missing index)", func(ctx context.Context, tx keyward.Tx) error {
		_, err := tx.ReadAuditHashes(ctx, []int64{1, 4})
		return err
	})
}

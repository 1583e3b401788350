package core_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

func day(s string) time.Time {
	t, err := time.Parse(keyward.DayFormat, s)
	if err != nil {
		panic(err)
	}
	return t
}

func use(keyID, d string, requests, in, out int64) keyward.UsageDay {
	return keyward.UsageDay{KeyID: keyID, Day: d, Requests: requests, TokensIn: in, TokensOut: out}
}

func TestKeyUsageRoundTrip(t *testing.T) {
	e := newEnv(t) // the clock says 2026-11-26 12:00 UTC
	k := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "metered"})).Key
	before := len(e.auditEvents(t))
	for _, rows := range [][]keyward.UsageDay{
		{use(k.ID, "2026-11-26", 1, 10, 100), use("key_other", "2026-11-26", 7, 0, 0)},
		{use(k.ID, "2026-11-26", 2, 20, 200), use(k.ID, "2026-10-27", 5, 0, 0), use(k.ID, "2026-10-28", 4, 0, 0)},
		{use(k.ID, "2026-11-27", 9, 0, 0)}, // tomorrow: a gateway with a clock ahead
		nil,
	} {
		if err := e.svc.DataPlane.RecordUsage(context.Background(), rows); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.auditEvents(t)); n != before {
		t.Errorf("RecordUsage wrote %d audit records, want none", n-before)
	}

	// Default range: the 30 days up to today.
	got := must[[]keyward.UsageDay](t)(e.svc.Usage.GetKeyUsage(e.admin, k.ID, time.Time{}, time.Time{}))
	want := []keyward.UsageDay{use(k.ID, "2026-10-28", 4, 0, 0), use(k.ID, "2026-11-26", 3, 30, 300)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetKeyUsage(defaults) = %v, want %v", got, want)
	}
	// Times are truncated to their UTC day: 00:30 at +02:00 is the day before.
	east := time.FixedZone("EET", 2*3600)
	got = must[[]keyward.UsageDay](t)(e.svc.Usage.GetKeyUsage(e.admin, k.ID,
		time.Date(2026, 10, 28, 0, 30, 0, 0, east), time.Date(2026, 11, 27, 23, 59, 0, 0, time.UTC)))
	want = []keyward.UsageDay{use(k.ID, "2026-10-27", 5, 0, 0), use(k.ID, "2026-10-28", 4, 0, 0),
		use(k.ID, "2026-11-26", 3, 30, 300), use(k.ID, "2026-11-27", 9, 0, 0)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetKeyUsage(explicit range) = %v, want %v", got, want)
	}

	evs := e.auditEvents(t)
	ev := evs[len(evs)-1]
	if ev.EventName != string(keyward.ActionKeyGetUsage) || !ev.ReadOnly || ev.ErrorCode != "" ||
		ev.RequestParameters["from"] != "2026-10-27" || ev.RequestParameters["to"] != "2026-11-27" {
		t.Errorf("audit event = %s readOnly=%v code=%q params=%v", ev.EventName, ev.ReadOnly, ev.ErrorCode, ev.RequestParameters)
	}

	since := must[[]keyward.UsageDay](t)(e.svc.DataPlane.UsageSince(context.Background(), "2026-11-26"))
	want = []keyward.UsageDay{use(k.ID, "2026-11-26", 3, 30, 300), use(k.ID, "2026-11-27", 9, 0, 0),
		use("key_other", "2026-11-26", 7, 0, 0)}
	slices.SortStableFunc(want, func(a, b keyward.UsageDay) int { return strings.Compare(a.KeyID, b.KeyID) })
	if !reflect.DeepEqual(since, want) {
		t.Errorf("UsageSince = %v, want %v", since, want)
	}
}

func TestKeyUsageAuthorization(t *testing.T) {
	e := newEnv(t)
	k := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "metered"})).Key
	for _, role := range []string{"deployer", "reader", "auditor"} {
		if _, err := e.svc.Usage.GetKeyUsage(e.as(t, role), k.ID, time.Time{}, time.Time{}); err != nil {
			t.Errorf("%s: %v", role, err)
		}
	}
	rotator := e.as(t, "rotator")
	_, err := e.svc.Usage.GetKeyUsage(rotator, k.ID, time.Time{}, time.Time{})
	wantCode(t, err, keyward.EFORBIDDEN)
	// Denied before anything else: a missing key or a bad range is not told.
	_, err = e.svc.Usage.GetKeyUsage(rotator, "key_missing", day("2026-02-01"), day("2026-01-01"))
	wantCode(t, err, keyward.EFORBIDDEN)
	_, err = e.svc.Usage.GetKeyUsage(context.Background(), k.ID, time.Time{}, time.Time{})
	wantCode(t, err, keyward.EUNAUTHORIZED)

	// A policy on one key grants that key's usage only.
	other := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "other"})).Key
	doc, _ := json.Marshal(map[string]any{"Statement": []any{map[string]any{
		"Effect": "Allow", "Action": string(keyward.ActionKeyGetUsage), "Resource": keyward.KeyARN(k.ID)}}})
	must[*keyward.Policy](t)(e.svc.Access.CreatePolicy(e.admin, keyward.PolicyCreate{Name: "usage-of-one", Document: doc}))
	cp := must[*keyward.CreatedPrincipal](t)(e.svc.Access.CreatePrincipal(e.admin, keyward.PrincipalCreate{Name: "billing", Roles: []string{"usage-of-one"}}))
	billing := e.login(t, cp.Token)
	if _, err := e.svc.Usage.GetKeyUsage(billing, k.ID, time.Time{}, time.Time{}); err != nil {
		t.Errorf("usage of the key in the policy: %v", err)
	}
	_, err = e.svc.Usage.GetKeyUsage(billing, other.ID, time.Time{}, time.Time{})
	wantCode(t, err, keyward.EFORBIDDEN)
}

func TestKeyUsageNotFound(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.Usage.GetKeyUsage(e.admin, "key_missing", time.Time{}, time.Time{})
	wantCode(t, err, keyward.ENOTFOUND)
	evs := e.auditEvents(t)
	if ev := evs[len(evs)-1]; ev.EventName != string(keyward.ActionKeyGetUsage) || ev.ErrorCode != keyward.ENOTFOUND {
		t.Errorf("audited as %s/%q", ev.EventName, ev.ErrorCode)
	}

	// Usage of a deleted key stays in the store, but the key is gone.
	k := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "gone"})).Key
	if err := e.svc.DataPlane.RecordUsage(context.Background(), []keyward.UsageDay{use(k.ID, "2026-11-26", 1, 0, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Keys.DeleteKey(e.admin, k.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Usage.GetKeyUsage(e.admin, k.ID, time.Time{}, time.Time{})
	wantCode(t, err, keyward.ENOTFOUND)
	if rows := must[[]keyward.UsageDay](t)(e.svc.DataPlane.UsageSince(context.Background(), "2026-11-26")); len(rows) != 1 {
		t.Errorf("UsageSince after the key was deleted = %v, want its row", rows)
	}
}

func TestKeyUsageRange(t *testing.T) {
	e := newEnv(t)
	k := must[*keyward.CreatedKey](t)(e.svc.Keys.CreateKey(e.admin, keyward.KeyCreate{Name: "metered"})).Key
	for _, tc := range []struct {
		name     string
		from, to time.Time
		code     string
	}{
		{"one day", day("2026-01-01"), day("2026-01-01"), ""},
		{"366 days", day("2024-01-01"), day("2024-12-31"), ""}, // a leap year
		{"367 days", day("2024-01-01"), day("2025-01-01"), keyward.EINVALID},
		{"to before from", day("2026-01-02"), day("2026-01-01"), keyward.EINVALID},
		{"from after today, to today", day("2026-12-01"), time.Time{}, keyward.EINVALID},
		{"from long ago, to today", day("2020-01-01"), time.Time{}, keyward.EINVALID},
		{"to long ago, from defaulted", time.Time{}, day("2020-01-01"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.Usage.GetKeyUsage(e.admin, k.ID, tc.from, tc.to)
			wantCode(t, err, tc.code)
		})
	}
}

func TestRecordUsageValidates(t *testing.T) {
	e := newEnv(t)
	good := use("key_a", "2026-11-26", 1, 1, 1)
	for _, bad := range []keyward.UsageDay{
		use("", "2026-11-26", 1, 0, 0),
		use("key_a", "2026-11-6", 1, 0, 0),
		use("key_a", "2026-02-30", 1, 0, 0),
		use("key_a", "2026-11-26T00:00:00Z", 1, 0, 0),
		use("key_a", "", 1, 0, 0),
		use("key_a", "2026-11-26", -1, 0, 0),
		use("key_a", "2026-11-26", 0, -1, 0),
		use("key_a", "2026-11-26", 0, 0, -1),
	} {
		err := e.svc.DataPlane.RecordUsage(context.Background(), []keyward.UsageDay{good, bad})
		if keyward.ErrorCode(err) != keyward.EINVALID {
			t.Errorf("RecordUsage(%+v) = %v, want invalid", bad, err)
		}
	}
	if rows := must[[]keyward.UsageDay](t)(e.svc.DataPlane.UsageSince(context.Background(), "2000-01-01")); len(rows) != 0 {
		t.Errorf("a batch with a bad row stored %v", rows)
	}
	_, err := e.svc.DataPlane.UsageSince(context.Background(), "yesterday")
	wantCode(t, err, keyward.EINVALID)
}

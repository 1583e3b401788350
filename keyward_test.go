package keyward_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

func TestErrorCodeAndMessage(t *testing.T) {
	domain := keyward.Errorf(keyward.ENOTFOUND, "key %s not found", "key_x")
	wrapped := fmt.Errorf("lookup: %w", domain)
	other := errors.New("disk on fire at /var/lib/secret")
	for _, tc := range []struct {
		err        error
		code, text string
	}{
		{nil, "", ""},
		{domain, keyward.ENOTFOUND, "key key_x not found"},
		{wrapped, keyward.ENOTFOUND, "key key_x not found"},
		{other, keyward.EINTERNAL, "internal error"},
	} {
		if got := keyward.ErrorCode(tc.err); got != tc.code {
			t.Errorf("ErrorCode(%v) = %q, want %q", tc.err, got, tc.code)
		}
		if got := keyward.ErrorMessage(tc.err); got != tc.text {
			t.Errorf("ErrorMessage(%v) = %q, want %q", tc.err, got, tc.text)
		}
	}
}

func TestStringList(t *testing.T) {
	for in, want := range map[string][]string{`"a"`: {"a"}, `["a","b"]`: {"a", "b"}, `[]`: {}} {
		var l keyward.StringList
		if err := json.Unmarshal([]byte(in), &l); err != nil || strings.Join(l, ",") != strings.Join(want, ",") {
			t.Errorf("%s -> %v (%v)", in, l, err)
		}
	}
	var l keyward.StringList
	if err := json.Unmarshal([]byte(`{"a":1}`), &l); err == nil {
		t.Error("an object parsed as a string list")
	}
}

func TestPageNormalized(t *testing.T) {
	for in, want := range map[int]int{0: 25, -3: 25, 7: 7, 500: 500, 501: 500} {
		if got := (keyward.Page{Limit: in}).Normalized().Limit; got != want {
			t.Errorf("limit %d -> %d, want %d", in, got, want)
		}
	}
}

func TestActionsAreUniqueAndNamespaced(t *testing.T) {
	seen := map[keyward.Action]bool{}
	for _, a := range keyward.Actions() {
		if seen[a] {
			t.Errorf("%s listed twice", a)
		}
		seen[a] = true
		svc, op, ok := strings.Cut(string(a), ":")
		if !ok || svc == "" || op == "" {
			t.Errorf("%s is not service:Operation", a)
		}
	}
	for _, a := range []keyward.Action{keyward.ActionKeyReadValue, keyward.ActionSecretGetValue, keyward.ActionAuditRead} {
		if !a.ReadOnly() {
			t.Errorf("%s should be read-only", a)
		}
	}
	if keyward.ActionKeyCreate.ReadOnly() {
		t.Error("apikeys:Create is not read-only")
	}
}

package keyward_test

import (
	"math"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

const day = 24 * time.Hour

// TestParseDuration is the one table for durations, which the API, the CLI
// and the Pulumi provider all read with keyward.ParseDuration.
func TestParseDuration(t *testing.T) {
	const max = time.Duration(math.MaxInt64)
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string // "" for valid
	}{
		{"30d", 30 * day, ""},
		{"12h", 12 * time.Hour, ""},
		{"1d12h", 36 * time.Hour, ""},
		{"90m", 90 * time.Minute, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"0d1s", time.Second, ""},
		{"0d", 0, ""},
		{"0s", 0, ""},
		{"0", 0, ""},
		{"36500d", 36500 * day, ""},
		{"+5d", 5 * day, ""},
		{"+5h", 5 * time.Hour, ""},
		{"007d", 7 * day, ""},
		{"1d1.5h", day + 90*time.Minute, ""},
		{"106751d", 106751 * day, ""},
		{"106751d23h47m16.854775807s", max, ""},
		{"2562047h47m16.854775807s", max, ""},
		{"", 0, "invalid duration"},
		{"d", 0, "invalid duration"},
		{"1.5d", 0, "invalid duration"},
		{"3x", 0, "invalid duration"},
		{"30 d", 0, "invalid duration"},
		{" 30d", 0, "invalid duration"},
		{"1h1d", 0, "invalid duration"},
		{"1d1d", 0, "invalid duration"},
		{"1d-2h", 0, "invalid duration"},
		{"1d+2h", 0, "invalid duration"},
		{"+-5h", 0, "invalid duration"},
		{"-1d", 0, "must not be negative"},
		{"-3h", 0, "must not be negative"},
		{"-0s", 0, "must not be negative"},
		{"106752d", 0, "too long"},
		{"106751d23h47m16.854775808s", 0, "too long"},
		{"106751991167d", 0, "too long"},
		{"99999999999999999d", 0, "too long"},
		{"99999999999999999999999d", 0, "too long"},
		{"2562048h", 0, "invalid duration"}, // Go's own overflow
	}
	for _, tt := range tests {
		got, err := keyward.ParseDuration(tt.in)
		if tt.wantErr == "" {
			if err != nil || got.Std() != tt.want {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got.Std(), err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseDuration(%q) = %v, %v; want an error containing %q", tt.in, got.Std(), err, tt.wantErr)
		}
	}
}

var withDays = regexp.MustCompile(`^\+?([0-9]+)d(.*)$`)

// FuzzParseDuration holds ParseDuration to its definition: without days it
// agrees with time.ParseDuration on non-negative values; with days it is
// days·24h plus the Go duration after them, computed without overflow, and
// accepted exactly when that fits. Whatever it accepts reads back the same
// from its own String. Seeds live in testdata/fuzz/FuzzParseDuration.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"30d", "1d12h", "90m", "0d", "-3h", "106751d23h47m16.854775807s", "106751991167d", "1d+2h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := keyward.ParseDuration(s)
		if err == nil {
			if got < 0 {
				t.Fatalf("ParseDuration(%q) = %v, negative", s, got.Std())
			}
			again, err := keyward.ParseDuration(got.String())
			if err != nil || again != got {
				t.Fatalf("ParseDuration(%q) = %v, whose String %q reads back as %v, %v", s, got.Std(), got.String(), again.Std(), err)
			}
		}
		m := withDays.FindStringSubmatch(s)
		if m == nil {
			goWant, goErr := time.ParseDuration(s)
			accept := goErr == nil && goWant >= 0 && !strings.HasPrefix(s, "-")
			if accept != (err == nil) || (accept && got.Std() != goWant) {
				t.Fatalf("ParseDuration(%q) = %v, %v; time.ParseDuration says %v, %v", s, got.Std(), err, goWant, goErr)
			}
			return
		}
		days, _ := new(big.Int).SetString(m[1], 10)
		want := new(big.Int).Mul(days, big.NewInt(int64(day)))
		if rest := m[2]; rest != "" {
			r, rerr := time.ParseDuration(rest)
			if rerr != nil || rest[0] == '+' || rest[0] == '-' {
				if err == nil {
					t.Fatalf("ParseDuration(%q) = %v, but %q after the days is no unsigned Go duration", s, got.Std(), rest)
				}
				return
			}
			want.Add(want, big.NewInt(int64(r)))
		}
		fits := want.IsInt64()
		if fits != (err == nil) || (fits && int64(got) != want.Int64()) {
			t.Fatalf("ParseDuration(%q) = %v, %v; want %v (fits: %v)", s, got.Std(), err, want, fits)
		}
	})
}

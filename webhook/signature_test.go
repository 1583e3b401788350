package webhook_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/webhook"
)

var (
	t0      = time.Unix(1700000000, 0).UTC()
	secret  = []byte("whsec_test")
	payload = []byte(`{"id":"evt_1","type":"key.rotated"}`)
)

// TestSignKnownAnswer pins the format and the MAC: the vector was computed
// outside Go (Python's hmac) over "1700000000." + payload.
func TestSignKnownAnswer(t *testing.T) {
	want := "t=1700000000,v1=151db3f59a01d90899ec7878ab8a1cf000708f6e380472f0829121c2bc4f94a3"
	if got := webhook.Sign(secret, t0, payload); got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	s, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range [][]byte{nil, {}, payload, []byte("a.b,c=d\x00\xff")} {
		h := webhook.Sign([]byte(s), t0, body)
		if err := webhook.Verify(h, []byte(s), body, t0, time.Minute); err != nil {
			t.Errorf("Verify(Sign(%q)) = %v", body, err)
		}
	}
}

// verifyCase is a Verify call; zero fields take the defaults of TestVerify
// (secret, payload, t0, 5 minutes), want nil means success.
type verifyCase struct {
	name      string
	header    string
	secret    []byte
	body      []byte
	now       time.Time
	tolerance time.Duration
	want      error
}

func TestVerify(t *testing.T) {
	good := webhook.Sign(secret, t0, payload)
	mac := strings.TrimPrefix(good, "t=1700000000,v1=")
	other := strings.TrimPrefix(webhook.Sign([]byte("whsec_other"), t0, payload), "t=1700000000,v1=")
	ts := "t=1700000000"

	tests := []verifyCase{
		{name: "valid", header: good},
		{name: "valid at the edge of tolerance", header: good, now: t0.Add(5 * time.Minute)},
		{name: "valid slightly ahead", header: good, now: t0.Add(-5 * time.Minute)},
		{name: "non-positive tolerance means the default", header: good, now: t0.Add(4 * time.Minute), tolerance: -1},
		{name: "multiple v1, good first", header: ts + ",v1=" + mac + ",v1=" + other},
		{name: "multiple v1, good last", header: ts + ",v1=" + other + ",v1=" + other + ",v1=" + mac},
		{name: "other schemes ignored", header: ts + ",v0=legacy,v1=" + mac + ",v2=future_value"},
		{name: "v1 before t", header: "v1=" + mac + "," + ts},

		{name: "tampered body", header: good, body: append([]byte(`{"id":"evt_2"`), payload[13:]...), want: webhook.ErrSignatureMismatch},
		{name: "body with a byte added", header: good, body: append(append([]byte{}, payload...), ' '), want: webhook.ErrSignatureMismatch},
		{name: "wrong secret", header: good, secret: []byte("whsec_other"), want: webhook.ErrSignatureMismatch},
		{name: "only other secrets", header: ts + ",v1=" + other, want: webhook.ErrSignatureMismatch},
		{name: "timestamp changed", header: "t=1700000001,v1=" + mac, want: webhook.ErrSignatureMismatch},
		{name: "mac bit flipped", header: ts + ",v1=" + flipHex(mac), want: webhook.ErrSignatureMismatch},
		{name: "old and forged: mismatch first", header: "t=1,v1=" + mac, want: webhook.ErrSignatureMismatch},

		{name: "old timestamp", header: good, now: t0.Add(5*time.Minute + time.Second), want: webhook.ErrTimestampOutOfTolerance},
		{name: "future timestamp", header: good, now: t0.Add(-5*time.Minute - time.Second), want: webhook.ErrTimestampOutOfTolerance},
		{name: "old under a tight tolerance", header: good, now: t0.Add(2 * time.Second), tolerance: time.Second, want: webhook.ErrTimestampOutOfTolerance},
		{name: "very old", header: webhook.Sign(secret, time.Unix(0, 0), payload), want: webhook.ErrTimestampOutOfTolerance},

		{name: "empty secret", header: good, secret: []byte{}, want: webhook.ErrNoSecret},
	}
	malformed := map[string]string{
		"empty":                   "",
		"no v1":                   ts,
		"no t":                    "v1=" + mac,
		"two t":                   ts + "," + ts + ",v1=" + mac,
		"leading zero":            "t=01700000000,v1=" + mac,
		"plus sign":               "t=+1700000000,v1=" + mac,
		"negative":                "t=-1,v1=" + mac,
		"fraction":                "t=1700000000.5,v1=" + mac,
		"13 digits":               "t=1700000000000,v1=" + mac,
		"empty t":                 "t=,v1=" + mac,
		"leading space":           " " + good,
		"space after comma":       ts + ", v1=" + mac,
		"space around equals":     "t = 1700000000,v1=" + mac,
		"trailing comma":          good + ",",
		"leading comma":           "," + good,
		"empty entry":             ts + ",,v1=" + mac,
		"uppercase hex":           ts + ",v1=" + strings.ToUpper(mac),
		"short mac":               ts + ",v1=" + mac[:63],
		"long mac":                ts + ",v1=" + mac + "00",
		"odd mac":                 ts + ",v1=" + mac + "0",
		"non-hex mac":             ts + ",v1=" + mac[:63] + "g",
		"uppercase key":           ts + ",V1=" + mac,
		"entry without equals":    ts + ",v1=" + mac + ",v1",
		"entry without key":       ts + ",v1=" + mac + ",=x",
		"double equals":           ts + ",v1==" + mac,
		"empty other value":       ts + ",v1=" + mac + ",v0=",
		"space in other value":    ts + ",v1=" + mac + ",v0=a b",
		"equals in other value":   ts + ",v1=" + mac + ",v0=a=b",
		"non-ASCII key":           ts + ",v1=" + mac + ",é=1",
		"non-ASCII value":         ts + ",v1=" + mac + ",v0=é",
		"key too long":            ts + ",v1=" + mac + ",abcdefghi=1",
		"key starting with digit": ts + ",v1=" + mac + ",1v=1",
		"nine v1 entries":         ts + strings.Repeat(",v1="+other, 8) + ",v1=" + mac,
		"too many entries":        ts + ",v1=" + mac + strings.Repeat(",v0=x", 15),
		"too long":                ts + ",v1=" + mac + ",v0=" + strings.Repeat("x", 1024),
		"newline":                 ts + ",v1=" + mac + "\n",
		"NUL":                     ts + ",v1=" + mac + ",v0=\x00",
	}
	for name, h := range malformed {
		tests = append(tests, verifyCase{name: "malformed: " + name, header: h, want: webhook.ErrMalformedSignature})
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sec, body, now, tol := secret, payload, t0, 5*time.Minute
			if tt.secret != nil {
				sec = tt.secret
			}
			if tt.body != nil {
				body = tt.body
			}
			if !tt.now.IsZero() {
				now = tt.now
			}
			if tt.tolerance != 0 {
				tol = tt.tolerance
			}
			err := webhook.Verify(tt.header, sec, body, now, tol)
			if tt.want == nil && err != nil {
				t.Fatalf("Verify(%q) = %v, want nil", tt.header, err)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify(%q) = %v, want %v", tt.header, err, tt.want)
			}
		})
	}
}

// flipHex flips the low bit of the first hex digit.
func flipHex(s string) string {
	b := []byte(s)
	if b[0] == '0' {
		b[0] = '1'
	} else {
		b[0] = '0'
	}
	return string(b)
}

func TestNewSecret(t *testing.T) {
	a, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("two secrets are equal")
	}
	rest, ok := strings.CutPrefix(a, webhook.SecretPrefix)
	if !ok {
		t.Fatalf("secret %q lacks the %q prefix", a, webhook.SecretPrefix)
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(raw) != 32 {
		t.Fatalf("secret body: %d bytes, %v; want 32 bytes of base64url", len(raw), err)
	}
}

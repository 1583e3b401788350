package cli

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"testing"
	"time"

	"github.com/keyward/keyward"
)

// TestParseDuration covers what --expires adds to keyward.ParseDuration
// (whose table is in the root package): surrounding spaces are trimmed and
// the duration must be positive.
func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{
		"30d":    30 * 24 * time.Hour,
		" 1d12h": 36 * time.Hour,
		"0d1s ":  time.Second,
	}
	for in, want := range good {
		got, err := parseDuration(in)
		if err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0d", "0s", "-3h", "1d-2h", "99999999999999999d"} {
		if got, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", in, got)
		}
	}
}

func TestParseQuota(t *testing.T) {
	good := map[string]keyward.Quota{
		"1000/DAY":  {Limit: 1000, Period: keyward.PeriodDay},
		"5/week":    {Limit: 5, Period: keyward.PeriodWeek},
		"100/Month": {Limit: 100, Period: keyward.PeriodMonth},
		" 7 / DAY ": {Limit: 7, Period: keyward.PeriodDay},
	}
	for in, want := range good {
		got, err := parseQuota(in)
		if err != nil || got != want {
			t.Errorf("parseQuota(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1000", "1000/YEAR", "0/DAY", "-1/DAY", "x/DAY", "/DAY"} {
		if _, err := parseQuota(in); err == nil {
			t.Errorf("parseQuota(%q): want an error", in)
		}
	}
}

func TestParseStageKeyAndRoute(t *testing.T) {
	sk, err := parseStageKey("chat/prod")
	if err != nil || sk != (keyward.StageKey{APIID: "chat", Stage: "prod"}) {
		t.Errorf("parseStageKey = %+v, %v", sk, err)
	}
	for _, in := range []string{"chat", "/prod", "chat/", ""} {
		if _, err := parseStageKey(in); err == nil {
			t.Errorf("parseStageKey(%q): want an error", in)
		}
	}
	routes := map[string]keyward.RoutePattern{
		"POST /v1/chat/*": {Method: "POST", Path: "/v1/chat/*"},
		"get /v1/models":  {Method: "GET", Path: "/v1/models"},
		"/v1/*":           {Method: "*", Path: "/v1/*"},
		"* /x":            {Method: "*", Path: "/x"},
	}
	for in, want := range routes {
		got, err := parseRoute(in)
		if err != nil || got != want {
			t.Errorf("parseRoute(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "POST", "POST v1", "PO5T /x", "GET /a /b"} {
		if _, err := parseRoute(in); err == nil {
			t.Errorf("parseRoute(%q): want an error", in)
		}
	}
}

func TestParseUpstream(t *testing.T) {
	s, err := parseUpstream("prod=https://api.example.com/v1")
	if err != nil || s != (keyward.Stage{Name: "prod", UpstreamURL: "https://api.example.com/v1"}) {
		t.Errorf("parseUpstream = %+v, %v", s, err)
	}
	for _, in := range []string{"prod", "=http://x", "prod=x", "prod=ftp://x", "prod=http://"} {
		if _, err := parseUpstream(in); err == nil {
			t.Errorf("parseUpstream(%q): want an error", in)
		}
	}
}

func TestParsePublicKey(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	forms := map[string][]byte{
		"pem":    pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		"hex":    []byte(hex.EncodeToString(pub) + "\n"),
		"base64": []byte(base64.StdEncoding.EncodeToString(pub)),
		"raw":    []byte(pub),
	}
	for name, b := range forms {
		got, err := parsePublicKey(b)
		if err != nil || !got.Equal(pub) {
			t.Errorf("%s: parsePublicKey = %x, %v", name, got, err)
		}
	}
	if _, err := parsePublicKey([]byte("nope")); err == nil {
		t.Error("parsePublicKey(garbage): want an error")
	}
}

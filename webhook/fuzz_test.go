package webhook_test

import (
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward/webhook"
)

// FuzzVerify feeds arbitrary headers and bodies to Verify. It must not
// panic and must answer with one of its sentinels; a header it finds
// malformed is malformed whatever the secret and body; a header it accepts
// is refused under another secret or with another body; and what Sign
// writes for any body verifies. Seeds (valid, rolled-over, stale and
// malformed headers) live in testdata/fuzz/FuzzVerify.
func FuzzVerify(f *testing.F) {
	fuzzSecret := []byte("whsec_fuzz")
	now := time.Unix(1700000000, 0)
	body := []byte(`{"id":"evt_1"}`)
	good := webhook.Sign(fuzzSecret, now, body)
	f.Add(good, body)
	f.Add(good+",v1="+good[len("t=1700000000,v1="):], body)
	f.Add("t=1700000000,v0=x,v1=00", body)
	f.Add("", []byte(nil))

	f.Fuzz(func(t *testing.T, header string, body []byte) {
		err := webhook.Verify(header, fuzzSecret, body, now, time.Minute)
		switch {
		case err == nil:
			if webhook.Verify(header, []byte("whsec_other"), body, now, time.Minute) == nil {
				t.Fatalf("Verify(%q) accepts another secret", header)
			}
			if webhook.Verify(header, fuzzSecret, append(body[:len(body):len(body)], 'x'), now, time.Minute) == nil {
				t.Fatalf("Verify(%q) accepts another body", header)
			}
		case errors.Is(err, webhook.ErrMalformedSignature):
			if err := webhook.Verify(header, []byte("whsec_other"), nil, now, time.Minute); !errors.Is(err, webhook.ErrMalformedSignature) {
				t.Fatalf("Verify(%q): malformed under one secret, %v under another", header, err)
			}
		case errors.Is(err, webhook.ErrSignatureMismatch), errors.Is(err, webhook.ErrTimestampOutOfTolerance):
		default:
			t.Fatalf("Verify(%q) = %v, not one of its sentinels", header, err)
		}

		h := webhook.Sign(fuzzSecret, now, body)
		if err := webhook.Verify(h, fuzzSecret, body, now, time.Minute); err != nil {
			t.Fatalf("Verify(Sign(%q)) = %v", body, err)
		}
	})
}

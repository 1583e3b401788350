package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

// The statuses of the rotation and webhook routes, as clients rely on them.
func TestRotationAndWebhookStatuses(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct {
		method, path, body string
		status             int
		service            string
	}{
		{"POST", "/v1/keys/k1/rotate", `{"grace":"2d","clientToken":"ct"}`, 200, "RotateKey"},
		{"POST", "/v1/keys/k1/rotate", ``, 200, "RotateKey"}, // every input has a default
		{"POST", "/v1/keys/k1/revoke-previous", ``, 200, "RevokePrevious"},
		{"POST", "/v1/keys/k1/revoke-previous", `{}`, 200, "RevokePrevious"},
		{"GET", "/v1/keys/k1/rotations?state=FAILED", ``, 200, "ListKeyRotations"},
		{"POST", "/v1/secrets/prod%2Fopenai/rotate", `{"rotatorId":"wh-1","every":"30d"}`, 202, "RotateSecret"},
		{"POST", "/v1/secrets/prod%2Fopenai/rotate", ``, 202, "RotateSecret"},
		{"POST", "/v1/secrets/prod%2Fopenai/cancel-rotation", ``, 200, "CancelSecretRotation"},
		{"GET", "/v1/secrets/prod%2Fopenai/rotations", ``, 200, "ListSecretRotations"},
		{"POST", "/v1/webhooks", `{"url":"https://h.internal/x","kind":"rotator"}`, 201, "CreateWebhook"},
		{"GET", "/v1/webhooks", ``, 200, "ListWebhooks"},
		{"GET", "/v1/webhooks/wh-1", ``, 200, "GetWebhook"},
		{"DELETE", "/v1/webhooks/wh-1", ``, 204, "DeleteWebhook"},
		{"GET", "/v1/webhooks/wh-1/deliveries?eventType=key.rotated&state=PENDING&limit=2", ``, 200, "ListDeliveries"},
	} {
		resp := e.request(t, tt.method, tt.path, []byte(tt.body), nil)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tt.status {
			t.Errorf("%s %s: status %d, want %d: %s", tt.method, tt.path, resp.StatusCode, tt.status, b)
			continue
		}
		e.fake.last(t, tt.service)
	}

	// Durations arrive parsed; the secret's name unescaped.
	got := e.fake.last(t, "ListDeliveries").Args
	if want := []any{"wh-1", keyward.DeliveryFilter{EventType: "key.rotated", State: keyward.DeliveryPending, Page: keyward.Page{Limit: 2}}}; !reflect.DeepEqual(got, want) {
		t.Errorf("ListDeliveries args = %#v", got)
	}
	resp := e.request(t, "POST", "/v1/secrets/prod%2Fopenai/rotate", []byte(`{"every":"30d","rotateImmediately":false}`), nil)
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusNoContent || len(b) != 0 {
		t.Errorf("configured, not started: %d %q, want 204", resp.StatusCode, b)
	}
	args := e.fake.last(t, "RotateSecret").Args
	in := args[1].(keyward.SecretRotate)
	if args[0] != "prod/openai" || in.Every == nil || in.Every.String() != "30d" || in.Now == nil || *in.Now {
		t.Errorf("RotateSecret args = %v %+v", args[0], in)
	}
}

func TestRotationAndWebhookBadInput(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct{ method, path, body string }{
		{"POST", "/v1/keys/k1/rotate", `{"grace":"soon"}`},
		{"POST", "/v1/keys/k1/rotate", `{"value":"kw_chosen_by_the_client_0123"}`}, // no import on rotate
		{"POST", "/v1/keys/k1/revoke-previous", `{"grace":"1h"}`},
		{"POST", "/v1/secrets/s/cancel-rotation", `{"now":true}`},
		{"POST", "/v1/secrets/s/rotate", `{"every":[1]}`},
		{"POST", "/v1/webhooks", `{"url":"https://x","signingSecret":"mine"}`},
		{"GET", "/v1/keys/k1/rotations?status=FAILED", ``},
		{"GET", "/v1/keys/k1/rotations?limit=x", ``},
		{"GET", "/v1/secrets/s/rotations?state=A&state=B", ``},
		{"GET", "/v1/webhooks?kind=notify", ``},
		{"GET", "/v1/webhooks/w/deliveries?event=key.rotated", ``},
	} {
		before := e.fake.count()
		resp := e.request(t, tt.method, tt.path, []byte(tt.body), nil)
		code, _, _ := errorOf(t, resp)
		if resp.StatusCode != http.StatusBadRequest || code != keyward.EINVALID {
			t.Errorf("%s %s %s: %d %q, want 400 invalid", tt.method, tt.path, tt.body, resp.StatusCode, code)
		}
		if e.fake.count() != before {
			t.Errorf("%s %s: the service was called with bad input", tt.method, tt.path)
		}
	}
}

// Rotated key values and webhook signing secrets are in answers only: never
// in a log line, and never cached.
func TestOneTimeValuesAreNotLogged(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct{ path, body, value string }{
		{"/v1/keys/k1/rotate", `{"clientToken":"CLIENT-TOKEN-IN-BODY"}`, rotatedValue},
		{"/v1/webhooks", `{"url":"https://hooks.internal/URL-IN-BODY"}`, signingSecret},
	} {
		resp := e.request(t, http.MethodPost, tt.path, []byte(tt.body), nil)
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), tt.value) {
			t.Errorf("%s: answer lacks the one-time value: %s", tt.path, b)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q", tt.path, cc)
		}
		e.logs.waitRecord(t, resp.Header.Get("X-Request-Id"))
	}
	logs := e.logs.String()
	for _, leak := range []string{rotatedValue, signingSecret, "CLIENT-TOKEN-IN-BODY", "URL-IN-BODY"} {
		if strings.Contains(logs, leak) {
			t.Errorf("log contains %q:\n%s", leak, logs)
		}
	}
}

// A webhook's sealed secret is never marshalled, whatever the route.
func TestSealedSecretNeverSent(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/v1/webhooks/wh-1", "/v1/webhooks"} {
		resp := e.request(t, http.MethodGet, p, nil, nil)
		b, _ := io.ReadAll(resp.Body)
		if strings.Contains(string(b), "sealed") || strings.Contains(strings.ToLower(string(b)), "secret") {
			t.Errorf("%s: %s", p, b)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Errorf("%s: not JSON: %v", p, err)
		}
	}
}

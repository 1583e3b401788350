package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
)

func TestClientSecretNamesRoundTrip(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{
		"prod/openai", "a/b/c/d", "team/../x", "with space/and+plus", "q?uery#frag%25", "ünï/cödé", "trailing/", "/leading",
	} {
		_, err := e.client.GetSecretValue(ctx, name, keyward.SecretSelector{})
		must(t, err)
		if got := e.fake.last(t, "GetSecretValue").Args[0]; got != name {
			t.Errorf("sent %q, service got %q", name, got)
		}
		_, err = e.client.DeleteSecret(ctx, name, keyward.SecretDelete{Force: true})
		must(t, err)
		if got := e.fake.last(t, "DeleteSecret").Args[0]; got != name {
			t.Errorf("sent %q, service got %q", name, got)
		}
	}
}

func TestClientRefusesEmptyOrRelativeIDs(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"", ".", ".."} {
		if _, err := e.client.GetKey(ctx, id); keyward.ErrorCode(err) != keyward.EINVALID {
			t.Errorf("GetKey(%q): %v, want invalid", id, err)
		}
		if err := e.client.AttachKey(ctx, "gold", id); keyward.ErrorCode(err) != keyward.EINVALID {
			t.Errorf("AttachKey(gold, %q): %v, want invalid", id, err)
		}
	}
	if n := e.fake.count(); n != 0 {
		t.Errorf("%d requests reached the service", n)
	}
}

func TestClientSendsTokenOnlyInHeader(t *testing.T) {
	var mu sync.Mutex
	var seen []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Clone(context.Background()))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"items":[]}`)
	}))
	defer srv.Close()
	c := httpapi.NewClient(srv.URL+"/", goodToken, nil)
	if _, _, err := c.ListKeys(ctx, keyward.KeyFilter{NamePrefix: "x"}); err != nil {
		t.Fatal(err)
	}
	must(t, c.Health(ctx))
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 {
		t.Fatalf("%d requests", len(seen))
	}
	if got := seen[0].Header.Get("Authorization"); got != "Bearer "+goodToken {
		t.Errorf("Authorization = %q", got)
	}
	if strings.Contains(seen[0].URL.String(), goodToken) {
		t.Errorf("token in URL %s", seen[0].URL)
	}
	if seen[0].URL.Path != "/v1/keys" {
		t.Errorf("path = %q", seen[0].URL.Path)
	}
	if got := seen[1].Header.Get("Authorization"); got != "" || seen[1].URL.Path != "/healthz" {
		t.Errorf("Health sent %q to %s", got, seen[1].URL.Path)
	}
}

func TestClientErrorsWithoutBody(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		code   string
	}{
		{"proxy 502 page", 502, "<html>bad gateway</html>", keyward.EUNAVAILABLE},
		{"proxy 504", 504, "", keyward.EUNAVAILABLE},
		{"html 500", 500, "<html>oops</html>", keyward.EINTERNAL},
		{"unknown code", 418, `{"error":{"code":"teapot","message":"short and stout"}}`, keyward.EINTERNAL},
		{"redirect not followed", 307, "", keyward.EINTERNAL},
		{"json code kept", 404, `{"error":{"code":"not_found","message":"no such key"}}`, keyward.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.status == 307 {
					w.Header().Set("Location", "http://example.invalid/steal")
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			_, err := httpapi.NewClient(srv.URL, goodToken, nil).GetKey(ctx, "k")
			if keyward.ErrorCode(err) != tt.code {
				t.Errorf("got %v, want code %s", err, tt.code)
			}
			if strings.Contains(err.Error(), goodToken) {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
}

func TestClientUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	c := httpapi.NewClient(url, goodToken, nil)
	_, err := c.GetKey(ctx, "k")
	if keyward.ErrorCode(err) != keyward.EUNAVAILABLE {
		t.Errorf("got %v, want unavailable", err)
	}
	if strings.Contains(err.Error(), goodToken) {
		t.Errorf("error shows the token: %v", err)
	}
	if err := c.Health(ctx); keyward.ErrorCode(err) != keyward.EUNAVAILABLE {
		t.Errorf("Health: %v", err)
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	e := newEnv(t)
	_, err = e.client.GetKey(canceled, "k")
	if keyward.ErrorCode(err) != keyward.EUNAVAILABLE || !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}

func TestClientBadBaseURL(t *testing.T) {
	for _, u := range []string{"", "keyward:8443", "ftp://host", "http://", "http://h/?q=1", "%zz"} {
		_, err := httpapi.NewClient(u, goodToken, nil).GetKey(ctx, "k")
		if keyward.ErrorCode(err) != keyward.EINVALID {
			t.Errorf("NewClient(%q): %v, want invalid", u, err)
		}
	}
}

func TestClientBasePathPrefix(t *testing.T) {
	e := newEnv(t)
	mux := http.NewServeMux()
	mux.Handle("/keyward/", http.StripPrefix("/keyward", e.srv.Config.Handler))
	front := httptest.NewServer(mux)
	defer front.Close()
	_, err := httpapi.NewClient(front.URL+"/keyward", goodToken, nil).GetSecretValue(ctx, "prod/openai", keyward.SecretSelector{})
	must(t, err)
	if got := e.fake.last(t, "GetSecretValue").Args[0]; got != "prod/openai" {
		t.Errorf("name = %q", got)
	}
}

func TestClientHealth(t *testing.T) {
	e := newEnv(t)
	must(t, e.client.Health(ctx))
}

func TestClientRefusesTokenWithControlCharacters(t *testing.T) {
	e := newEnv(t)
	_, err := httpapi.NewClient(e.srv.URL, "kwa_abc\r\nX-Evil: 1", nil).GetKey(ctx, "k")
	if keyward.ErrorCode(err) != keyward.EINVALID || strings.Contains(err.Error(), "kwa_abc") {
		t.Errorf("got %v, want invalid without the token", err)
	}
	if n := e.fake.count(); n != 0 {
		t.Errorf("%d requests reached the service", n)
	}
}

func TestHeadOnAdminRouteRefused(t *testing.T) {
	e := newEnv(t)
	resp := e.request(t, http.MethodHead, "/v1/keys/k1/value", nil, nil)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("HEAD value: status %d, want 405", resp.StatusCode)
	}
	if n := e.fake.count(); n != 0 {
		t.Errorf("HEAD reached the service %d times", n)
	}
	if resp := e.request(t, http.MethodHead, "/healthz", nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD /healthz: status %d", resp.StatusCode)
	}
}

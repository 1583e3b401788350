package provider_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/property"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/cmd/pulumi-resource-keyward/provider"
)

// lossyProxy forwards to the admin API but loses the answer to the first
// POST /v1/keys after the server has acted on it: the connection drops, as
// on a network failure between the two.
func lossyProxy(t *testing.T, admin string) string {
	t.Helper()
	target, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	var lost atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := r.Clone(r.Context())
		out.RequestURI = ""
		out.URL.Scheme, out.URL.Host = target.Scheme, target.Host
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		if r.Method == http.MethodPost && r.URL.Path == "/v1/keys" && lost.CompareAndSwap(false, true) {
			io.Copy(io.Discard, resp.Body)
			panic(http.ErrAbortHandler) // the key exists; its answer never arrives
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestCreateKeySurvivesALostAnswer: the retry with the same client token
// does not make a second key; when the lost answer carried the value, the
// orphan is deleted and a key whose value Pulumi holds takes its place.
func TestCreateKeySurvivesALostAnswer(t *testing.T) {
	h := start(t)
	for _, tc := range []struct {
		name   string
		inputs map[string]any
	}{
		{"delivered", map[string]any{"storeValueInSecret": "lost/key"}},
		{"returned", map[string]any{}},
		{"imported", map[string]any{"importValue": property.New("lost-imported-value-0123456789").WithSecret(true)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prov := newProviderServer(t, map[string]property.Value{
				"endpoint": property.New(lossyProxy(t, h.url)),
				"token":    property.New(h.token).WithSecret(true),
			})
			hh := *h
			hh.t, hh.prov = t, prov
			c := hh.create(provider.TypeAPIKey, tc.name, pm(tc.inputs))
			ks := h.keysNamed(tc.name)
			if len(ks) != 1 || ks[0].ID != c.id {
				t.Fatalf("%d keys named %s after a lost answer (created %s)", len(ks), tc.name, c.id)
			}
			if _, ok := tc.inputs["storeValueInSecret"]; ok {
				return
			}
			v := c.props.Get("value")
			switch iv, imported := tc.inputs["importValue"].(property.Value); {
			case !v.Secret():
				t.Error("value output not secret")
			case imported && v.AsString() != iv.AsString():
				t.Error("value output is not the imported value")
			case !imported && !strings.HasSuffix(v.AsString(), strings.TrimPrefix(ks[0].Credentials[0].Hint, "kw_…")):
				t.Error("value output does not belong to the key")
			}
			if _, err := h.client.GetKey(h.ctx, c.id); keyward.ErrorCode(err) != "" {
				t.Error(err)
			}
		})
	}
}

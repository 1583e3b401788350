package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/mockupstream"
)

type modelList struct {
	Object string `json:"object"`
	Data   []struct {
		ID      string `json:"id"`
		OwnedBy string `json:"owned_by"`
	} `json:"data"`
}

func modelIDs(t *testing.T, r result) []string {
	t.Helper()
	var l modelList
	if r.status != 200 || json.Unmarshal([]byte(r.body), &l) != nil || l.Object != "list" {
		t.Fatalf("not a model list: %d %s", r.status, r.body)
	}
	ids := []string{}
	for _, m := range l.Data {
		if m.OwnedBy == "" {
			t.Fatalf("an entry lost its members: %s", r.body)
		}
		ids = append(ids, m.ID)
	}
	return ids
}

// GET /v1/models shows a model-scoped key only the models of its scope;
// an unscoped key sees the upstream's list unchanged.
func TestModelListFollowsTheKeysScope(t *testing.T) {
	e := newEnv(t)
	mock := mockupstream.Handler()
	e.up.set(mock.ServeHTTP)
	a := e.api("chat", true)
	on := []keyward.StageKey{{APIID: a.ID, Stage: "prod"}}
	_, all := e.key(keyward.KeyCreate{Name: "all", StageKeys: on})
	_, scoped := e.key(keyward.KeyCreate{Name: "scoped", StageKeys: on, Scopes: keyward.Scopes{Models: []string{"gpt-4o*"}}})
	_, none := e.key(keyward.KeyCreate{Name: "none", StageKeys: on, Scopes: keyward.Scopes{Models: []string{"claude-*"}}})

	r := e.call("GET", "/chat/prod/v1/models", all, "")
	if ids := modelIDs(t, r); !slices.Equal(ids, mockupstream.Models) {
		t.Errorf("unscoped key sees %v", ids)
	}
	direct := httptest.NewRecorder()
	mock.ServeHTTP(direct, httptest.NewRequest("GET", "/v1/models", nil))
	if r.body != direct.Body.String() {
		t.Errorf("unscoped list changed: %s, upstream sent %s", r.body, direct.Body)
	}
	if ids := modelIDs(t, e.call("GET", "/chat/prod/v1/models", scoped, "")); !slices.Equal(ids, []string{"gpt-4o-mini"}) {
		t.Errorf("scoped key sees %v", ids)
	}
	if ids := modelIDs(t, e.call("GET", "/chat/prod/v1/models", none, "")); len(ids) != 0 {
		t.Errorf("a key scoped to no listed model sees %v", ids)
	}
	// One model: out of scope is refused like a chat with it.
	if r := e.call("GET", "/chat/prod/v1/models/llama-3-8b", scoped, ""); r.status != 403 || parseOpenAIError(t, r).Error.Code != "model_not_allowed" {
		t.Errorf("retrieving an out-of-scope model: %d %s", r.status, r.body)
	}
	if r := e.call("GET", "/chat/prod/v1/models/gpt-4o-mini", scoped, ""); r.status == 403 {
		t.Errorf("retrieving an in-scope model: %d %s", r.status, r.body)
	}

	// A chunked list is read whole and filtered too.
	e.up.set(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"list","data":[{"id":"llama-3-8b","owned_by":"x"},`)
		w.(http.Flusher).Flush()
		io.WriteString(w, `{"id":"gpt-4o","owned_by":"x"},{"owned_by":"no id"},{"id":7,"owned_by":"x"}]}`)
	})
	if ids := modelIDs(t, e.call("GET", "/chat/prod/v1/models/", scoped, "")); !slices.Equal(ids, []string{"gpt-4o"}) {
		t.Errorf("chunked list, scoped key sees %v", ids)
	}
	// What is not a list fails closed for a scoped key.
	for _, body := range []string{`{"object":"list"}`, `[{"id":"llama-3-8b"}]`, `{"data":{"id":"llama-3-8b"}}`, `not json`} {
		e.up.set(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) })
		if r := e.call("GET", "/chat/prod/v1/models", scoped, ""); r.status != 502 {
			t.Errorf("upstream list %s: %d %s", body, r.status, r.body)
		}
	}
	// An upstream error passes through as it is.
	e.up.set(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"error":{"message":"down"}}`, http.StatusServiceUnavailable)
	})
	if r := e.call("GET", "/chat/prod/v1/models", scoped, ""); r.status != 503 {
		t.Errorf("upstream error: %d %s", r.status, r.body)
	}
}

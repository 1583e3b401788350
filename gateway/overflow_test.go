package gateway

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/llmwire"
	"github.com/keyward/keyward/mockupstream"
)

// The reservation never wraps: whatever max_tokens, plan default and body
// size, it is at least each of them and never negative.
func TestReservationSaturates(t *testing.T) {
	vals := []int64{0, 1, 1 << 31, 1 << 53, 1 << 62, math.MaxInt64 - 1, math.MaxInt64, -1, math.MinInt64}
	for _, def := range vals {
		ks := &keyStage{plans: []*planRule{{tokens: &keyward.TokenLimits{PerDay: 1, DefaultMaxTokens: def}}}}
		for _, mt := range vals {
			for _, bodyLen := range []int{0, 1, 8 << 20, math.MaxInt32, math.MaxInt} {
				r := ks.reservation(mt, bodyLen)
				floor := max(mt, 0)
				if mt < 0 {
					floor = max(def, 0)
					if floor == 0 {
						floor = defaultMaxTokens
					}
				}
				if r < floor || r < int64(bodyLen) || r <= 0 {
					t.Fatalf("reservation(max_tokens %d, body %d, default %d) = %d", mt, bodyLen, def, r)
				}
			}
		}
	}
}

// Extreme max_tokens values through the real request path: those outside
// 0..llmwire.MaxTokensLimit are refused with 400 and an OpenAI-style error
// before anything is charged or sent; those inside reserve exactly
// max_tokens plus the body, so a budget is never bypassed.
func TestExtremeMaxTokens(t *testing.T) {
	const budget = 1 << 40
	var h atomic.Pointer[http.Handler]
	var upstreamSaw atomic.Int64
	mock := mockupstream.HandlerWith(mockupstream.Options{Usage: mockupstream.UsageAsked})
	var counted http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamSaw.Add(1)
		mock.ServeHTTP(w, r)
	})
	h.Store(&counted)
	_, cl, base, key := budgetGateway(t, budget, &h)
	post := func(body string) (int, string) {
		req, _ := http.NewRequest("POST", base+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("X-Api-Key", key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	refused := []string{
		"2147483648", "4294967296", "9007199254740992", "4611686018427387904", "9223372036854775807",
		"9223372036854775808", "18446744073709551616", "-1", "-9223372036854775808", "-0",
		"1e308", "1e309", "1.5", "1.0", "1e3", "1E3", "2e+1", "5e-1", `"1e3"`, `"100"`, "NaN", "Infinity",
		"-Infinity", "true", "[]", "{}", "0x10",
	}
	for _, field := range []string{"max_tokens", "max_completion_tokens"} {
		for _, v := range refused {
			body := `{"model":"gpt-4o-mini","` + field + `":` + v + `}`
			admitted, _, _, _, _, _ := cl.state()
			before := upstreamSaw.Load()
			status, reply := post(body)
			var e struct {
				Error struct {
					Type, Message string
					Param         *string
				}
			}
			if status != 400 || json.Unmarshal([]byte(reply), &e) != nil || e.Error.Type != "invalid_request_error" || e.Error.Message == "" {
				t.Errorf("%s %s: %d %s", field, v, status, reply)
			}
			// Values that are not JSON at all are a syntax error, the rest
			// name the field.
			if syntax := v == "NaN" || v == "Infinity" || v == "-Infinity" || v == "0x10"; !syntax && (e.Error.Param == nil || *e.Error.Param != field) {
				t.Errorf("%s %s: param %v in %s", field, v, e.Error.Param, reply)
			}
			if a, _, _, _, _, _ := cl.state(); a != admitted || upstreamSaw.Load() != before {
				t.Errorf("%s %s: refused, yet charged or sent", field, v)
			}
		}
		for _, v := range []int64{0, 1, 1 << 20, 1 << 30, llmwire.MaxTokensLimit} {
			body := `{"model":"gpt-4o-mini","` + field + `":` + itoa(v) + `}`
			status, reply := post(body)
			_, _, stray, reserved, tokens, _ := cl.state()
			if status != 200 || stray != 0 || reserved != v+int64(len(body)) || tokens != 7 {
				t.Errorf("%s %d: %d %s; reserved %d, settled to %d", field, v, status, reply, reserved, tokens)
			}
		}
	}
}

// A plan whose default max_tokens is the largest int64 reserves a
// saturated amount for a request naming none: refused as over any budget,
// never wrapped into a negative cost that charges nothing.
func TestHugeDefaultMaxTokens(t *testing.T) {
	var h atomic.Pointer[http.Handler]
	var up http.Handler = mockupstream.Handler()
	h.Store(&up)
	_, cl, base, key := budgetGateway(t, 1<<62, &h, func(c *Config, _ *httptest.Server) {
		c.Source.(*fakeSource).snap.Plans[0].Tokens.DefaultMaxTokens = math.MaxInt64
	})
	req, _ := http.NewRequest("POST", base+"/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o-mini"}`))
	req.Header.Set("X-Api-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if admitted, _, _, _, _, _ := cl.state(); resp.StatusCode != 429 || admitted != 0 {
		t.Fatalf("%d, %d admitted", resp.StatusCode, admitted)
	}
}

func itoa(v int64) string { b, _ := json.Marshal(v); return string(b) }

package httpapi_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
)

func ptr[T any](v T) *T { return &v }

// roundTrip is one client method: it calls the client and checks what the
// service received and what the client returned.
type roundTrip struct {
	method string // service method name, as the fake records it
	run    func(t *testing.T, c *httpapi.Client, f *fake)
}

// want compares with DeepEqual and reports got/want.
func want(t *testing.T, what string, got, wantV any) {
	t.Helper()
	if !reflect.DeepEqual(got, wantV) {
		t.Errorf("%s:\n got  %#v\n want %#v", what, got, wantV)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v (code %s)", err, keyward.ErrorCode(err))
	}
}

var ctx = context.Background()

var roundTrips = []roundTrip{
	// Keys.
	{"CreateKey", func(t *testing.T, c *httpapi.Client, f *fake) {
		exp := t0.Add(time.Hour)
		in := keyward.KeyCreate{Name: "ci", Enabled: ptr(false), ExpiresAt: &exp, Recoverable: true,
			StageKeys: []keyward.StageKey{{APIID: "chat", Stage: "prod"}}, Tags: map[string]string{"team": "ml"},
			Scopes:  keyward.Scopes{Models: []string{"gpt-*"}, Routes: []keyward.RoutePattern{{Method: "POST", Path: "/v1/chat/*"}}},
			PlanIDs: []string{"gold"}, StoreSecret: "prod/key", ClientToken: "ct-1"}
		out, err := c.CreateKey(ctx, in)
		must(t, err)
		want(t, "input", f.last(t, "CreateKey").Args[0], in)
		want(t, "value", out.Value, "kw_value_shown_once")
		want(t, "key", *out.Key, keyward.APIKey{ID: "key-1", Name: "ci", Tags: in.Tags, Scopes: in.Scopes, CreatedAt: t0, UpdatedAt: t0})
	}},
	{"GetKey", func(t *testing.T, c *httpapi.Client, f *fake) {
		k, err := c.GetKey(ctx, "key/with?odd#chars")
		must(t, err)
		want(t, "id", f.last(t, "GetKey").Args[0], "key/with?odd#chars")
		want(t, "key", *k, keyward.APIKey{ID: "key/with?odd#chars", Name: "k", Enabled: true, CreatedAt: t0, UpdatedAt: t0})
	}},
	{"ListKeys", func(t *testing.T, c *httpapi.Client, f *fake) {
		fl := keyward.KeyFilter{NamePrefix: "ci-", CustomerID: "acme & co", PlanID: "gold", Page: keyward.Page{Limit: 2, Position: "p=1&x"}}
		items, next, err := c.ListKeys(ctx, fl)
		must(t, err)
		want(t, "filter", f.last(t, "ListKeys").Args[0], fl)
		want(t, "ids", []string{items[0].ID, items[1].ID}, []string{"key-1", "key-2"})
		want(t, "next", next, "pos-2")
	}},
	{"UpdateKey", func(t *testing.T, c *httpapi.Client, f *fake) {
		u := keyward.KeyUpdate{Name: ptr("renamed"), NoExpiry: true, Tags: &map[string]string{}, StageKeys: &[]keyward.StageKey{}}
		k, err := c.UpdateKey(ctx, "key-1", u)
		must(t, err)
		want(t, "args", f.last(t, "UpdateKey").Args, []any{"key-1", u})
		want(t, "name", k.Name, "renamed")
	}},
	{"DeleteKey", func(t *testing.T, c *httpapi.Client, f *fake) {
		must(t, c.DeleteKey(ctx, "key-1"))
		want(t, "id", f.last(t, "DeleteKey").Args[0], "key-1")
	}},
	{"ReadKeyValue", func(t *testing.T, c *httpapi.Client, f *fake) {
		v, err := c.ReadKeyValue(ctx, "key-5")
		must(t, err)
		want(t, "id", f.last(t, "ReadKeyValue").Args[0], "key-5")
		want(t, "value", v, "kw_recovered_value_for_key-5")
	}},
	{"GetKeyUsage", func(t *testing.T, c *httpapi.Client, f *fake) {
		// Times travel as their UTC day: 01:00 at +02:00 is the day before.
		east := time.FixedZone("EET", 2*3600)
		rows, err := c.GetKeyUsage(ctx, "key-5", time.Date(2025, 3, 1, 1, 0, 0, 0, east), time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
		must(t, err)
		from, to := time.Date(2025, 2, 28, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
		want(t, "args", f.last(t, "GetKeyUsage").Args, []any{"key-5", from, to})
		want(t, "rows", rows, []keyward.UsageDay{
			{KeyID: "key-5", Day: "2025-02-28", Requests: 1, TokensIn: 10, TokensOut: 100},
			{KeyID: "key-5", Day: "2025-03-01", Requests: 2, TokensIn: 20, TokensOut: 200},
		})
		// Zero times are left out, for the server's defaults.
		rows, err = c.GetKeyUsage(ctx, "key-5", time.Time{}, time.Time{})
		must(t, err)
		want(t, "args", f.last(t, "GetKeyUsage").Args, []any{"key-5", time.Time{}, time.Time{}})
		want(t, "rows", len(rows), 0)
	}},

	// Key rotations.
	{"RotateKey", func(t *testing.T, c *httpapi.Client, f *fake) {
		grace := keyward.Duration(36 * time.Hour)
		in := keyward.KeyRotate{Grace: &grace, ClientToken: "ct-rot"}
		out, err := c.RotateKey(ctx, "key/1", in)
		must(t, err)
		want(t, "args", f.last(t, "RotateKey").Args, []any{"key/1", in})
		want(t, "value", out.Value, rotatedValue)
		want(t, "rotation", out.Rotation.ClientToken, "ct-rot")
		want(t, "grace", *out.Rotation, func() keyward.Rotation {
			r := fakeRotation(keyward.RotationKey, "key/1")
			r.ClientToken, r.Hint = "ct-rot", "kw_…once"
			return *r
		}())
		want(t, "previous", out.Key.Credentials[1].GraceUntil.Equal(t0.Add(24*time.Hour)), true)

		// Delivered to a secret: no value comes back.
		in = keyward.KeyRotate{StoreSecret: "prod/key"}
		out, err = c.RotateKey(ctx, "key-1", in)
		must(t, err)
		want(t, "args", f.last(t, "RotateKey").Args, []any{"key-1", in})
		want(t, "no value", out.Value, "")
		want(t, "stored in", out.Rotation.StoreSecret, "prod/key")
	}},
	{"RevokePrevious", func(t *testing.T, c *httpapi.Client, f *fake) {
		k, err := c.RevokePrevious(ctx, "key-1")
		must(t, err)
		want(t, "id", f.last(t, "RevokePrevious").Args[0], "key-1")
		want(t, "credentials", len(k.Credentials), 1)
	}},
	{"ListKeyRotations", func(t *testing.T, c *httpapi.Client, f *fake) {
		fl := keyward.RotationFilter{State: keyward.RotationFailed, ClientToken: "ct & co", Page: keyward.Page{Limit: 5, Position: "p/2"}}
		items, next, err := c.ListKeyRotations(ctx, "key-1", fl)
		must(t, err)
		want(t, "args", f.last(t, "ListKeyRotations").Args, []any{"key-1", fl})
		want(t, "rotation", *items[0], *fakeRotation(keyward.RotationKey, "key-1"))
		want(t, "next", next, "next-rotations")

		// Kind and Target are the path's business.
		_, _, err = c.ListKeyRotations(ctx, "key-1", keyward.RotationFilter{Kind: keyward.RotationSecret, Target: "other"})
		must(t, err)
		want(t, "filter", f.last(t, "ListKeyRotations").Args, []any{"key-1", keyward.RotationFilter{}})
	}},

	// APIs.
	{"CreateAPI", func(t *testing.T, c *httpapi.Client, f *fake) {
		in := keyward.APICreate{Name: "chat", OpenAICompatible: true, KeyPrefix: "chat",
			Stages: []keyward.Stage{{Name: "prod", UpstreamURL: "https://llm.internal", UpstreamSecret: "prod/openai"}}}
		a, err := c.CreateAPI(ctx, in)
		must(t, err)
		want(t, "input", f.last(t, "CreateAPI").Args[0], in)
		want(t, "stages", a.Stages, in.Stages)
	}},
	{"GetAPI", func(t *testing.T, c *httpapi.Client, f *fake) {
		a, err := c.GetAPI(ctx, "chat")
		must(t, err)
		want(t, "name", f.last(t, "GetAPI").Args[0], "chat")
		want(t, "api", a.ID, "api-1")
	}},
	{"ListAPIs", func(t *testing.T, c *httpapi.Client, f *fake) {
		items, next, err := c.ListAPIs(ctx, keyward.Page{})
		must(t, err)
		want(t, "page", f.last(t, "ListAPIs").Args[0], keyward.Page{})
		want(t, "items", len(items), 0)
		want(t, "next", next, "")
	}},
	{"UpdateAPI", func(t *testing.T, c *httpapi.Client, f *fake) {
		u := keyward.APIUpdate{Stages: &[]keyward.Stage{{Name: "dev", UpstreamURL: "http://dev"}}, OpenAICompatible: ptr(false)}
		a, err := c.UpdateAPI(ctx, "chat", u)
		must(t, err)
		want(t, "args", f.last(t, "UpdateAPI").Args, []any{"chat", u})
		want(t, "stages", a.Stages, *u.Stages)
	}},
	{"DeleteAPI", func(t *testing.T, c *httpapi.Client, f *fake) {
		must(t, c.DeleteAPI(ctx, "chat"))
		want(t, "name", f.last(t, "DeleteAPI").Args[0], "chat")
	}},

	// Plans.
	{"CreatePlan", func(t *testing.T, c *httpapi.Client, f *fake) {
		in := keyward.PlanCreate{Name: "gold", Throttle: &keyward.Throttle{RateLimit: 2.5, BurstLimit: 5},
			Quota:  &keyward.Quota{Limit: 1000, Period: keyward.PeriodMonth, Offset: 3},
			Tokens: &keyward.TokenLimits{PerMinute: 1000, PerDay: 10000, DefaultMaxTokens: 256},
			APIStages: []keyward.PlanStage{{APIID: "chat", Stage: "prod", Throttle: &keyward.Throttle{RateLimit: 1, BurstLimit: 1},
				RouteThrottles: map[string]keyward.Throttle{"/v1/chat/POST": {RateLimit: 0.5, BurstLimit: 1}}}}}
		p, err := c.CreatePlan(ctx, in)
		must(t, err)
		want(t, "input", f.last(t, "CreatePlan").Args[0], in)
		want(t, "quota", *p.Quota, *in.Quota)
	}},
	{"GetPlan", func(t *testing.T, c *httpapi.Client, f *fake) {
		p, err := c.GetPlan(ctx, "gold")
		must(t, err)
		want(t, "name", f.last(t, "GetPlan").Args[0], "gold")
		want(t, "id", p.ID, "plan-1")
	}},
	{"ListPlans", func(t *testing.T, c *httpapi.Client, f *fake) {
		items, _, err := c.ListPlans(ctx, keyward.Page{Limit: 500})
		must(t, err)
		want(t, "page", f.last(t, "ListPlans").Args[0], keyward.Page{Limit: 500})
		want(t, "len", len(items), 1)
	}},
	{"UpdatePlan", func(t *testing.T, c *httpapi.Client, f *fake) {
		u := keyward.PlanUpdate{Throttle: &keyward.Throttle{RateLimit: 9, BurstLimit: 18}, ClearQuota: true}
		p, err := c.UpdatePlan(ctx, "gold", u)
		must(t, err)
		want(t, "args", f.last(t, "UpdatePlan").Args, []any{"gold", u})
		want(t, "throttle", *p.Throttle, *u.Throttle)
	}},
	{"DeletePlan", func(t *testing.T, c *httpapi.Client, f *fake) {
		must(t, c.DeletePlan(ctx, "gold"))
		want(t, "name", f.last(t, "DeletePlan").Args[0], "gold")
	}},
	{"AttachKey", func(t *testing.T, c *httpapi.Client, f *fake) {
		must(t, c.AttachKey(ctx, "gold", "key-1"))
		want(t, "args", f.last(t, "AttachKey").Args, []any{"gold", "key-1"})
	}},
	{"DetachKey", func(t *testing.T, c *httpapi.Client, f *fake) {
		must(t, c.DetachKey(ctx, "gold", "key-1"))
		want(t, "args", f.last(t, "DetachKey").Args, []any{"gold", "key-1"})
	}},
	{"ListPlanKeys", func(t *testing.T, c *httpapi.Client, f *fake) {
		items, _, err := c.ListPlanKeys(ctx, "gold", keyward.Page{Position: "p"})
		must(t, err)
		want(t, "args", f.last(t, "ListPlanKeys").Args, []any{"gold", keyward.Page{Position: "p"}})
		want(t, "plans", items[0].PlanIDs, []string{"gold"})
	}},

	// Secrets.
	{"CreateSecret", func(t *testing.T, c *httpapi.Client, f *fake) {
		for _, in := range []keyward.SecretCreate{
			{Name: "prod/openai", Description: "d", Tags: map[string]string{"a": "b"}, Value: []byte("sk-123"), ClientToken: "ct"},
			{Name: "prod/cert", Value: []byte{0, 0xff, 10}, Binary: true},
			{Name: "prod/empty"},
		} {
			ref, err := c.CreateSecret(ctx, in)
			must(t, err)
			want(t, "input", f.last(t, "CreateSecret").Args[0], in)
			want(t, "ref", *ref, keyward.SecretVersionRef{Name: in.Name, ARN: "kw:secret/" + in.Name, VersionID: in.ClientToken})
		}
	}},
	{"PutSecretValue", func(t *testing.T, c *httpapi.Client, f *fake) {
		for _, in := range []keyward.SecretPut{
			{Value: []byte("new"), ClientToken: "ct-2", Stages: []string{"PENDING"}},
			{Value: []byte{1, 2, 3}, Binary: true},
			{Value: []byte{}},
		} {
			ref, err := c.PutSecretValue(ctx, "team/a/b", in)
			must(t, err)
			want(t, "args", f.last(t, "PutSecretValue").Args, []any{"team/a/b", in})
			want(t, "version", ref.VersionID, "v-2")
		}
	}},
	{"GetSecretValue", func(t *testing.T, c *httpapi.Client, f *fake) {
		v, err := c.GetSecretValue(ctx, "prod/openai", keyward.SecretSelector{VersionID: "v-1"})
		must(t, err)
		want(t, "args", f.last(t, "GetSecretValue").Args, []any{"prod/openai", keyward.SecretSelector{VersionID: "v-1"}})
		want(t, "value", *v, keyward.SecretValue{Name: "prod/openai", VersionID: "v-1", Stages: []string{"CURRENT"}, CreatedAt: t0, Value: []byte("sk-upstream-prod/openai")})

		v, err = c.GetSecretValue(ctx, "bin", keyward.SecretSelector{Stage: "CURRENT"})
		must(t, err)
		want(t, "binary", *v, *secretValues["bin"])

		v, err = c.GetSecretValue(ctx, "latin1", keyward.SecretSelector{})
		must(t, err)
		want(t, "non-UTF-8 string bytes", v.Value, secretValues["latin1"].Value)
	}},
	{"DescribeSecret", func(t *testing.T, c *httpapi.Client, f *fake) {
		s, err := c.DescribeSecret(ctx, "prod/openai")
		must(t, err)
		want(t, "name", f.last(t, "DescribeSecret").Args[0], "prod/openai")
		want(t, "versions", s.VersionIDsToStages, map[string][]string{"v-1": {"CURRENT"}})
	}},
	{"ListSecrets", func(t *testing.T, c *httpapi.Client, f *fake) {
		fl := keyward.SecretFilter{NamePrefix: "prod/", TagKey: "team", TagValue: "ml", IncludeDeleted: true, Page: keyward.Page{Limit: 3}}
		items, next, err := c.ListSecrets(ctx, fl)
		must(t, err)
		want(t, "filter", f.last(t, "ListSecrets").Args[0], fl)
		want(t, "name", items[0].Name, "prod/openai")
		want(t, "next", next, "next-secrets")
	}},
	{"UpdateSecret", func(t *testing.T, c *httpapi.Client, f *fake) {
		u := keyward.SecretUpdate{Description: ptr("rotated monthly"), Tags: &map[string]string{"k": "v"}}
		s, err := c.UpdateSecret(ctx, "prod/openai", u)
		must(t, err)
		want(t, "args", f.last(t, "UpdateSecret").Args, []any{"prod/openai", u})
		want(t, "description", s.Description, "rotated monthly")
	}},
	{"UpdateSecretVersionStage", func(t *testing.T, c *httpapi.Client, f *fake) {
		m := keyward.StageMove{Stage: "CURRENT", MoveTo: "v-2", RemoveFrom: "v-1"}
		must(t, c.UpdateSecretVersionStage(ctx, "prod/openai", m))
		want(t, "args", f.last(t, "UpdateSecretVersionStage").Args, []any{"prod/openai", m})
	}},
	{"DeleteSecret", func(t *testing.T, c *httpapi.Client, f *fake) {
		for _, d := range []keyward.SecretDelete{{}, {RecoveryWindowDays: 7}, {Force: true}} {
			s, err := c.DeleteSecret(ctx, "prod/openai", d)
			must(t, err)
			want(t, "args", f.last(t, "DeleteSecret").Args, []any{"prod/openai", d})
			if s.DeletionDate == nil {
				t.Error("no deletionDate")
			}
		}
	}},
	{"RestoreSecret", func(t *testing.T, c *httpapi.Client, f *fake) {
		s, err := c.RestoreSecret(ctx, "prod/openai")
		must(t, err)
		want(t, "name", f.last(t, "RestoreSecret").Args[0], "prod/openai")
		want(t, "restored", s.DeletionDate == nil, true)
	}},

	// Secret rotations.
	{"RotateSecret", func(t *testing.T, c *httpapi.Client, f *fake) {
		every := keyward.Duration(30 * 24 * time.Hour)
		for _, in := range []keyward.SecretRotate{
			{RotatorID: "wh-1", Every: &every, Now: ptr(true), ClientToken: "ct"},
			{},
		} {
			rot, err := c.RotateSecret(ctx, "prod/openai", in)
			must(t, err)
			want(t, "args", f.last(t, "RotateSecret").Args, []any{"prod/openai", in})
			want(t, "state", rot.State, keyward.RotationInProgress)
			want(t, "finished", rot.FinishedAt == nil, true)
		}
		// Configured only: no rotation comes back.
		in := keyward.SecretRotate{Every: ptr(keyward.Duration(0)), Now: ptr(false)}
		rot, err := c.RotateSecret(ctx, "prod/openai", in)
		must(t, err)
		want(t, "args", f.last(t, "RotateSecret").Args, []any{"prod/openai", in})
		want(t, "no rotation", rot == nil, true)
	}},
	{"CancelSecretRotation", func(t *testing.T, c *httpapi.Client, f *fake) {
		rot, err := c.CancelSecretRotation(ctx, "prod/openai")
		must(t, err)
		want(t, "name", f.last(t, "CancelSecretRotation").Args[0], "prod/openai")
		want(t, "state", rot.State, keyward.RotationCancelled)
	}},
	{"ListSecretRotations", func(t *testing.T, c *httpapi.Client, f *fake) {
		fl := keyward.RotationFilter{State: keyward.RotationInProgress, Page: keyward.Page{Limit: 1}}
		items, next, err := c.ListSecretRotations(ctx, "team/a/b", fl)
		must(t, err)
		want(t, "args", f.last(t, "ListSecretRotations").Args, []any{"team/a/b", fl})
		want(t, "rotation", *items[0], *fakeRotation(keyward.RotationSecret, "team/a/b"))
		want(t, "next", next, "")
	}},

	// Webhooks.
	{"CreateWebhook", func(t *testing.T, c *httpapi.Client, f *fake) {
		in := keyward.WebhookCreate{Kind: keyward.WebhookNotify, URL: "https://hooks.internal/k?a=1&b=2", Description: "d",
			Events: []string{keyward.EventKeyRotated, keyward.EventRotationFailed}, Principal: "self"}
		out, err := c.CreateWebhook(ctx, in)
		must(t, err)
		want(t, "input", f.last(t, "CreateWebhook").Args[0], in)
		want(t, "secret", out.Secret, signingSecret)
		want(t, "webhook", *out.Webhook, keyward.Webhook{ID: "wh-1", Kind: keyward.WebhookNotify, URL: in.URL, Description: "d",
			Events: in.Events, PrincipalID: "self", CreatedAt: t0}) // SealedSecret never travels
	}},
	{"GetWebhook", func(t *testing.T, c *httpapi.Client, f *fake) {
		wh, err := c.GetWebhook(ctx, "wh-9")
		must(t, err)
		want(t, "id", f.last(t, "GetWebhook").Args[0], "wh-9")
		want(t, "webhook", *wh, keyward.Webhook{ID: "wh-9", Kind: keyward.WebhookRotator, URL: "https://rotator.internal/hook", CreatedAt: t0})
	}},
	{"ListWebhooks", func(t *testing.T, c *httpapi.Client, f *fake) {
		items, next, err := c.ListWebhooks(ctx, keyward.Page{Limit: 3, Position: "q"})
		must(t, err)
		want(t, "page", f.last(t, "ListWebhooks").Args[0], keyward.Page{Limit: 3, Position: "q"})
		want(t, "events", items[0].Events, []string{keyward.EventKeyRotated})
		want(t, "next", next, "next-webhooks")
	}},
	{"DeleteWebhook", func(t *testing.T, c *httpapi.Client, f *fake) {
		must(t, c.DeleteWebhook(ctx, "wh-1"))
		want(t, "id", f.last(t, "DeleteWebhook").Args[0], "wh-1")
	}},
	{"ListDeliveries", func(t *testing.T, c *httpapi.Client, f *fake) {
		fl := keyward.DeliveryFilter{EventType: keyward.EventKeyRotated, State: keyward.DeliveryFailed, Page: keyward.Page{Limit: 10}}
		items, _, err := c.ListDeliveries(ctx, "wh-1", fl)
		must(t, err)
		want(t, "args", f.last(t, "ListDeliveries").Args, []any{"wh-1", fl})
		d := items[0]
		want(t, "payload", string(d.Payload), `{"id":"ev-1","type":"key.rotated"}`)
		want(t, "attempts", d.Attempts, []keyward.DeliveryAttempt{{At: t0, StatusCode: 500, Error: "HTTP 500", Millis: 12}, {At: t0.Add(time.Minute), StatusCode: 204, Millis: 8}})

		_, _, err = c.ListDeliveries(ctx, "wh-1", keyward.DeliveryFilter{WebhookID: "other"})
		must(t, err)
		want(t, "filter", f.last(t, "ListDeliveries").Args, []any{"wh-1", keyward.DeliveryFilter{}})
	}},

	// Principals.
	{"CreatePrincipal", func(t *testing.T, c *httpapi.Client, f *fake) {
		in := keyward.PrincipalCreate{Name: "deployer-bot", Type: "service", Roles: []string{"deployer"}}
		out, err := c.CreatePrincipal(ctx, in)
		must(t, err)
		want(t, "input", f.last(t, "CreatePrincipal").Args[0], in)
		want(t, "token", out.Token, "kwa_new_token")
		want(t, "principal", out.Principal.Name, "deployer-bot")
	}},
	{"GetPrincipal", func(t *testing.T, c *httpapi.Client, f *fake) {
		p, err := c.GetPrincipal(ctx, "alice")
		must(t, err)
		want(t, "name", f.last(t, "GetPrincipal").Args[0], "alice")
		want(t, "policies", p.PolicyIDs, []string{"pol-1"})
	}},
	{"ListPrincipals", func(t *testing.T, c *httpapi.Client, f *fake) {
		items, _, err := c.ListPrincipals(ctx, keyward.Page{Limit: 1})
		must(t, err)
		want(t, "page", f.last(t, "ListPrincipals").Args[0], keyward.Page{Limit: 1})
		want(t, "id", items[0].ID, testPrincipal.ID)
	}},
	{"DeletePrincipal", func(t *testing.T, c *httpapi.Client, f *fake) {
		must(t, c.DeletePrincipal(ctx, "alice"))
		want(t, "name", f.last(t, "DeletePrincipal").Args[0], "alice")
	}},
	{"CreateToken", func(t *testing.T, c *httpapi.Client, f *fake) {
		tok, meta, err := c.CreateToken(ctx, "alice")
		must(t, err)
		want(t, "name", f.last(t, "CreateToken").Args[0], "alice")
		want(t, "token", tok, "kwa_another")
		want(t, "meta", *meta, keyward.AdminToken{ID: "tok-2", PrincipalID: "prn-2", Hint: "kwa_…ther", CreatedAt: t0})
	}},

	// Policies.
	{"CreatePolicy", func(t *testing.T, c *httpapi.Client, f *fake) {
		doc := `{"Version":"2024-01-01","Statement":[{"Effect":"Allow","Action":"apikeys:*","Resource":["kw:apikey/*"],` +
			`"Condition":{"IpAddress":{"kw:SourceIp":"10.0.0.0/8"}}}]}`
		p, err := c.CreatePolicy(ctx, keyward.PolicyCreate{Name: "keys", Document: json.RawMessage(doc)})
		must(t, err)
		got := f.last(t, "CreatePolicy").Args[0].(keyward.PolicyCreate)
		want(t, "document", string(got.Document), doc)
		want(t, "statement", p.Document.Statement[0].Action, keyward.StringList{"apikeys:*"})
		want(t, "condition", p.Document.Statement[0].Condition["IpAddress"]["kw:SourceIp"], keyward.StringList{"10.0.0.0/8"})
	}},
	{"GetPolicy", func(t *testing.T, c *httpapi.Client, f *fake) {
		p, err := c.GetPolicy(ctx, "admin")
		must(t, err)
		want(t, "name", f.last(t, "GetPolicy").Args[0], "admin")
		want(t, "builtIn", p.BuiltIn, true)
	}},
	{"ListPolicies", func(t *testing.T, c *httpapi.Client, f *fake) {
		items, _, err := c.ListPolicies(ctx, keyward.Page{})
		must(t, err)
		want(t, "page", f.last(t, "ListPolicies").Args[0], keyward.Page{})
		want(t, "name", items[0].Name, "admin")
	}},
	{"DeletePolicy", func(t *testing.T, c *httpapi.Client, f *fake) {
		must(t, c.DeletePolicy(ctx, "keys"))
		want(t, "name", f.last(t, "DeletePolicy").Args[0], "keys")
	}},
	{"AttachPolicy", func(t *testing.T, c *httpapi.Client, f *fake) {
		must(t, c.AttachPolicy(ctx, "keys", "alice"))
		want(t, "args", f.last(t, "AttachPolicy").Args, []any{"keys", "alice"})
	}},
	{"DetachPolicy", func(t *testing.T, c *httpapi.Client, f *fake) {
		must(t, c.DetachPolicy(ctx, "keys", "alice"))
		want(t, "args", f.last(t, "DetachPolicy").Args, []any{"keys", "alice"})
	}},

	// Audit.
	{"ListAudit", func(t *testing.T, c *httpapi.Client, f *fake) {
		since, until := t0, t0.Add(36*time.Hour+time.Nanosecond)
		fl := keyward.AuditFilter{AfterSeq: 41, EventName: "apikeys:Create", PrincipalID: "prn-1", Since: &since, Until: &until, Limit: 1000}
		recs, err := c.ListAudit(ctx, fl)
		must(t, err)
		want(t, "filter", f.last(t, "ListAudit").Args[0], fl)
		desc := keyward.AuditFilter{AfterSeq: 3, BeforeSeq: 90, Descending: true, Limit: 7}
		_, err = c.ListAudit(ctx, desc)
		must(t, err)
		want(t, "newest-first filter", f.last(t, "ListAudit").Args[0], desc)
		want(t, "seq", recs[0].Seq, int64(42))
		want(t, "event", string(recs[0].Event), `{"eventName":"apikeys:Create"}`)
	}},
	{"ListCheckpoints", func(t *testing.T, c *httpapi.Client, f *fake) {
		cps, err := c.ListCheckpoints(ctx, 100, 5)
		must(t, err)
		want(t, "args", f.last(t, "ListCheckpoints").Args, []any{int64(100), 5})
		want(t, "checkpoint", *cps[0], *fakeCheckpoint(110))
		_, err = c.ListCheckpoints(ctx, 0, 0)
		must(t, err)
		want(t, "args from the start", f.last(t, "ListCheckpoints").Args, []any{int64(0), 0})
	}},
	{"VerifyAudit", func(t *testing.T, c *httpapi.Client, f *fake) {
		v, err := c.VerifyAudit(ctx)
		must(t, err)
		f.last(t, "VerifyAudit")
		want(t, "verification", *v, *fakeVerification())
	}},
	{"ProveRecord", func(t *testing.T, c *httpapi.Client, f *fake) {
		p, err := c.ProveRecord(ctx, 42, 0)
		must(t, err)
		want(t, "args", f.last(t, "ProveRecord").Args, []any{int64(42), int64(0)})
		want(t, "record", *p.Record, keyward.AuditRecord{Seq: 42, Hash: "ab", Event: json.RawMessage(`{"eventName":"apikeys:Create"}`)})
		want(t, "proof", p.Proof, []string{"01", "02"})
		want(t, "checkpoint", *p.Checkpoint, *fakeCheckpoint(47))
		_, err = c.ProveRecord(ctx, 3, 90)
		must(t, err)
		want(t, "args with a size", f.last(t, "ProveRecord").Args, []any{int64(3), int64(90)})
	}},
	{"ProveConsistency", func(t *testing.T, c *httpapi.Client, f *fake) {
		p, err := c.ProveConsistency(ctx, 8, 0)
		must(t, err)
		want(t, "args", f.last(t, "ProveConsistency").Args, []any{int64(8), int64(0)})
		want(t, "proof", *p, keyward.AuditConsistency{From: 8, Proof: []string{"03"}, Checkpoint: fakeCheckpoint(15)})
		_, err = c.ProveConsistency(ctx, 0, 20)
		must(t, err)
		want(t, "args with a target", f.last(t, "ProveConsistency").Args, []any{int64(0), int64(20)})
	}},
	{"PublicKey", func(t *testing.T, c *httpapi.Client, f *fake) {
		k, err := c.PublicKey(ctx)
		must(t, err)
		f.last(t, "PublicKey")
		want(t, "verifier key", k, fakeVerifierKey)
	}},
}

// TestClientRoundTrip drives every service method through Client → handler →
// fake, checking the input the service saw, the Caller it got and the output
// the client returned; then the same method with each error code.
func TestClientRoundTrip(t *testing.T) {
	for _, rt := range roundTrips {
		t.Run(rt.method, func(t *testing.T) {
			e := newEnv(t)
			rt.run(t, e.client, e.fake)
			if c := e.fake.last(t, rt.method).Caller; c.Principal != testPrincipal || c.TokenID != tokenID {
				t.Errorf("caller = %+v", c)
			}
			for _, code := range []string{keyward.ENOTFOUND, keyward.EFORBIDDEN, keyward.ECONFLICT, keyward.EPRECONDITION} {
				e.fake.failWith(rt.method, keyward.Errorf(code, "%s from the core", code))
				err := errCalls[rt.method](e.client)
				if keyward.ErrorCode(err) != code || keyward.ErrorMessage(err) != code+" from the core" {
					t.Errorf("%s: got %v, want code %s with the core's message", code, err, code)
				}
			}
		})
	}
}

var errCalls = map[string]func(c *httpapi.Client) error{
	"CreateKey":    func(c *httpapi.Client) error { _, err := c.CreateKey(ctx, keyward.KeyCreate{Name: "k"}); return err },
	"GetKey":       func(c *httpapi.Client) error { _, err := c.GetKey(ctx, "k"); return err },
	"ListKeys":     func(c *httpapi.Client) error { _, _, err := c.ListKeys(ctx, keyward.KeyFilter{}); return err },
	"UpdateKey":    func(c *httpapi.Client) error { _, err := c.UpdateKey(ctx, "k", keyward.KeyUpdate{}); return err },
	"DeleteKey":    func(c *httpapi.Client) error { return c.DeleteKey(ctx, "k") },
	"ReadKeyValue": func(c *httpapi.Client) error { _, err := c.ReadKeyValue(ctx, "k"); return err },
	"GetKeyUsage": func(c *httpapi.Client) error {
		_, err := c.GetKeyUsage(ctx, "k", time.Time{}, time.Time{})
		return err
	},
	"CreateAPI":    func(c *httpapi.Client) error { _, err := c.CreateAPI(ctx, keyward.APICreate{}); return err },
	"GetAPI":       func(c *httpapi.Client) error { _, err := c.GetAPI(ctx, "a"); return err },
	"ListAPIs":     func(c *httpapi.Client) error { _, _, err := c.ListAPIs(ctx, keyward.Page{}); return err },
	"UpdateAPI":    func(c *httpapi.Client) error { _, err := c.UpdateAPI(ctx, "a", keyward.APIUpdate{}); return err },
	"DeleteAPI":    func(c *httpapi.Client) error { return c.DeleteAPI(ctx, "a") },
	"CreatePlan":   func(c *httpapi.Client) error { _, err := c.CreatePlan(ctx, keyward.PlanCreate{}); return err },
	"GetPlan":      func(c *httpapi.Client) error { _, err := c.GetPlan(ctx, "p"); return err },
	"ListPlans":    func(c *httpapi.Client) error { _, _, err := c.ListPlans(ctx, keyward.Page{}); return err },
	"UpdatePlan":   func(c *httpapi.Client) error { _, err := c.UpdatePlan(ctx, "p", keyward.PlanUpdate{}); return err },
	"DeletePlan":   func(c *httpapi.Client) error { return c.DeletePlan(ctx, "p") },
	"AttachKey":    func(c *httpapi.Client) error { return c.AttachKey(ctx, "p", "k") },
	"DetachKey":    func(c *httpapi.Client) error { return c.DetachKey(ctx, "p", "k") },
	"ListPlanKeys": func(c *httpapi.Client) error { _, _, err := c.ListPlanKeys(ctx, "p", keyward.Page{}); return err },
	"CreateSecret": func(c *httpapi.Client) error {
		_, err := c.CreateSecret(ctx, keyward.SecretCreate{Name: "s"})
		return err
	},
	"PutSecretValue": func(c *httpapi.Client) error {
		_, err := c.PutSecretValue(ctx, "s", keyward.SecretPut{Value: []byte("v")})
		return err
	},
	"GetSecretValue": func(c *httpapi.Client) error {
		_, err := c.GetSecretValue(ctx, "s", keyward.SecretSelector{})
		return err
	},
	"DescribeSecret": func(c *httpapi.Client) error { _, err := c.DescribeSecret(ctx, "s"); return err },
	"ListSecrets":    func(c *httpapi.Client) error { _, _, err := c.ListSecrets(ctx, keyward.SecretFilter{}); return err },
	"UpdateSecret":   func(c *httpapi.Client) error { _, err := c.UpdateSecret(ctx, "s", keyward.SecretUpdate{}); return err },
	"UpdateSecretVersionStage": func(c *httpapi.Client) error {
		return c.UpdateSecretVersionStage(ctx, "s", keyward.StageMove{Stage: "CURRENT"})
	},
	"DeleteSecret":   func(c *httpapi.Client) error { _, err := c.DeleteSecret(ctx, "s", keyward.SecretDelete{}); return err },
	"RestoreSecret":  func(c *httpapi.Client) error { _, err := c.RestoreSecret(ctx, "s"); return err },
	"RotateKey":      func(c *httpapi.Client) error { _, err := c.RotateKey(ctx, "k", keyward.KeyRotate{}); return err },
	"RevokePrevious": func(c *httpapi.Client) error { _, err := c.RevokePrevious(ctx, "k"); return err },
	"ListKeyRotations": func(c *httpapi.Client) error {
		_, _, err := c.ListKeyRotations(ctx, "k", keyward.RotationFilter{})
		return err
	},
	"RotateSecret": func(c *httpapi.Client) error { _, err := c.RotateSecret(ctx, "s", keyward.SecretRotate{}); return err },
	"CancelSecretRotation": func(c *httpapi.Client) error {
		_, err := c.CancelSecretRotation(ctx, "s")
		return err
	},
	"ListSecretRotations": func(c *httpapi.Client) error {
		_, _, err := c.ListSecretRotations(ctx, "s", keyward.RotationFilter{})
		return err
	},
	"CreateWebhook": func(c *httpapi.Client) error { _, err := c.CreateWebhook(ctx, keyward.WebhookCreate{}); return err },
	"GetWebhook":    func(c *httpapi.Client) error { _, err := c.GetWebhook(ctx, "w"); return err },
	"ListWebhooks":  func(c *httpapi.Client) error { _, _, err := c.ListWebhooks(ctx, keyward.Page{}); return err },
	"DeleteWebhook": func(c *httpapi.Client) error { return c.DeleteWebhook(ctx, "w") },
	"ListDeliveries": func(c *httpapi.Client) error {
		_, _, err := c.ListDeliveries(ctx, "w", keyward.DeliveryFilter{})
		return err
	},
	"CreatePrincipal": func(c *httpapi.Client) error { _, err := c.CreatePrincipal(ctx, keyward.PrincipalCreate{}); return err },
	"GetPrincipal":    func(c *httpapi.Client) error { _, err := c.GetPrincipal(ctx, "p"); return err },
	"ListPrincipals":  func(c *httpapi.Client) error { _, _, err := c.ListPrincipals(ctx, keyward.Page{}); return err },
	"DeletePrincipal": func(c *httpapi.Client) error { return c.DeletePrincipal(ctx, "p") },
	"CreateToken":     func(c *httpapi.Client) error { _, _, err := c.CreateToken(ctx, "p"); return err },
	"CreatePolicy": func(c *httpapi.Client) error {
		_, err := c.CreatePolicy(ctx, keyward.PolicyCreate{Name: "p", Document: json.RawMessage(`{}`)})
		return err
	},
	"GetPolicy":        func(c *httpapi.Client) error { _, err := c.GetPolicy(ctx, "p"); return err },
	"ListPolicies":     func(c *httpapi.Client) error { _, _, err := c.ListPolicies(ctx, keyward.Page{}); return err },
	"DeletePolicy":     func(c *httpapi.Client) error { return c.DeletePolicy(ctx, "p") },
	"AttachPolicy":     func(c *httpapi.Client) error { return c.AttachPolicy(ctx, "p", "q") },
	"DetachPolicy":     func(c *httpapi.Client) error { return c.DetachPolicy(ctx, "p", "q") },
	"ListAudit":        func(c *httpapi.Client) error { _, err := c.ListAudit(ctx, keyward.AuditFilter{}); return err },
	"ListCheckpoints":  func(c *httpapi.Client) error { _, err := c.ListCheckpoints(ctx, 0, 0); return err },
	"VerifyAudit":      func(c *httpapi.Client) error { _, err := c.VerifyAudit(ctx); return err },
	"ProveRecord":      func(c *httpapi.Client) error { _, err := c.ProveRecord(ctx, 1, 0); return err },
	"ProveConsistency": func(c *httpapi.Client) error { _, err := c.ProveConsistency(ctx, 1, 0); return err },
	"PublicKey":        func(c *httpapi.Client) error { _, err := c.PublicKey(ctx); return err },
}

// Every service method has a round trip and an error call.
func TestClientCoversEveryServiceMethod(t *testing.T) {
	covered := map[string]bool{}
	for _, rt := range roundTrips {
		covered[rt.method] = true
		if errCalls[rt.method] == nil {
			t.Errorf("no error call for %s", rt.method)
		}
	}
	for _, iface := range []any{
		(*keyward.KeyService)(nil), (*keyward.APIService)(nil), (*keyward.PlanService)(nil),
		(*keyward.SecretService)(nil), (*keyward.PrincipalService)(nil), (*keyward.PolicyService)(nil),
		(*keyward.AuditService)(nil), (*keyward.UsageService)(nil),
		(*keyward.RotationService)(nil), (*keyward.WebhookService)(nil),
	} {
		it := reflect.TypeOf(iface).Elem()
		for i := 0; i < it.NumMethod(); i++ {
			if m := it.Method(i).Name; !covered[m] {
				t.Errorf("%s.%s has no round-trip test", it.Name(), m)
			}
		}
	}
}

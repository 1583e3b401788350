package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/keyward/keyward"
)

// t0 is the time fixtures are built around. It has nanoseconds, so that a
// store that truncates times fails.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

// paris is a zone that is not UTC: times given in it must come back equal.
var paris = time.FixedZone("CET", 3600)

func at(d time.Duration) time.Time { return t0.Add(d) }

func ptr[T any](v T) *T { return &v }

func days(n int) keyward.Duration { return keyward.Duration(time.Duration(n) * 24 * time.Hour) }

// digest is a fixture digest, derived from a name so that tests can find the
// same one again.
func digest(name string) []byte {
	d := sha256.Sum256([]byte(name))
	return d[:]
}

// newKey returns a key with every field set but the derived ones
// (Credentials, PlanIDs).
func newKey(id string) *keyward.APIKey {
	return &keyward.APIKey{
		ID:          id,
		Name:        "key " + id,
		Description: "a key for tests",
		CustomerID:  "customer-1",
		Enabled:     true,
		Prefix:      "kw",
		ExpiresAt:   ptr(time.Date(2026, 1, 2, 3, 4, 5, 6, paris)),
		StageKeys:   []keyward.StageKey{{APIID: "api-1", Stage: "prod"}, {APIID: "api-2", Stage: "dev"}},
		Scopes: keyward.Scopes{
			Models: []string{"gpt-4*", "llama-3"},
			Routes: []keyward.RoutePattern{{Method: "POST", Path: "/v1/chat/*"}},
		},
		Tags:        map[string]string{"team": "ml", "env": "prod"},
		Recoverable: true,
		Imported:    false,
		ValueSecret: "keys/" + id,
		Rotation:    &keyward.RotationPolicy{Every: days(30), Grace: keyward.Duration(90 * time.Minute)},
		CreatedAt:   t0,
		UpdatedAt:   at(time.Second),
	}
}

// newCredential returns a credential of keyID with the given label; its ID
// and digest are derived from both.
func newCredential(keyID string, label keyward.CredentialLabel) *keyward.Credential {
	id := keyID + "-" + string(label)
	return &keyward.Credential{
		ID:          id,
		KeyID:       keyID,
		Label:       label,
		Hint:        "kw_…" + id[len(id)-4:],
		CreatedAt:   at(time.Minute),
		Digest:      digest(id),
		SealedValue: []byte("sealed:" + id),
	}
}

func newAPI(id, name string) *keyward.API {
	return &keyward.API{
		ID:               id,
		Name:             name,
		Description:      "an api for tests",
		OpenAICompatible: true,
		KeyPrefix:        "sk",
		Stages: []keyward.Stage{
			{Name: "dev", UpstreamURL: "http://127.0.0.1:8081/v1"},
			{Name: "prod", UpstreamURL: "https://llm.internal/v1", UpstreamSecret: "vendor/key"},
		},
		CreatedAt: t0,
		UpdatedAt: t0,
	}
}

// newPlan returns a plan with every limit set.
func newPlan(id, name string) *keyward.UsagePlan {
	return &keyward.UsagePlan{
		ID:          id,
		Name:        name,
		Description: "a plan for tests",
		Throttle:    &keyward.Throttle{RateLimit: 12.5, BurstLimit: 20},
		Quota:       &keyward.Quota{Limit: 100000, Period: keyward.PeriodWeek, Offset: 2},
		Tokens:      &keyward.TokenLimits{PerMinute: 90000, PerDay: 2000000, DefaultMaxTokens: 1024},
		APIStages: []keyward.PlanStage{
			{
				APIID:    "api-1",
				Stage:    "prod",
				Throttle: &keyward.Throttle{RateLimit: 0.25, BurstLimit: 1},
				RouteThrottles: map[string]keyward.Throttle{
					"/v1/chat/completions/POST": {RateLimit: 3, BurstLimit: 6},
					"/v1/embeddings/POST":       {RateLimit: 100.125, BurstLimit: 200},
				},
			},
			{APIID: "api-2", Stage: "dev"},
		},
		Rotation:  &keyward.RotationPolicy{Every: days(90), Grace: days(1)},
		CreatedAt: t0,
		UpdatedAt: at(time.Hour),
	}
}

func newSecret(name string) *keyward.Secret {
	return &keyward.Secret{
		Name:        name,
		ARN:         keyward.SecretARN(name),
		Description: "a secret for tests",
		Tags:        map[string]string{"env": "prod"},
		Rotation:    &keyward.SecretRotation{RotatorID: "wh-rotator", Every: days(7)},
		CreatedAt:   t0,
		UpdatedAt:   t0,
	}
}

func newVersion(secret, id string, created time.Time) *keyward.SecretVersion {
	return &keyward.SecretVersion{
		SecretName: secret,
		ID:         id,
		Binary:     false,
		CreatedAt:  created,
		Sealed:     []byte("sealed:" + secret + "/" + id),
		ValueMAC:   digest("mac:" + secret + "/" + id),
	}
}

func newPrincipal(id, name string) *keyward.Principal {
	return &keyward.Principal{
		ID:          id,
		Name:        name,
		Type:        "service",
		Description: "a principal for tests",
		CreatedAt:   t0,
		UpdatedAt:   t0,
	}
}

func newToken(id, principalID string) *keyward.AdminToken {
	return &keyward.AdminToken{
		ID:          id,
		PrincipalID: principalID,
		Hint:        "kwa_…" + id,
		CreatedAt:   t0,
		ExpiresAt:   ptr(at(24 * time.Hour)),
		Digest:      digest("token:" + id),
	}
}

func newPolicy(id, name string) *keyward.Policy {
	return &keyward.Policy{
		ID:          id,
		Name:        name,
		Description: "a policy for tests",
		Document: keyward.PolicyDocument{
			Version: "2025-01-01",
			Statement: []keyward.Statement{
				{
					Sid:      "deploy",
					Effect:   keyward.EffectAllow,
					Action:   keyward.StringList{string(keyward.ActionKeyCreate), string(keyward.ActionKeyUpdate)},
					Resource: keyward.StringList{"kw:apikey/*"},
					Condition: map[string]map[string]keyward.StringList{
						keyward.CondIPAddress: {keyward.KeySourceIP: {"10.0.0.0/8"}},
					},
				},
				{
					Effect:   keyward.EffectDeny,
					Action:   keyward.StringList{string(keyward.ActionKeyReadValue)},
					Resource: keyward.StringList{"*"},
				},
			},
		},
		CreatedAt: t0,
		UpdatedAt: t0,
	}
}

// newEvent returns the canonical bytes of an audit event.
func newEvent(name, principalID string, when time.Time) json.RawMessage {
	b, err := json.Marshal(keyward.AuditEvent{
		EventVersion: keyward.AuditEventVersion,
		EventID:      fmt.Sprintf("ev-%s-%s-%d", name, principalID, when.UnixNano()),
		EventTime:    when,
		EventSource:  "keyward",
		EventName:    name,
		EventType:    keyward.EventTypeCall,
		UserIdentity: keyward.UserIdentity{Type: "Principal", PrincipalID: principalID},
		ReadOnly:     false,
	})
	if err != nil {
		panic(err)
	}
	return b
}

// chain returns record seq with event, hashed as a leaf of the tree and
// with a tag standing for the tail key's.
func chain(seq int64, event json.RawMessage) *keyward.AuditRecord {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(event)
	return &keyward.AuditRecord{Seq: seq, Hash: hex.EncodeToString(h.Sum(nil)), Event: event, Tag: digest(fmt.Sprint("tag", seq))}
}

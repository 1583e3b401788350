package httpapi

import (
	"net/http"

	"github.com/keyward/keyward"
)

// Route is one entry of the admin API: a method, a net/http ServeMux pattern
// (path only, with {wildcards}), the one action the core checks for it, and
// whether it is public (no token, no action).
type Route struct {
	Method  string
	Pattern string
	Action  keyward.Action
	Public  bool
}

// endpoint serves one route; a returned error is written by writeError.
type endpoint func(s *server, w http.ResponseWriter, r *http.Request) error

type route struct {
	Route
	serve endpoint
}

func admin(method, pattern string, a keyward.Action, e endpoint) route {
	return route{Route{Method: method, Pattern: pattern, Action: a}, e}
}

func public(method, pattern string, e endpoint) route {
	return route{Route{Method: method, Pattern: pattern, Public: true}, e}
}

// table is the single source of the routes: NewHandler registers exactly
// these, Routes exports them, and a test holds openapi.json to them.
var table = []route{
	public(http.MethodGet, "/healthz", (*server).healthz),
	public(http.MethodGet, "/readyz", (*server).readyz),
	public(http.MethodGet, "/metrics", (*server).serveMetrics),
	public(http.MethodGet, "/v1/openapi.json", (*server).openAPI),

	admin(http.MethodPost, "/v1/keys", keyward.ActionKeyCreate, (*server).createKey),
	admin(http.MethodPost, "/v1/keys/import", keyward.ActionKeyCreate, (*server).importKeys),
	admin(http.MethodGet, "/v1/keys", keyward.ActionKeyList, (*server).listKeys),
	admin(http.MethodGet, "/v1/keys/{id}", keyward.ActionKeyGet, (*server).getKey),
	admin(http.MethodPatch, "/v1/keys/{id}", keyward.ActionKeyUpdate, (*server).updateKey),
	admin(http.MethodDelete, "/v1/keys/{id}", keyward.ActionKeyDelete, (*server).deleteKey),
	admin(http.MethodGet, "/v1/keys/{id}/value", keyward.ActionKeyReadValue, (*server).readKeyValue),
	admin(http.MethodGet, "/v1/keys/{id}/usage", keyward.ActionKeyGetUsage, (*server).getKeyUsage),
	admin(http.MethodPost, "/v1/keys/{id}/rotate", keyward.ActionKeyRotate, (*server).rotateKey),
	admin(http.MethodPost, "/v1/keys/{id}/revoke-previous", keyward.ActionKeyRevokePrevious, (*server).revokePrevious),
	admin(http.MethodGet, "/v1/keys/{id}/rotations", keyward.ActionKeyListRotations, (*server).listKeyRotations),

	admin(http.MethodPost, "/v1/apis", keyward.ActionAPICreate, (*server).createAPI),
	admin(http.MethodGet, "/v1/apis", keyward.ActionAPIList, (*server).listAPIs),
	admin(http.MethodGet, "/v1/apis/{api}", keyward.ActionAPIGet, (*server).getAPI),
	admin(http.MethodPatch, "/v1/apis/{api}", keyward.ActionAPIUpdate, (*server).updateAPI),
	admin(http.MethodDelete, "/v1/apis/{api}", keyward.ActionAPIDelete, (*server).deleteAPI),

	admin(http.MethodPost, "/v1/plans", keyward.ActionPlanCreate, (*server).createPlan),
	admin(http.MethodGet, "/v1/plans", keyward.ActionPlanList, (*server).listPlans),
	admin(http.MethodGet, "/v1/plans/{plan}", keyward.ActionPlanGet, (*server).getPlan),
	admin(http.MethodPatch, "/v1/plans/{plan}", keyward.ActionPlanUpdate, (*server).updatePlan),
	admin(http.MethodDelete, "/v1/plans/{plan}", keyward.ActionPlanDelete, (*server).deletePlan),
	admin(http.MethodGet, "/v1/plans/{plan}/keys", keyward.ActionPlanListKeys, (*server).listPlanKeys),
	admin(http.MethodPut, "/v1/plans/{plan}/keys/{keyId}", keyward.ActionPlanAttachKey, (*server).attachKey),
	admin(http.MethodDelete, "/v1/plans/{plan}/keys/{keyId}", keyward.ActionPlanDetachKey, (*server).detachKey),

	admin(http.MethodPost, "/v1/secrets", keyward.ActionSecretCreate, (*server).createSecret),
	admin(http.MethodGet, "/v1/secrets", keyward.ActionSecretList, (*server).listSecrets),
	admin(http.MethodGet, "/v1/secrets/{name}", keyward.ActionSecretDescribe, (*server).describeSecret),
	admin(http.MethodPatch, "/v1/secrets/{name}", keyward.ActionSecretUpdate, (*server).updateSecret),
	admin(http.MethodDelete, "/v1/secrets/{name}", keyward.ActionSecretDelete, (*server).deleteSecret),
	admin(http.MethodPost, "/v1/secrets/{name}/restore", keyward.ActionSecretRestore, (*server).restoreSecret),
	admin(http.MethodPost, "/v1/secrets/{name}/versions", keyward.ActionSecretPut, (*server).putSecretValue),
	admin(http.MethodGet, "/v1/secrets/{name}/value", keyward.ActionSecretGetValue, (*server).getSecretValue),
	admin(http.MethodPost, "/v1/secrets/{name}/stages", keyward.ActionSecretUpdateStage, (*server).updateSecretStage),
	admin(http.MethodPost, "/v1/secrets/{name}/rotate", keyward.ActionSecretRotate, (*server).rotateSecret),
	admin(http.MethodPost, "/v1/secrets/{name}/cancel-rotation", keyward.ActionSecretCancelRotation, (*server).cancelSecretRotation),
	admin(http.MethodGet, "/v1/secrets/{name}/rotations", keyward.ActionSecretListRotations, (*server).listSecretRotations),

	admin(http.MethodPost, "/v1/webhooks", keyward.ActionWebhookCreate, (*server).createWebhook),
	admin(http.MethodGet, "/v1/webhooks", keyward.ActionWebhookList, (*server).listWebhooks),
	admin(http.MethodGet, "/v1/webhooks/{id}", keyward.ActionWebhookGet, (*server).getWebhook),
	admin(http.MethodDelete, "/v1/webhooks/{id}", keyward.ActionWebhookDelete, (*server).deleteWebhook),
	admin(http.MethodGet, "/v1/webhooks/{id}/deliveries", keyward.ActionWebhookListDeliveries, (*server).listDeliveries),

	admin(http.MethodPost, "/v1/principals", keyward.ActionPrincipalCreate, (*server).createPrincipal),
	admin(http.MethodGet, "/v1/principals", keyward.ActionPrincipalList, (*server).listPrincipals),
	admin(http.MethodGet, "/v1/principals/{principal}", keyward.ActionPrincipalGet, (*server).getPrincipal),
	admin(http.MethodDelete, "/v1/principals/{principal}", keyward.ActionPrincipalDelete, (*server).deletePrincipal),
	admin(http.MethodPost, "/v1/principals/{principal}/tokens", keyward.ActionPrincipalCreateToken, (*server).createToken),

	admin(http.MethodPost, "/v1/policies", keyward.ActionPolicyCreate, (*server).createPolicy),
	admin(http.MethodGet, "/v1/policies", keyward.ActionPolicyList, (*server).listPolicies),
	admin(http.MethodGet, "/v1/policies/{policy}", keyward.ActionPolicyGet, (*server).getPolicy),
	admin(http.MethodDelete, "/v1/policies/{policy}", keyward.ActionPolicyDelete, (*server).deletePolicy),
	admin(http.MethodPut, "/v1/policies/{policy}/attachments/{principal}", keyward.ActionPolicyAttach, (*server).attachPolicy),
	admin(http.MethodDelete, "/v1/policies/{policy}/attachments/{principal}", keyward.ActionPolicyDetach, (*server).detachPolicy),

	admin(http.MethodGet, "/v1/audit/records", keyward.ActionAuditRead, (*server).listAudit),
	admin(http.MethodGet, "/v1/audit/checkpoints", keyward.ActionAuditRead, (*server).listCheckpoints),
	admin(http.MethodPost, "/v1/audit/verify", keyward.ActionAuditVerify, (*server).verifyAudit),
	admin(http.MethodGet, "/v1/audit/proof", keyward.ActionAuditRead, (*server).proveRecord),
	admin(http.MethodGet, "/v1/audit/consistency", keyward.ActionAuditRead, (*server).proveConsistency),
	admin(http.MethodGet, "/v1/audit/public-key", keyward.ActionAuditRead, (*server).auditPublicKey),
}

// Routes returns the route table, public routes included, in a fresh slice.
func Routes() []Route {
	out := make([]Route, len(table))
	for i, rt := range table {
		out[i] = rt.Route
	}
	return out
}

package keyward

// Action names one admin operation. Every admin route maps to exactly one
// action; policies grant or deny them.
type Action string

// Actions. The list is closed: Actions() returns every one of them.
const (
	ActionKeyCreate    Action = "apikeys:Create"
	ActionKeyGet       Action = "apikeys:Get"
	ActionKeyList      Action = "apikeys:List"
	ActionKeyUpdate    Action = "apikeys:Update"
	ActionKeyDelete    Action = "apikeys:Delete"
	ActionKeyReadValue Action = "apikeys:ReadValue"
	ActionKeyGetUsage  Action = "apikeys:GetUsage"

	ActionKeyRotate         Action = "apikeys:Rotate"
	ActionKeyRevokePrevious Action = "apikeys:RevokePrevious"
	ActionKeyListRotations  Action = "apikeys:ListRotations"

	ActionAPICreate Action = "apis:Create"
	ActionAPIGet    Action = "apis:Get"
	ActionAPIList   Action = "apis:List"
	ActionAPIUpdate Action = "apis:Update"
	ActionAPIDelete Action = "apis:Delete"

	ActionPlanCreate    Action = "plans:Create"
	ActionPlanGet       Action = "plans:Get"
	ActionPlanList      Action = "plans:List"
	ActionPlanUpdate    Action = "plans:Update"
	ActionPlanDelete    Action = "plans:Delete"
	ActionPlanAttachKey Action = "plans:AttachKey"
	ActionPlanDetachKey Action = "plans:DetachKey"
	ActionPlanListKeys  Action = "plans:ListKeys"

	ActionSecretCreate      Action = "secrets:CreateSecret"
	ActionSecretPut         Action = "secrets:PutSecretValue"
	ActionSecretGetValue    Action = "secrets:GetSecretValue"
	ActionSecretDescribe    Action = "secrets:DescribeSecret"
	ActionSecretList        Action = "secrets:ListSecrets"
	ActionSecretUpdate      Action = "secrets:UpdateSecret"
	ActionSecretUpdateStage Action = "secrets:UpdateSecretVersionStage"
	ActionSecretDelete      Action = "secrets:DeleteSecret"
	ActionSecretRestore     Action = "secrets:RestoreSecret"

	ActionSecretRotate         Action = "secrets:RotateSecret"
	ActionSecretCancelRotation Action = "secrets:CancelRotateSecret"
	ActionSecretListRotations  Action = "secrets:ListRotations"

	ActionWebhookCreate         Action = "webhooks:Create"
	ActionWebhookGet            Action = "webhooks:Get"
	ActionWebhookList           Action = "webhooks:List"
	ActionWebhookDelete         Action = "webhooks:Delete"
	ActionWebhookListDeliveries Action = "webhooks:ListDeliveries"

	ActionPrincipalCreate      Action = "principals:Create"
	ActionPrincipalGet         Action = "principals:Get"
	ActionPrincipalList        Action = "principals:List"
	ActionPrincipalDelete      Action = "principals:Delete"
	ActionPrincipalCreateToken Action = "principals:CreateToken"

	ActionPolicyCreate Action = "policies:Create"
	ActionPolicyGet    Action = "policies:Get"
	ActionPolicyList   Action = "policies:List"
	ActionPolicyDelete Action = "policies:Delete"
	ActionPolicyAttach Action = "policies:Attach"
	ActionPolicyDetach Action = "policies:Detach"

	ActionAuditRead   Action = "audit:Read"
	ActionAuditVerify Action = "audit:Verify"
)

// readOnlyActions are the actions that change nothing; the audit record says so.
var readOnlyActions = map[Action]bool{
	ActionKeyGet: true, ActionKeyList: true, ActionKeyReadValue: true, ActionKeyGetUsage: true,
	ActionKeyListRotations: true, ActionSecretListRotations: true,
	ActionWebhookGet: true, ActionWebhookList: true, ActionWebhookListDeliveries: true,
	ActionAPIGet: true, ActionAPIList: true,
	ActionPlanGet: true, ActionPlanList: true, ActionPlanListKeys: true,
	ActionSecretGetValue: true, ActionSecretDescribe: true, ActionSecretList: true,
	ActionPrincipalGet: true, ActionPrincipalList: true,
	ActionPolicyGet: true, ActionPolicyList: true,
	ActionAuditRead: true, ActionAuditVerify: true,
}

// Actions returns every action, in declaration order.
func Actions() []Action {
	return []Action{
		ActionKeyCreate, ActionKeyGet, ActionKeyList, ActionKeyUpdate, ActionKeyDelete, ActionKeyReadValue, ActionKeyGetUsage,
		ActionKeyRotate, ActionKeyRevokePrevious, ActionKeyListRotations,
		ActionAPICreate, ActionAPIGet, ActionAPIList, ActionAPIUpdate, ActionAPIDelete,
		ActionPlanCreate, ActionPlanGet, ActionPlanList, ActionPlanUpdate, ActionPlanDelete,
		ActionPlanAttachKey, ActionPlanDetachKey, ActionPlanListKeys,
		ActionSecretCreate, ActionSecretPut, ActionSecretGetValue, ActionSecretDescribe, ActionSecretList,
		ActionSecretUpdate, ActionSecretUpdateStage, ActionSecretDelete, ActionSecretRestore,
		ActionSecretRotate, ActionSecretCancelRotation, ActionSecretListRotations,
		ActionWebhookCreate, ActionWebhookGet, ActionWebhookList, ActionWebhookDelete, ActionWebhookListDeliveries,
		ActionPrincipalCreate, ActionPrincipalGet, ActionPrincipalList, ActionPrincipalDelete, ActionPrincipalCreateToken,
		ActionPolicyCreate, ActionPolicyGet, ActionPolicyList, ActionPolicyDelete, ActionPolicyAttach, ActionPolicyDetach,
		ActionAuditRead, ActionAuditVerify,
	}
}

// ReadOnly reports whether the action changes nothing.
func (a Action) ReadOnly() bool { return readOnlyActions[a] }

// Resource names, as policies match them.
func KeyARN(id string) string    { return "kw:apikey/" + id }
func APIARN(id string) string    { return "kw:api/" + id }
func PlanARN(id string) string   { return "kw:plan/" + id }
func PolicyARN(id string) string { return "kw:policy/" + id }

// AuditARN is the resource of the audit trail.
const AuditARN = "kw:audit"

package keyward

// Action names one admin operation. Every admin route maps to exactly one
// action; policies grant or deny them.
type Action string

// Action names. What each one is (its resource type, whether it changes
// anything, what it tells the gateway) is declared once, in actionTable;
// a test fails on a constant missing from it.
const (
	ActionKeyCreate    Action = "apikeys:Create"
	ActionKeyGet       Action = "apikeys:Get"
	ActionKeyList      Action = "apikeys:List"
	ActionKeyUpdate    Action = "apikeys:Update"
	ActionKeyDelete    Action = "apikeys:Delete"
	ActionKeyReadValue Action = "apikeys:ReadValue"
	ActionKeyImport    Action = "apikeys:Import"
	ActionKeyGetUsage  Action = "apikeys:GetUsage"

	ActionKeyRotate         Action = "apikeys:Rotate"
	ActionKeyRevokePrevious Action = "apikeys:RevokePrevious"
	ActionKeyListRotations  Action = "apikeys:ListRotations"

	ActionAPICreate  Action = "apis:Create"
	ActionAPIGet     Action = "apis:Get"
	ActionAPIList    Action = "apis:List"
	ActionAPIUpdate  Action = "apis:Update"
	ActionAPIDelete  Action = "apis:Delete"
	ActionAPIBindKey Action = "apis:BindKey"

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

// ActionSpec is everything keyward knows about an action. Authorization,
// policy validation, the built-in roles, the change feed, the audit record
// and the docs all read it from here.
type ActionSpec struct {
	Action Action
	// Resource is the type of the resources the action is authorized on.
	Resource ResourceType
	// ReadOnly actions change nothing; the audit record says so.
	ReadOnly bool
	// RevealsValue actions return a key value or a secret value: roles
	// that may read everything else still never get these.
	RevealsValue bool
	// SetsValue actions let the caller choose a key's value, so it knows
	// a working value without ever reading one: roles that never see a
	// value never get these either.
	SetsValue bool
	// Change is what the gateway is told once the action commits; "" when
	// the gateway does not serve from what the action changes, and for
	// actions checked With another (that one's change is told).
	Change ChangeKind
	// ChangesAuth actions can change who may do what, so that cached
	// tokens and policies must be forgotten once they commit.
	ChangesAuth bool
	// OnCollection actions are checked on the name of every resource of
	// their type ("kw:apikey/*"), not on one resource: creating and listing.
	// A policy naming single resources ("kw:apikey/key_*") never applies
	// to them.
	OnCollection bool
	// AlsoOn are further types the action is checked on: attaching a
	// policy is checked on the policy and on the target principal.
	AlsoOn []ResourceType
	// With names the route actions this one is checked alongside, when it
	// has no route of its own: importing a chosen value is checked with
	// apikeys:Create, binding a key to an API with the key's create or
	// update.
	With []Action
}

// actionTable is the single declaration of every action, in the order
// Actions and the docs list them.
var actionTable = []ActionSpec{
	{Action: ActionKeyCreate, OnCollection: true, Resource: ResourceAPIKey, Change: ChangeKey},
	{Action: ActionKeyGet, Resource: ResourceAPIKey, ReadOnly: true},
	{Action: ActionKeyList, OnCollection: true, Resource: ResourceAPIKey, ReadOnly: true},
	{Action: ActionKeyUpdate, Resource: ResourceAPIKey, Change: ChangeKey},
	{Action: ActionKeyDelete, Resource: ResourceAPIKey, Change: ChangeKey},
	{Action: ActionKeyReadValue, Resource: ResourceAPIKey, ReadOnly: true, RevealsValue: true},
	{Action: ActionKeyImport, Resource: ResourceAPIKey, SetsValue: true, With: []Action{ActionKeyCreate}},
	{Action: ActionKeyGetUsage, Resource: ResourceAPIKey, ReadOnly: true},
	{Action: ActionKeyRotate, Resource: ResourceAPIKey, Change: ChangeKey},
	{Action: ActionKeyRevokePrevious, Resource: ResourceAPIKey, Change: ChangeKey},
	{Action: ActionKeyListRotations, Resource: ResourceAPIKey, ReadOnly: true},

	{Action: ActionAPICreate, OnCollection: true, Resource: ResourceAPI, Change: ChangeAPI},
	{Action: ActionAPIGet, Resource: ResourceAPI, ReadOnly: true},
	{Action: ActionAPIList, OnCollection: true, Resource: ResourceAPI, ReadOnly: true},
	{Action: ActionAPIUpdate, Resource: ResourceAPI, Change: ChangeAPI},
	{Action: ActionAPIDelete, Resource: ResourceAPI, Change: ChangeAPI},
	{Action: ActionAPIBindKey, Resource: ResourceAPI, With: []Action{ActionKeyCreate, ActionKeyUpdate, ActionPlanCreate, ActionPlanUpdate, ActionPlanAttachKey}},

	{Action: ActionPlanCreate, OnCollection: true, Resource: ResourcePlan, Change: ChangePlan},
	{Action: ActionPlanGet, Resource: ResourcePlan, ReadOnly: true},
	{Action: ActionPlanList, OnCollection: true, Resource: ResourcePlan, ReadOnly: true},
	{Action: ActionPlanUpdate, Resource: ResourcePlan, Change: ChangePlan},
	{Action: ActionPlanDelete, Resource: ResourcePlan, Change: ChangePlan},
	{Action: ActionPlanAttachKey, Resource: ResourcePlan, Change: ChangePlan},
	{Action: ActionPlanDetachKey, Resource: ResourcePlan, Change: ChangePlan},
	{Action: ActionPlanListKeys, Resource: ResourcePlan, ReadOnly: true},

	{Action: ActionSecretCreate, Resource: ResourceSecret, Change: ChangeSecret},
	{Action: ActionSecretPut, Resource: ResourceSecret, Change: ChangeSecret},
	{Action: ActionSecretGetValue, Resource: ResourceSecret, ReadOnly: true, RevealsValue: true},
	{Action: ActionSecretDescribe, Resource: ResourceSecret, ReadOnly: true},
	{Action: ActionSecretList, OnCollection: true, Resource: ResourceSecret, ReadOnly: true},
	{Action: ActionSecretUpdate, Resource: ResourceSecret, Change: ChangeSecret},
	{Action: ActionSecretUpdateStage, Resource: ResourceSecret, Change: ChangeSecret},
	{Action: ActionSecretDelete, Resource: ResourceSecret, Change: ChangeSecret},
	{Action: ActionSecretRestore, Resource: ResourceSecret, Change: ChangeSecret},
	{Action: ActionSecretRotate, Resource: ResourceSecret, Change: ChangeSecret},
	{Action: ActionSecretCancelRotation, Resource: ResourceSecret, Change: ChangeSecret},
	{Action: ActionSecretListRotations, Resource: ResourceSecret, ReadOnly: true},

	{Action: ActionWebhookCreate, OnCollection: true, Resource: ResourceWebhook},
	{Action: ActionWebhookGet, Resource: ResourceWebhook, ReadOnly: true},
	{Action: ActionWebhookList, OnCollection: true, Resource: ResourceWebhook, ReadOnly: true},
	{Action: ActionWebhookDelete, Resource: ResourceWebhook},
	{Action: ActionWebhookListDeliveries, Resource: ResourceWebhook, ReadOnly: true},

	{Action: ActionPrincipalCreate, OnCollection: true, Resource: ResourcePrincipal, ChangesAuth: true},
	{Action: ActionPrincipalGet, Resource: ResourcePrincipal, ReadOnly: true},
	{Action: ActionPrincipalList, OnCollection: true, Resource: ResourcePrincipal, ReadOnly: true},
	{Action: ActionPrincipalDelete, Resource: ResourcePrincipal, ChangesAuth: true},
	{Action: ActionPrincipalCreateToken, Resource: ResourcePrincipal, ChangesAuth: true},

	{Action: ActionPolicyCreate, OnCollection: true, Resource: ResourcePolicy, ChangesAuth: true},
	{Action: ActionPolicyGet, Resource: ResourcePolicy, ReadOnly: true},
	{Action: ActionPolicyList, OnCollection: true, Resource: ResourcePolicy, ReadOnly: true},
	{Action: ActionPolicyDelete, Resource: ResourcePolicy, ChangesAuth: true},
	{Action: ActionPolicyAttach, Resource: ResourcePolicy, ChangesAuth: true, AlsoOn: []ResourceType{ResourcePrincipal}},
	{Action: ActionPolicyDetach, Resource: ResourcePolicy, ChangesAuth: true, AlsoOn: []ResourceType{ResourcePrincipal}},

	{Action: ActionAuditRead, Resource: ResourceAudit, ReadOnly: true},
	{Action: ActionAuditVerify, Resource: ResourceAudit, ReadOnly: true},
}

// actionIndex finds an action's row in actionTable.
var actionIndex = func() map[Action]int {
	m := make(map[Action]int, len(actionTable))
	for i, s := range actionTable {
		m[s.Action] = i
	}
	return m
}()

// ActionSpecs returns every action's spec, in declaration order, in a fresh
// slice.
func ActionSpecs() []ActionSpec {
	return append([]ActionSpec(nil), actionTable...)
}

// Actions returns every action, in declaration order.
func Actions() []Action {
	out := make([]Action, len(actionTable))
	for i, s := range actionTable {
		out[i] = s.Action
	}
	return out
}

// Spec returns what the table declares about a. Names that are not actions
// (a system event such as "keyward:Bootstrap") have none: the zero spec,
// false.
func (a Action) Spec() (ActionSpec, bool) {
	i, ok := actionIndex[a]
	if !ok {
		return ActionSpec{}, false
	}
	return actionTable[i], true
}

// ReadOnly reports whether the action changes nothing.
func (a Action) ReadOnly() bool {
	s, _ := a.Spec()
	return s.ReadOnly
}

package keyward

// ResourceType is the kind of object an action is authorized on: the part
// of a resource name between "kw:" and "/".
type ResourceType string

// Resource types, as resource names ("kw:apikey/key_…") spell them.
const (
	ResourceAPIKey    ResourceType = "apikey"
	ResourceAPI       ResourceType = "api"
	ResourcePlan      ResourceType = "plan"
	ResourceSecret    ResourceType = "secret"
	ResourceWebhook   ResourceType = "webhook"
	ResourcePrincipal ResourceType = "principal"
	ResourcePolicy    ResourceType = "policy"
	ResourceAudit     ResourceType = "audit"
)

// AuditARN is the resource of the audit trail: there is one, so it has no ID.
const AuditARN = "kw:" + string(ResourceAudit)

// ARN returns the name policies match for the resource of type t with that
// ID (a name, for secrets). The audit trail is a single resource: its ARN
// ignores id.
func (t ResourceType) ARN(id string) string {
	if t == ResourceAudit {
		return AuditARN
	}
	return t.ARNPrefix() + id
}

// ARNPrefix is what every resource name of type t starts with; for the
// audit trail, its whole name.
func (t ResourceType) ARNPrefix() string {
	if t == ResourceAudit {
		return AuditARN
	}
	return "kw:" + string(t) + "/"
}

// Form is how a resource name of type t is written, for messages and docs:
// "kw:apikey/<id>", "kw:secret/<name>" (secrets go by name), "kw:audit".
func (t ResourceType) Form() string {
	switch t {
	case ResourceAudit:
		return AuditARN
	case ResourceSecret:
		return t.ARNPrefix() + "<name>"
	}
	return t.ARNPrefix() + "<id>"
}

// IDPrefix is how the IDs of resources of type t begin ("key_" for keys);
// "" for secrets, which go by name, and for the audit trail, which has no
// ID. Policy validation reads it to refuse a Resource that names a resource
// by its name ("kw:plan/gold") where its ARN holds its ID, a pattern that
// could never match.
func (t ResourceType) IDPrefix() string {
	switch t {
	case ResourceAPIKey:
		return "key_"
	case ResourceAPI:
		return "api_"
	case ResourcePlan:
		return "plan_"
	case ResourceWebhook:
		return "whk_"
	case ResourcePrincipal:
		return "prn_"
	case ResourcePolicy:
		return "pol_"
	}
	return ""
}

// ResourceTypes returns the resource types of the actions, in the order of
// the action table.
func ResourceTypes() []ResourceType {
	var out []ResourceType
	seen := map[ResourceType]bool{}
	for _, s := range actionTable {
		if !seen[s.Resource] {
			seen[s.Resource] = true
			out = append(out, s.Resource)
		}
	}
	return out
}

// Resource names, as policies match them.
func KeyARN(id string) string    { return ResourceAPIKey.ARN(id) }
func APIARN(id string) string    { return ResourceAPI.ARN(id) }
func PlanARN(id string) string   { return ResourcePlan.ARN(id) }
func PolicyARN(id string) string { return ResourcePolicy.ARN(id) }

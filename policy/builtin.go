package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/keyward/keyward"
)

// Built-in role names. Each is a policy with ID "pol_builtin_<name>".
const (
	RoleAdmin    = "admin"
	RoleDeployer = "deployer"
	RoleReader   = "reader"
	RoleAuditor  = "auditor"
	RoleRotator  = "rotator"
)

// builtinIDPrefix prefixes the IDs of built-in policies.
const builtinIDPrefix = "pol_builtin_"

type role struct {
	name, description, document string
}

// roles are written as the JSON a user would write, so that they go through
// Parse like any other policy. Lists that mean "every action of a kind"
// (metadata reads, value reads, the audit trail) are drawn from the action
// table, one by one rather than as "Get*"-style patterns: whether a new
// action belongs in one is decided by its row (ReadOnly, RevealsValue), and
// the role matrix test shows the change.
var roles = []role{
	{
		name:        RoleAdmin,
		description: "Every action on every resource.",
		document: `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"}
  ]
}`,
	},
	{
		name: RoleDeployer,
		description: "Manage API keys (rotation included), APIs, usage plans and webhook endpoints, " +
			"bind keys to APIs, write and rotate secrets, but never read a key value or a secret value, " +
			"nor import a chosen key value: its keys' values go into secrets.",
		// The Deny is explicit, so it also holds when another attached policy
		// would allow reading values: give a principal that needs both two
		// separate identities.
		document: `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "ManageKeysApisPlansWebhooks", "Effect": "Allow",
     "Action": ` + deployerManages + `, "Resource": "*"},
    {"Sid": "WriteAndRotateSecrets", "Effect": "Allow",
     "Action": ` + secretWrites + `, "Resource": "*"},
    {"Sid": "NeverReadValues", "Effect": "Deny", "Action": ` + valueReads + `, "Resource": "*"}
  ]
}`,
	},
	{
		name:        RoleReader,
		description: "Read metadata of keys, APIs, plans, secrets, rotations, webhook endpoints and their deliveries, principals and policies, and key usage; never a value, not the audit trail.",
		document: `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "ReadMetadata", "Effect": "Allow", "Action": ` + readerActions + `, "Resource": "*"}
  ]
}`,
	},
	{
		name:        RoleAuditor,
		description: "Read and verify the audit trail, plus everything reader may do.",
		document: `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "ReadMetadata", "Effect": "Allow", "Action": ` + readerActions + `, "Resource": "*"},
    {"Sid": "ReadAudit", "Effect": "Allow", "Action": ` + auditActions + `, "Resource": "*"}
  ]
}`,
	},
	{
		name: RoleRotator,
		description: "Rotate API keys and secrets. Reads the current value of generic secrets, " +
			"because rotating one (an upstream vendor key) needs the current credential; " +
			"never an API key value: a secret that holds one answers only callers allowed " +
			"apikeys:ReadValue on its key, and a key rotation by a caller without it must deliver to a secret.",
		document: `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "RotateKeys", "Effect": "Allow",
     "Action": ["apikeys:Get", "apikeys:List",
                "apikeys:Rotate", "apikeys:RevokePrevious", "apikeys:ListRotations"], "Resource": "*"},
    {"Sid": "RotateSecrets", "Effect": "Allow",
     "Action": ["secrets:PutSecretValue", "secrets:DescribeSecret", "secrets:ListSecrets",
                "secrets:UpdateSecretVersionStage", "secrets:GetSecretValue",
                "secrets:RotateSecret", "secrets:CancelRotateSecret", "secrets:ListRotations"],
     "Resource": "*"}
  ]
}`,
	},
}

// Action lists drawn from the table. readerActions include a key's usage
// counts: like its metadata they say how a key is used, never what opens
// it. rotator, which may read keys too, is not given them (rotating needs
// no usage figures): its lists are picked action by action, not a kind of
// action, so they stay written out by hand.
var (
	readerActions = actionList(func(s keyward.ActionSpec) bool {
		return s.ReadOnly && !s.RevealsValue && s.Resource != keyward.ResourceAudit
	})
	secretWrites = actionList(func(s keyward.ActionSpec) bool {
		return s.Resource == keyward.ResourceSecret && !s.RevealsValue
	})
	valueReads = actionList(func(s keyward.ActionSpec) bool { return s.RevealsValue || s.SetsValue })
	// deployerManages: everything on keys, APIs, plans and webhook
	// endpoints but what would let it know a key's value.
	deployerManages = actionList(func(s keyward.ActionSpec) bool {
		switch s.Resource {
		case keyward.ResourceAPIKey, keyward.ResourceAPI, keyward.ResourcePlan, keyward.ResourceWebhook:
			return !s.RevealsValue && !s.SetsValue
		}
		return false
	})
	auditActions = actionList(func(s keyward.ActionSpec) bool { return s.Resource == keyward.ResourceAudit })
)

// actionList returns, as a JSON array, the actions whose row passes keep,
// in table order.
func actionList(keep func(keyward.ActionSpec) bool) string {
	var names []string
	for _, s := range keyward.ActionSpecs() {
		if keep(s) {
			names = append(names, string(s.Action))
		}
	}
	b, err := json.Marshal(names)
	if err != nil {
		panic(err) // a []string always marshals
	}
	return string(b)
}

// builtins parses the roles once. A role that does not parse is a bug in
// this file, caught by the tests, hence the panic.
var builtins = sync.OnceValue(func() []*keyward.Policy {
	out := make([]*keyward.Policy, len(roles))
	for i, r := range roles {
		doc, err := Parse([]byte(r.document))
		if err != nil {
			panic(fmt.Sprintf("policy: built-in role %s does not parse: %v", r.name, err))
		}
		out[i] = &keyward.Policy{
			ID:          builtinIDPrefix + r.name,
			Name:        r.name,
			Description: r.description,
			BuiltIn:     true,
			Document:    doc,
		}
	}
	return out
})

// BuiltIns returns the built-in roles (admin, deployer, reader, auditor,
// rotator) as policies with BuiltIn set and zero times. Each call returns
// fresh copies that the caller may modify.
func BuiltIns() []*keyward.Policy {
	bs := builtins()
	out := make([]*keyward.Policy, len(bs))
	for i, p := range bs {
		out[i] = clonePolicy(p)
	}
	return out
}

// BuiltIn returns a copy of the built-in role with that name (or ID
// "pol_builtin_<name>").
func BuiltIn(name string) (*keyward.Policy, bool) {
	for _, p := range builtins() {
		if p.Name == name || p.ID == name {
			return clonePolicy(p), true
		}
	}
	return nil, false
}

func clonePolicy(p *keyward.Policy) *keyward.Policy {
	c := *p
	c.Document.Statement = slices.Clone(p.Document.Statement)
	for i := range c.Document.Statement {
		s := &c.Document.Statement[i]
		s.Action = slices.Clone(s.Action)
		s.Resource = slices.Clone(s.Resource)
		if s.Condition != nil {
			cond := make(map[string]map[string]keyward.StringList, len(s.Condition))
			for op, keys := range s.Condition {
				ks := make(map[string]keyward.StringList, len(keys))
				for k, v := range keys {
					ks[k] = slices.Clone(v)
				}
				cond[op] = ks
			}
			s.Condition = cond
		}
	}
	return &c
}

package policy

import (
	"context"
	"net/netip"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/glob"
)

// Decision is the outcome of evaluating policies for one request. The zero
// value is ImplicitDeny.
type Decision int

// Decisions.
const (
	ImplicitDeny Decision = iota // no statement allowed the request
	Allow                        // some Allow statement matched and no Deny did
	ExplicitDeny                 // some Deny statement matched
)

// String returns "ImplicitDeny", "Allow" or "ExplicitDeny".
func (d Decision) String() string {
	switch d {
	case Allow:
		return "Allow"
	case ExplicitDeny:
		return "ExplicitDeny"
	case ImplicitDeny:
		return "ImplicitDeny"
	}
	return "Decision(?)"
}

// Evaluator is the keyward.Authorizer over the policies named in the request.
// It holds no state; the zero value is ready.
type Evaluator struct{}

var _ keyward.Authorizer = Evaluator{}

// Authorize allows req when Decide over the documents of req.Policies says
// Allow, and otherwise returns an EFORBIDDEN *keyward.Error naming the action
// and the resource (resource names are IDs and names, never secrets; control
// characters are replaced and long names clipped). Nil policies are skipped.
func (Evaluator) Authorize(ctx context.Context, req keyward.AuthzRequest) error {
	var e eval
	for _, p := range req.Policies {
		if p != nil && e.doc(&p.Document, &req) {
			break
		}
	}
	if e.decision() == Allow {
		return nil
	}
	return keyward.Errorf(keyward.EFORBIDDEN, "not authorized to perform %s on %s",
		sanitize(string(req.Action)), sanitize(req.Resource))
}

// Decide evaluates docs for req; req.Policies is ignored. Any matching Deny
// statement gives ExplicitDeny; otherwise any matching Allow statement gives
// Allow; otherwise ImplicitDeny.
//
// A statement matches when the action matches one of its Action patterns, the
// resource one of its Resource patterns, and every condition holds. Decide
// fails closed on what it cannot decide:
//   - a condition that cannot be evaluated (req.SourceIP empty or not an IP
//     address for IpAddress/NotIpAddress; req.Time zero for the date
//     operators; a malformed value in a document that did not come through
//     Parse) is false in an Allow statement and true in a Deny statement, so
//     "Deny unless NotIpAddress office" still denies a request of unknown
//     origin;
//   - an Effect other than exactly "Allow" is treated as "Deny".
func Decide(docs []keyward.PolicyDocument, req keyward.AuthzRequest) Decision {
	var e eval
	for i := range docs {
		if e.doc(&docs[i], &req) {
			break
		}
	}
	return e.decision()
}

// eval accumulates the outcome over documents.
type eval struct {
	allow, deny bool
}

// doc evaluates one document and reports whether the outcome is final
// (an explicit deny).
func (e *eval) doc(d *keyward.PolicyDocument, req *keyward.AuthzRequest) bool {
	for i := range d.Statement {
		s := &d.Statement[i]
		isAllow := s.Effect == keyward.EffectAllow
		if isAllow && e.allow {
			continue // already allowed; only a Deny can change the outcome
		}
		if !matchesAny(glob.Actions, s.Action, string(req.Action)) || !matchesAny(glob.Resources, s.Resource, req.Resource) {
			continue
		}
		// Undecidable conditions count as holding for a Deny, failing for an Allow.
		if !conditionsHold(s.Condition, req, !isAllow) {
			continue
		}
		if !isAllow {
			e.deny = true
			return true
		}
		e.allow = true
	}
	return false
}

func (e *eval) decision() Decision {
	switch {
	case e.deny:
		return ExplicitDeny
	case e.allow:
		return Allow
	}
	return ImplicitDeny
}

func matchesAny(syntax glob.Syntax, patterns keyward.StringList, s string) bool {
	if s == "" {
		return false
	}
	for _, p := range patterns {
		if syntax.Match(p, s) {
			return true
		}
	}
	return false
}

// conditionsHold reports whether every condition holds; a condition that
// cannot be decided counts as unknown.
func conditionsHold(cond map[string]map[string]keyward.StringList, req *keyward.AuthzRequest, unknown bool) bool {
	if len(cond) == 0 {
		return true
	}
	src, srcErr := sourceAddr(req.SourceIP)
	for op, keys := range cond {
		want, ok := conditionKey(op)
		if !ok || len(keys) == 0 {
			if !unknown {
				return false
			}
			continue
		}
		for k, vals := range keys {
			var holds, known bool
			switch {
			case k != want || len(vals) == 0:
			case want == keyward.KeySourceIP:
				if srcErr == nil {
					holds, known = ipCondition(op, src, vals)
				}
			default:
				if !req.Time.IsZero() {
					holds, known = dateCondition(op, req.Time, vals)
				}
			}
			if !known {
				holds = unknown
			}
			if !holds {
				return false
			}
		}
	}
	return true
}

// sourceAddr parses the request's source address: a bare IPv4 or IPv6
// address (no port), IPv4-mapped IPv6 unmapped, zone dropped.
func sourceAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return a, err
	}
	return a.Unmap().WithZone(""), nil
}

// ipCondition evaluates IpAddress (src in any value) and NotIpAddress (src in
// none). known is false when a value does not parse.
func ipCondition(op string, src netip.Addr, vals keyward.StringList) (holds, known bool) {
	in := false
	for _, v := range vals {
		p, err := parseNet(v)
		if err != nil {
			return false, false
		}
		if p.Contains(src) {
			in = true
		}
	}
	if op == keyward.CondNotIPAddress {
		return !in, true
	}
	return in, true
}

// dateCondition evaluates DateGreaterThan (t after any value) and
// DateLessThan (t before any value). known is false when a value does not
// parse.
func dateCondition(op string, t time.Time, vals keyward.StringList) (holds, known bool) {
	for _, v := range vals {
		bound, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return false, false
		}
		if op == keyward.CondDateGreaterThan && t.After(bound) || op == keyward.CondDateLessThan && t.Before(bound) {
			holds = true
		}
	}
	return holds, true
}

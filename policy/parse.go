package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/glob"
)

// Parse reads a policy document strictly and returns it validated:
//   - at most MaxDocumentSize bytes, one JSON object, no duplicated keys at
//     any depth (a duplicate would let two readers see two policies);
//   - top-level fields exactly "Version" and "Statement"; statement fields
//     exactly "Sid", "Effect", "Action", "Resource", "Condition" (names are
//     case-sensitive, so "effect" is an unknown field, not an alias);
//   - Version "2012-10-17", or absent/"" which Parse sets to "2012-10-17";
//   - Statement an array of 1 to MaxStatements objects;
//   - Sid optional, ASCII letters and digits only (as IAM), unique;
//   - Effect exactly "Allow" or "Deny";
//   - Action a string or non-empty array: "*", or "service:Name" where the
//     service is one of the known ones (any case) and Name may use '*' and
//     '?'; each pattern must match at least one known action, so a typo such
//     as "apikeys:Craete" is an error rather than a grant of nothing;
//   - Resource a string or non-empty array of "*" or "kw:..." patterns,
//     each able to name a resource of a type one of the statement's actions
//     acts on (see checkResources);
//   - Condition optional, operators IpAddress and NotIpAddress with the key
//     kw:SourceIp and CIDR or bare IPv4/IPv6 values, DateGreaterThan and
//     DateLessThan with the key kw:CurrentTime and RFC 3339 values.
//
// An empty Condition object is dropped (Condition nil), so that a parsed
// document marshalled with encoding/json and parsed again is equal to itself.
//
// Errors are *keyward.Error with code EINVALID, naming the statement (1-based)
// and the field.
func Parse(doc []byte) (keyward.PolicyDocument, error) {
	var d keyward.PolicyDocument
	if len(doc) > MaxDocumentSize {
		return d, invalid("policy document is larger than %d KiB", MaxDocumentSize>>10)
	}
	if err := checkJSON(doc); err != nil {
		return d, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil || top == nil {
		return d, invalid("policy document must be a JSON object")
	}
	for _, k := range sortedKeys(top) {
		if k != "Version" && k != "Statement" {
			return d, invalid("policy document: unknown field %q", clip(k))
		}
	}

	if raw, ok := top["Version"]; ok {
		if err := json.Unmarshal(raw, &d.Version); err != nil {
			return d, invalid("Version must be a string")
		}
	}
	switch d.Version {
	case "":
		d.Version = Version
	case Version:
	default:
		return d, invalid("Version must be %q, got %q", Version, clip(d.Version))
	}

	raw, ok := top["Statement"]
	if !ok {
		return d, invalid("policy document has no Statement")
	}
	var stmts []json.RawMessage
	if err := json.Unmarshal(raw, &stmts); err != nil {
		return d, invalid("Statement must be an array of statements")
	}
	switch {
	case len(stmts) == 0:
		return d, invalid("Statement must contain at least one statement")
	case len(stmts) > MaxStatements:
		return d, invalid("Statement has %d statements, at most %d are allowed", len(stmts), MaxStatements)
	}
	d.Statement = make([]keyward.Statement, len(stmts))
	sids := make(map[string]int)
	for i, raw := range stmts {
		s, err := parseStatement(i+1, raw)
		if err != nil {
			return keyward.PolicyDocument{}, err
		}
		if s.Sid != "" {
			if j, dup := sids[s.Sid]; dup {
				return keyward.PolicyDocument{}, invalid("statement %d: Sid %q is already used by statement %d", i+1, s.Sid, j)
			}
			sids[s.Sid] = i + 1
		}
		d.Statement[i] = s
	}
	return d, nil
}

var statementFields = []string{"Sid", "Effect", "Action", "Resource", "Condition"}

func parseStatement(n int, raw json.RawMessage) (keyward.Statement, error) {
	var s keyward.Statement
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return s, invalid("statement %d must be a JSON object", n)
	}
	for _, k := range sortedKeys(fields) {
		if !slices.Contains(statementFields, k) {
			return s, invalid("statement %d: unknown field %q", n, clip(k))
		}
	}

	if raw, ok := fields["Sid"]; ok {
		if err := json.Unmarshal(raw, &s.Sid); err != nil {
			return s, invalid("statement %d: Sid must be a string", n)
		}
		if err := checkSid(s.Sid); err != nil {
			return s, invalid("statement %d: Sid %q %s", n, clip(s.Sid), err)
		}
	}

	if raw, ok := fields["Effect"]; ok {
		if err := json.Unmarshal(raw, &s.Effect); err != nil {
			return s, invalid("statement %d: Effect must be a string", n)
		}
	}
	if s.Effect != keyward.EffectAllow && s.Effect != keyward.EffectDeny {
		return s, invalid("statement %d: Effect must be %q or %q", n, keyward.EffectAllow, keyward.EffectDeny)
	}

	var err error
	if s.Action, err = stringList(n, "Action", fields); err != nil {
		return s, err
	}
	for _, a := range s.Action {
		if err := checkAction(a); err != nil {
			return s, invalid("statement %d: Action %q %s", n, clip(a), err)
		}
	}

	if s.Resource, err = stringList(n, "Resource", fields); err != nil {
		return s, err
	}
	for _, r := range s.Resource {
		if r != "*" && (!strings.HasPrefix(r, "kw:") || len(r) == len("kw:")) {
			return s, invalid(`statement %d: Resource %q must be "*" or start with "kw:"`, n, clip(r))
		}
	}
	if err := checkResources(n, s.Action, s.Resource); err != nil {
		return s, err
	}

	if raw, ok := fields["Condition"]; ok {
		if err := json.Unmarshal(raw, &s.Condition); err != nil {
			return s, invalid("statement %d: Condition must map operators to {key: value or [values]}", n)
		}
		if err := checkCondition(n, s.Condition); err != nil {
			return s, err
		}
		if len(s.Condition) == 0 {
			s.Condition = nil
		}
	}
	return s, nil
}

func stringList(n int, field string, fields map[string]json.RawMessage) (keyward.StringList, error) {
	raw, ok := fields[field]
	if !ok {
		return nil, invalid("statement %d: %s is required", n, field)
	}
	var l keyward.StringList
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, invalid("statement %d: %s must be a string or an array of strings", n, field)
	}
	if len(l) == 0 {
		return nil, invalid("statement %d: %s must not be empty", n, field)
	}
	return l, nil
}

func checkSid(sid string) error {
	if len(sid) > maxSidLen {
		return fmt.Errorf("is longer than %d characters", maxSidLen)
	}
	for i := 0; i < len(sid); i++ {
		c := sid[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return errors.New("may contain only ASCII letters and digits")
		}
	}
	return nil
}

// checkAction accepts "*" and "service:pattern" patterns that match at least
// one known action.
func checkAction(a string) error {
	if a == "*" {
		return nil
	}
	svc, name, ok := strings.Cut(a, ":")
	if !ok || name == "" {
		return errors.New(`must be "*" or "service:Action"`)
	}
	if !knownService(svc) {
		return fmt.Errorf("names an unknown service (want one of %s)", strings.Join(services(), ", "))
	}
	for _, known := range keyward.Actions() {
		if glob.Actions.Match(a, string(known)) {
			return nil
		}
	}
	return errors.New("matches no known action")
}

// services returns the service parts of keyward.Actions(), in order.
func services() []string {
	var out []string
	for _, a := range keyward.Actions() {
		svc, _, _ := strings.Cut(string(a), ":")
		if !slices.Contains(out, svc) {
			out = append(out, svc)
		}
	}
	return out
}

func knownService(svc string) bool {
	for _, s := range services() {
		if strings.EqualFold(s, svc) {
			return true
		}
	}
	return false
}

// conditionKey returns the one key an operator accepts.
func conditionKey(op string) (string, bool) {
	switch op {
	case keyward.CondIPAddress, keyward.CondNotIPAddress:
		return keyward.KeySourceIP, true
	case keyward.CondDateGreaterThan, keyward.CondDateLessThan:
		return keyward.KeyCurrentTime, true
	}
	return "", false
}

func checkCondition(n int, cond map[string]map[string]keyward.StringList) error {
	for _, op := range sortedKeys(cond) {
		want, ok := conditionKey(op)
		if !ok {
			return invalid("statement %d: Condition operator %q is not supported (use %s, %s, %s or %s)", n, clip(op),
				keyward.CondIPAddress, keyward.CondNotIPAddress, keyward.CondDateGreaterThan, keyward.CondDateLessThan)
		}
		keys := cond[op]
		if len(keys) == 0 {
			return invalid("statement %d: Condition %s has no key", n, op)
		}
		for _, k := range sortedKeys(keys) {
			if k != want {
				return invalid("statement %d: Condition %s does not support key %q (want %s)", n, op, clip(k), want)
			}
			vals := keys[k]
			if len(vals) == 0 {
				return invalid("statement %d: Condition %s %s has no value", n, op, k)
			}
			for _, v := range vals {
				var err error
				if want == keyward.KeySourceIP {
					_, err = parseNet(v)
				} else {
					_, err = time.Parse(time.RFC3339, v)
				}
				if err != nil {
					what := "a CIDR or an IP address"
					if want == keyward.KeyCurrentTime {
						what = "an RFC 3339 time"
					}
					return invalid("statement %d: Condition %s %s value %q is not %s", n, op, k, clip(v), what)
				}
			}
		}
	}
	return nil
}

// parseNet reads a CIDR ("10.0.0.0/8", "fd00::/8") or a bare address (a
// single-host prefix). Host bits are masked off; IPv4-mapped IPv6 prefixes
// become IPv4 ones, so that they compare with unmapped source addresses.
func parseNet(v string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(v, "/") {
		var err error
		if p, err = netip.ParsePrefix(v); err != nil {
			return p, err
		}
	} else {
		a, err := netip.ParseAddr(v)
		if err != nil {
			return p, err
		}
		if a.Zone() != "" {
			return p, errors.New("zoned address")
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	p = p.Masked()
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p, nil
}

// jsonFrame is one open object or array during checkJSON's walk.
type jsonFrame struct {
	obj     bool
	wantKey bool // in an object, the next token is a key or '}'
	keys    map[string]bool
}

// checkJSON checks that doc is exactly one JSON value and that no object in
// it repeats a key. It walks tokens with an explicit stack: no recursion, so
// deep nesting costs memory proportional to the (size-limited) input only.
func checkJSON(doc []byte) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var stack []*jsonFrame
	// valueDone notes that a value ended inside the innermost container.
	valueDone := func() {
		if len(stack) > 0 && stack[len(stack)-1].obj {
			stack[len(stack)-1].wantKey = true
		}
	}
	values := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return invalid("policy document is not valid JSON")
		}
		if len(stack) == 0 {
			if values++; values > 1 {
				return invalid("policy document has data after the JSON object")
			}
		}
		if len(stack) > 0 && stack[len(stack)-1].obj && stack[len(stack)-1].wantKey {
			top := stack[len(stack)-1]
			if tok == json.Delim('}') {
				stack = stack[:len(stack)-1]
				valueDone()
				continue
			}
			key, _ := tok.(string)
			if top.keys[key] {
				return invalid("policy document repeats the key %q", clip(key))
			}
			top.keys[key] = true
			top.wantKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &jsonFrame{obj: true, wantKey: true, keys: map[string]bool{}})
		case json.Delim('['):
			stack = append(stack, &jsonFrame{})
		case json.Delim(']'), json.Delim('}'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
	if values == 0 {
		return invalid("policy document is empty")
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func invalid(format string, args ...any) error {
	return keyward.Errorf(keyward.EINVALID, format, args...)
}

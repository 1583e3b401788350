package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/glob"
	"github.com/keyward/keyward/internal/strictjson"
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
	if err := strictjson.Check(doc); err != nil {
		return d, jsonError(err)
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
	// at names the statement in every message below: its number, and its
	// Sid, which is what its author searches for.
	at := fmt.Sprintf("statement %d", n)
	if s.Sid != "" {
		at += fmt.Sprintf(" (Sid %q)", s.Sid)
	}

	if raw, ok := fields["Effect"]; ok {
		if err := json.Unmarshal(raw, &s.Effect); err != nil {
			return s, invalid("%s: Effect must be a string", at)
		}
	}
	if s.Effect != keyward.EffectAllow && s.Effect != keyward.EffectDeny {
		return s, invalid("%s: Effect must be %q or %q", at, keyward.EffectAllow, keyward.EffectDeny)
	}

	var err error
	if s.Action, err = stringList(at, "Action", fields); err != nil {
		return s, err
	}
	for i, a := range s.Action {
		if err := checkAction(a); err != nil {
			return s, invalid("%s: Action[%d] %q %s", at, i+1, clip(a), err)
		}
	}

	if s.Resource, err = stringList(at, "Resource", fields); err != nil {
		return s, err
	}
	if err := checkResources(at, s.Action, s.Resource); err != nil {
		return s, err
	}

	if raw, ok := fields["Condition"]; ok {
		if err := json.Unmarshal(raw, &s.Condition); err != nil {
			return s, invalid("%s: Condition must map operators to {key: value or [values]}", at)
		}
		if err := checkCondition(at, s.Condition); err != nil {
			return s, err
		}
		if len(s.Condition) == 0 {
			s.Condition = nil
		}
	}
	return s, nil
}

func stringList(at, field string, fields map[string]json.RawMessage) (keyward.StringList, error) {
	raw, ok := fields[field]
	if !ok {
		return nil, invalid("%s: %s is required", at, field)
	}
	var l keyward.StringList
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, invalid("%s: %s must be a string or an array of strings", at, field)
	}
	if len(l) == 0 {
		return nil, invalid("%s: %s must not be empty", at, field)
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
	for i, r := range a {
		if !(r == ':' || r == '*' || r == '?' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			return fmt.Errorf("has %q (%U) at byte %d: action names are ASCII letters, one ':' and the wildcards * and ?", r, r, i)
		}
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

// jsonError words a strictjson error for a policy document.
func jsonError(err error) error {
	var e *strictjson.Error
	if !errors.As(err, &e) {
		return invalid("policy document is not valid JSON")
	}
	switch e.Problem {
	case strictjson.InvalidUTF8:
		return invalid("policy document is not valid UTF-8 (byte %d)", e.Offset)
	case strictjson.LoneSurrogate:
		return invalid("policy document has an unpaired UTF-16 surrogate escape at byte %d", e.Offset)
	case strictjson.Empty:
		return invalid("policy document is empty")
	case strictjson.TrailingData:
		return invalid("policy document has data after the JSON object")
	case strictjson.TooDeep:
		return invalid("policy document is nested deeper than %d levels", strictjson.MaxDepth)
	case strictjson.DuplicateKey:
		return invalid("policy document repeats the key %q", clip(e.Key))
	}
	return invalid("policy document is not valid JSON (byte %d)", e.Offset)
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

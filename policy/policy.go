// Package policy parses and evaluates keyward's IAM-like policy documents and
// defines the built-in roles.
//
// A document is JSON shaped like an AWS IAM policy:
//
//	{
//	  "Version": "2012-10-17",
//	  "Statement": [{
//	    "Sid": "DeployerNoValues",
//	    "Effect": "Deny",
//	    "Action": ["apikeys:ReadValue", "secrets:GetSecretValue"],
//	    "Resource": "*",
//	    "Condition": {"NotIpAddress": {"kw:SourceIp": ["10.0.0.0/8", "fd00::/8"]}}
//	  }]
//	}
//
// Parsing is strict because a policy is security configuration: a typo must
// be an error at creation time, not a grant that silently never matches (or
// one that silently matches more). Field names are case-sensitive, unknown or
// duplicated fields are rejected, and an action pattern that matches no known
// action is rejected.
//
// Evaluation is default deny; any matching Deny statement wins over every
// Allow. Evaluation fails closed: when a condition cannot be decided (no or
// unparseable source IP, no request time), an Allow statement carrying it
// does not match and a Deny statement carrying it does.
//
// Matching rules:
//   - Actions are compared case-insensitively (ASCII), like IAM: a pattern
//     "APIKeys:get" matches the action "apikeys:Get".
//   - Resources are compared case-sensitively: "kw:secret/Prod" and
//     "kw:secret/prod" are different secrets.
//   - In both, '*' matches any run of characters, '/' and ':' included, and
//     '?' matches exactly one character (one UTF-8 sequence). There is no
//     escape character.
package policy

import (
	"strings"
	"unicode/utf8"
)

// Version is the only policy language version. A document without a Version
// gets this one.
const Version = "2012-10-17"

// Limits on documents, enforced by Parse.
const (
	MaxDocumentSize = 64 << 10 // bytes of JSON
	MaxStatements   = 100
	maxSidLen       = 128
)

// clip shortens s for quoting in an error message, and strips nothing else:
// callers quote it with %q, which escapes control characters.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// sanitize makes a request's action or resource fit in a one-line message:
// control characters become '?' and long values are clipped.
func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
	const max = 256
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

package policy_test

import (
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/policy"
)

// TestParseRefusesWhatMatchesNothing lists documents that would have been
// stored and never matched a request: in a Deny, a protection that fails
// open. Each must be refused, and the message must name the statement (by
// number and Sid) and the position of what is wrong.
func TestParseRefusesWhatMatchesNothing(t *testing.T) {
	doc := func(action, resource string) string {
		return `{"Statement":[{"Sid":"Guard","Effect":"Deny","Action":` + action + `,"Resource":` + resource + `}]}`
	}
	res := func(resource string) string { return doc(`"*"`, `["kw:secret/ok",`+resource+`]`) }
	act := func(action string) string { return doc(`["apikeys:Get",`+action+`]`, `"*"`) }
	cond := func(c string) string {
		return `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},` +
			`{"Sid":"Guard","Effect":"Deny","Action":"*","Resource":"*","Condition":` + c + `}]}`
	}
	tests := []struct{ name, doc, says string }{
		// Resources: characters no name has.
		{"trailing space", res(`"kw:secret/prod "`), `statement 1 (Sid "Guard"): Resource[2] "kw:secret/prod " has ' ' (U+0020) at byte 14`},
		{"Cyrillic o", res(`"kw:secret/pr\u043ed"`), `Resource[2] "kw:secret/prоd" has 'о' (U+043E) at byte 12`},
		{"no-break space", res(`"kw:secret/a\u00a0b"`), `(U+00A0)`},
		{"zero-width space", res(`"kw:apikey/key_1\u200b"`), `(U+200B)`},
		{"fullwidth star", res(`"kw:secret/\uff0a"`), `(U+FF0A)`},
		{"NUL", res(`"kw:secret/a\u0000"`), `Resource[2] "kw:secret/a\x00" has '\x00' (U+0000)`},
		{"newline", res(`"kw:secret/a\nb"`), `(U+000A)`},
		{"tab", res(`"kw:secret/\tb"`), `(U+0009)`},
		{"percent-encoding", res(`"kw:secret/a%2Fb"`), `'%' (U+0025)`},
		{"quote", res(`"kw:secret/a\"b"`), `'"' (U+0022)`},
		// Resources: malformed.
		{"empty", res(`""`), `Resource[2] "" must be "*" or start with "kw:"`},
		{"kw: alone", res(`"kw:"`), `Resource[2] "kw:" must be`},
		{"leading space", res(`" kw:secret/x"`), `Resource[2] " kw:secret/x" must be`},
		{"an AWS ARN", res(`"arn:aws:secretsmanager:*"`), `must be "*" or start with "kw:"`},
		{"a key by its name", res(`"kw:apikey/prod-key"`), `Resource[2] "kw:apikey/prod-key" names no resource (names are "*", kw:apikey/key_…`},
		{"a plan by its name", res(`"kw:plan/gold"`), `"kw:plan/gold" names no resource`},
		{"an ID in upper case", res(`"kw:apikey/KEY_ABC"`), `names no resource`},
		{"an ID prefix alone", res(`"kw:apikey/key_"`), `names no resource`},
		{"another type's ID", res(`"kw:apikey/plan_1"`), `names no resource`},
		{"a webhook ID of the wrong shape", res(`"kw:webhook/wh_1"`), `names no resource`},
		{"a colon in a secret name", res(`"kw:secret/db:password"`), `names no resource`},
		{"a glob with a colon past the type", res(`"kw:*:x"`), `"kw:*:x" names no resource`},
		{"a glob that needs two slashes in an ID", res(`"kw:apikey/*/*"`), `names no resource`},
		{"a glob ending before any ID", res(`"kw:api?"`), `names no resource`},
		{"the audit trail with an ID", res(`"kw:audit/x"`), `names no resource`},
		// Actions.
		{"action with a trailing space", act(`"apikeys:ReadValue "`), `statement 1 (Sid "Guard"): Action[2] "apikeys:ReadValue " has ' ' (U+0020) at byte 17`},
		{"action with a Cyrillic e", act(`"apikeys:R\u0435adValue"`), `Action[2] "apikeys:RеadValue" has 'е' (U+0435)`},
		{"action with a zero-width joiner", act(`"apikeys:Read\u200dValue"`), `(U+200D)`},
		{"action with an underscore", act(`"apikeys:Read_Value"`), `has '_'`},
		{"action with a NUL", act(`"apikeys:*\u0000"`), `(U+0000)`},
		{"action with two colons", act(`"apikeys::ReadValue"`), `Action[2] "apikeys::ReadValue" matches no known action`},
		{"action with a trailing colon", act(`"apikeys:Get:"`), `matches no known action`},
		{"action of an AWS service", act(`"secretsmanager:GetSecretValue"`), `Action[2] "secretsmanager:GetSecretValue" names an unknown service`},
		// Conditions: malformed values name their position.
		{"CIDR with a space", cond(`{"NotIpAddress":{"kw:SourceIp":["10.0.0.0/8","192.168.0.0/16 "]}}`), `statement 2 (Sid "Guard"): Condition NotIpAddress kw:SourceIp[2] "192.168.0.0/16 " is not a CIDR`},
		{"CIDR too long", cond(`{"IpAddress":{"kw:SourceIp":"10.0.0.0/33"}}`), `kw:SourceIp[1] "10.0.0.0/33" is not a CIDR`},
		{"octal-looking IP", cond(`{"IpAddress":{"kw:SourceIp":"010.0.0.1"}}`), `is not a CIDR`},
		{"date out of range", cond(`{"DateLessThan":{"kw:CurrentTime":"2030-13-01T00:00:00Z"}}`), `Condition DateLessThan kw:CurrentTime[1] "2030-13-01T00:00:00Z" is not an RFC 3339 time`},
		{"date without zone", cond(`{"DateLessThan":{"kw:CurrentTime":"2030-01-01T00:00:00"}}`), `is not an RFC 3339 time`},
		{"IAM's IfExists operator", cond(`{"IpAddressIfExists":{"kw:SourceIp":"10.0.0.0/8"}}`), `statement 2 (Sid "Guard"): Condition operator "IpAddressIfExists" is not supported`},
		{"AWS condition key", cond(`{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`), `does not support key "aws:SourceIp"`},
		// Conditions that can never hold together.
		{"in and not in the same network", cond(`{"IpAddress":{"kw:SourceIp":"10.0.0.0/8"},"NotIpAddress":{"kw:SourceIp":"10.0.0.0/8"}}`),
			`statement 2 (Sid "Guard"): Condition NotIpAddress kw:SourceIp excludes every address of IpAddress: the statement can never apply`},
		{"in a network two halves exclude", cond(`{"IpAddress":{"kw:SourceIp":"10.1.0.0/16"},"NotIpAddress":{"kw:SourceIp":["10.128.0.0/9","10.0.0.0/9"]}}`), `excludes every address of IpAddress`},
		{"in a mapped network excluded unmapped", cond(`{"IpAddress":{"kw:SourceIp":"::ffff:10.0.0.0/104"},"NotIpAddress":{"kw:SourceIp":"10.0.0.0/8"}}`), `excludes every address of IpAddress`},
		{"not in any address", cond(`{"NotIpAddress":{"kw:SourceIp":["0.0.0.0/0","::/0"]}}`), `excludes every source address`},
		{"not in any address, mapped", cond(`{"NotIpAddress":{"kw:SourceIp":["::ffff:0:0/96","::/1","8000::/1"]}}`), `excludes every source address`},
		{"after its end", cond(`{"DateGreaterThan":{"kw:CurrentTime":"2030-01-01T00:00:00Z"},"DateLessThan":{"kw:CurrentTime":"2025-01-01T00:00:00Z"}}`),
			`Condition DateGreaterThan 2030-01-01T00:00:00Z and DateLessThan 2025-01-01T00:00:00Z leave no time between them: the statement can never apply`},
		{"a window of no time", cond(`{"DateGreaterThan":{"kw:CurrentTime":"2030-01-01T01:00:00+01:00"},"DateLessThan":{"kw:CurrentTime":"2030-01-01T00:00:00Z"}}`), `leave no time`},
		// The document as a whole.
		{"invalid UTF-8", "{\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"kw:secret/\xff\"}]}", `policy document is not valid UTF-8 (byte 66)`},
		{"lone surrogate", res(`"kw:secret/\ud800"`), `unpaired UTF-16 surrogate escape`},
		{"duplicate key in a condition", cond(`{"IpAddress":{"kw:SourceIp":"10.0.0.0/8","kw:SourceIp":"0.0.0.0/0"}}`), `repeats the key "kw:SourceIp"`},
		{"duplicate key by escape", `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Eff\u0065ct":"Allow"}]}`, `repeats the key "Effect"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := policy.Parse([]byte(tt.doc))
			if code := keyward.ErrorCode(err); code != keyward.EINVALID {
				t.Fatalf("Parse(%s) error code = %q (%v), want %q", tt.doc, code, err, keyward.EINVALID)
			}
			if msg := keyward.ErrorMessage(err); !strings.Contains(msg, tt.says) {
				t.Errorf("message %q does not say %q", msg, tt.says)
			}
		})
	}
}

// TestParseKeepsWhatCanMatch holds the other side of the line: documents
// near each refusal above that match something.
func TestParseKeepsWhatCanMatch(t *testing.T) {
	deny := func(action, resource string) string {
		return `{"Statement":[{"Effect":"Deny","Action":` + action + `,"Resource":` + resource + `}]}`
	}
	cond := func(c string) string {
		return `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":` + c + `}]}`
	}
	for _, d := range []string{
		deny(`"*"`, `["kw:secret/a.b@c+d=e/f_g-H9","kw:secret/*/prod","kw:secret/??"]`),
		deny(`"*"`, `["kw:*","kw:**","kw:*/*","kw:?*"]`),
		deny(`"*"`, `["kw:policy/pol_builtin_admin","kw:apikey/key_*","kw:*_1","kw:api/api_?"]`),
		deny(`"apikeys:List"`, `"kw:apikey/?"`), // "kw:apikey/*", what List is checked on
		deny(`"audit:Read"`, `["kw:audit","kw:audit*","kw:a*t"]`),
		deny(`["APIKEYS:*","apikeys:?et","secrets:*Value"]`, `"*"`),
		cond(`{"IpAddress":{"kw:SourceIp":"10.0.0.0/8"},"NotIpAddress":{"kw:SourceIp":"10.9.0.0/16"}}`),
		cond(`{"IpAddress":{"kw:SourceIp":["10.0.0.0/8","2001:db8::/32"]},"NotIpAddress":{"kw:SourceIp":"10.0.0.0/8"}}`),
		cond(`{"NotIpAddress":{"kw:SourceIp":["0.0.0.0/0","2000::/3"]}}`),
		cond(`{"NotIpAddress":{"kw:SourceIp":["0.0.0.0/1","128.0.0.0/2"]}}`),
		cond(`{"DateGreaterThan":{"kw:CurrentTime":"2030-01-01T00:00:00Z"},"DateLessThan":{"kw:CurrentTime":["2025-01-01T00:00:00Z","2031-01-01T00:00:00Z"]}}`),
		cond(`{"DateGreaterThan":{"kw:CurrentTime":"2030-01-01T00:00:00Z"},"DateLessThan":{"kw:CurrentTime":"2030-01-01T00:00:00.000000002Z"}}`),
	} {
		if _, err := policy.Parse([]byte(d)); err != nil {
			t.Errorf("Parse(%s): %v", d, err)
		}
	}
}

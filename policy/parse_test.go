package policy_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/policy"
)

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want keyward.PolicyDocument
	}{
		{
			name: "version defaults and strings become lists",
			doc:  `{"Statement":[{"Effect":"Allow","Action":"apikeys:Get","Resource":"*"}]}`,
			want: keyward.PolicyDocument{Version: "2012-10-17", Statement: []keyward.Statement{
				{Effect: "Allow", Action: keyward.StringList{"apikeys:Get"}, Resource: keyward.StringList{"*"}},
			}},
		},
		{
			name: "empty version defaults",
			doc:  `{"Version":"","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["kw:secret/prod/*"]}]}`,
			want: keyward.PolicyDocument{Version: "2012-10-17", Statement: []keyward.Statement{
				{Effect: "Deny", Action: keyward.StringList{"*"}, Resource: keyward.StringList{"kw:secret/prod/*"}},
			}},
		},
		{
			name: "actions in any case and with globs are kept as written",
			doc:  `{"Version":"2012-10-17","Statement":[{"Sid":"S1","Effect":"Allow","Action":["APIKEYS:get","plans:*Key*","secrets:?etSecretValue"],"Resource":"kw:apikey/*"}]}`,
			want: keyward.PolicyDocument{Version: "2012-10-17", Statement: []keyward.Statement{
				{Sid: "S1", Effect: "Allow", Action: keyward.StringList{"APIKEYS:get", "plans:*Key*", "secrets:?etSecretValue"}, Resource: keyward.StringList{"kw:apikey/*"}},
			}},
		},
		{
			name: "conditions v4 v6 bare IPs and dates",
			doc: `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{
				"IpAddress":{"kw:SourceIp":["10.0.0.0/8","2001:db8::/32","192.0.2.7","::1"]},
				"NotIpAddress":{"kw:SourceIp":"10.9.0.0/16"},
				"DateGreaterThan":{"kw:CurrentTime":"2025-01-01T00:00:00Z"},
				"DateLessThan":{"kw:CurrentTime":"2030-01-01T00:00:00+02:00"}}}]}`,
			want: keyward.PolicyDocument{Version: "2012-10-17", Statement: []keyward.Statement{{
				Effect: "Allow", Action: keyward.StringList{"*"}, Resource: keyward.StringList{"*"},
				Condition: map[string]map[string]keyward.StringList{
					"IpAddress":       {"kw:SourceIp": {"10.0.0.0/8", "2001:db8::/32", "192.0.2.7", "::1"}},
					"NotIpAddress":    {"kw:SourceIp": {"10.9.0.0/16"}},
					"DateGreaterThan": {"kw:CurrentTime": {"2025-01-01T00:00:00Z"}},
					"DateLessThan":    {"kw:CurrentTime": {"2030-01-01T00:00:00+02:00"}},
				},
			}}},
		},
		{
			name: "empty condition is dropped",
			doc:  `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{}}]}`,
			want: keyward.PolicyDocument{Version: "2012-10-17", Statement: []keyward.Statement{
				{Effect: "Allow", Action: keyward.StringList{"*"}, Resource: keyward.StringList{"*"}},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := policy.Parse([]byte(tt.doc))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse = %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	stmt := func(fields string) string {
		return `{"Version":"2012-10-17","Statement":[{` + fields + `}]}`
	}
	ok := `"Effect":"Allow","Action":"*","Resource":"*"`
	cond := func(c string) string { return stmt(ok + `,"Condition":` + c) }
	many := make([]string, policy.MaxStatements+1)
	for i := range many {
		many[i] = `{` + ok + `}`
	}

	tests := []struct {
		name, doc string
	}{
		{"empty input", ``},
		{"not JSON", `{"Version":`},
		{"not an object", `[]`},
		{"null", `null`},
		{"trailing data", `{"Statement":[{` + ok + `}]} {}`},
		{"trailing garbage", `{"Statement":[{` + ok + `}]}x`},
		{"too large", `{"Statement":[{` + ok + `,"Sid":"` + strings.Repeat("a", policy.MaxDocumentSize) + `"}]}`},
		{"unknown top-level field", `{"Version":"2012-10-17","Id":"x","Statement":[{` + ok + `}]}`},
		{"top-level field in wrong case", `{"version":"2012-10-17","Statement":[{` + ok + `}]}`},
		{"duplicate top-level key", `{"Statement":[{` + ok + `}],"Statement":[]}`},
		{"duplicate statement key", stmt(ok + `,"Effect":"Deny"`)},
		{"duplicate condition operator", cond(`{"IpAddress":{"kw:SourceIp":"10.0.0.0/8"},"IpAddress":{"kw:SourceIp":"0.0.0.0/0"}}`)},
		{"old version", `{"Version":"2008-10-17","Statement":[{` + ok + `}]}`},
		{"version not a string", `{"Version":1,"Statement":[{` + ok + `}]}`},
		{"no statement", `{"Version":"2012-10-17"}`},
		{"null statement", `{"Statement":null}`},
		{"empty statement array", `{"Statement":[]}`},
		{"statement object instead of array", `{"Statement":{` + ok + `}}`},
		{"too many statements", `{"Statement":[` + strings.Join(many, ",") + `]}`},
		{"statement not an object", `{"Statement":["x"]}`},
		{"unknown statement field", stmt(ok + `,"Principal":"*"`)},
		{"NotAction unsupported", stmt(`"Effect":"Allow","NotAction":"*","Resource":"*"`)},
		{"statement field in wrong case", stmt(`"effect":"Allow","Action":"*","Resource":"*"`)},
		{"sid with dash", stmt(ok + `,"Sid":"a-b"`)},
		{"sid not a string", stmt(ok + `,"Sid":1`)},
		{"sid too long", stmt(ok + `,"Sid":"` + strings.Repeat("a", 129) + `"`)},
		{"duplicate sid", `{"Statement":[{"Sid":"A",` + ok + `},{"Sid":"A",` + ok + `}]}`},
		{"missing effect", stmt(`"Action":"*","Resource":"*"`)},
		{"lowercase effect", stmt(`"Effect":"allow","Action":"*","Resource":"*"`)},
		{"effect not a string", stmt(`"Effect":true,"Action":"*","Resource":"*"`)},
		{"missing action", stmt(`"Effect":"Allow","Resource":"*"`)},
		{"empty action list", stmt(`"Effect":"Allow","Action":[],"Resource":"*"`)},
		{"null action", stmt(`"Effect":"Allow","Action":null,"Resource":"*"`)},
		{"empty action string", stmt(`"Effect":"Allow","Action":"","Resource":"*"`)},
		{"action number", stmt(`"Effect":"Allow","Action":5,"Resource":"*"`)},
		{"action without service", stmt(`"Effect":"Allow","Action":"Get","Resource":"*"`)},
		{"action with empty name", stmt(`"Effect":"Allow","Action":"apikeys:","Resource":"*"`)},
		{"unknown service", stmt(`"Effect":"Allow","Action":"iam:*","Resource":"*"`)},
		{"service glob", stmt(`"Effect":"Allow","Action":"*:Get","Resource":"*"`)},
		{"typo in action", stmt(`"Effect":"Allow","Action":"apikeys:Craete","Resource":"*"`)},
		{"glob matching nothing", stmt(`"Effect":"Allow","Action":"secrets:Get*Key","Resource":"*"`)},
		{"action from another service", stmt(`"Effect":"Allow","Action":"apis:ReadValue","Resource":"*"`)},
		{"one bad action among good", stmt(`"Effect":"Allow","Action":["apikeys:Get","apikeys:Gett"],"Resource":"*"`)},
		{"missing resource", stmt(`"Effect":"Allow","Action":"*"`)},
		{"empty resource list", stmt(`"Effect":"Allow","Action":"*","Resource":[]`)},
		{"resource without kw prefix", stmt(`"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::x"`)},
		{"resource just kw:", stmt(`"Effect":"Allow","Action":"*","Resource":"kw:"`)},
		{"resource with upper-case prefix", stmt(`"Effect":"Allow","Action":"*","Resource":"KW:secret/x"`)},
		{"condition not an object", cond(`"x"`)},
		{"unknown condition operator", cond(`{"StringEquals":{"kw:SourceIp":"x"}}`)},
		{"operator in wrong case", cond(`{"ipaddress":{"kw:SourceIp":"10.0.0.0/8"}}`)},
		{"operator without key", cond(`{"IpAddress":{}}`)},
		{"operator null", cond(`{"IpAddress":null}`)},
		{"wrong key for ip operator", cond(`{"IpAddress":{"kw:CurrentTime":"10.0.0.0/8"}}`)},
		{"wrong key for date operator", cond(`{"DateLessThan":{"kw:SourceIp":"2030-01-01T00:00:00Z"}}`)},
		{"key in wrong case", cond(`{"IpAddress":{"kw:sourceip":"10.0.0.0/8"}}`)},
		{"no values", cond(`{"IpAddress":{"kw:SourceIp":[]}}`)},
		{"bad CIDR", cond(`{"IpAddress":{"kw:SourceIp":"10.0.0.0/33"}}`)},
		{"bad IPv6 CIDR", cond(`{"NotIpAddress":{"kw:SourceIp":"2001:db8::/129"}}`)},
		{"hostname instead of IP", cond(`{"IpAddress":{"kw:SourceIp":"example.com"}}`)},
		{"IP with port", cond(`{"IpAddress":{"kw:SourceIp":"10.0.0.1:80"}}`)},
		{"zoned IP", cond(`{"IpAddress":{"kw:SourceIp":"fe80::1%eth0"}}`)},
		{"empty IP", cond(`{"IpAddress":{"kw:SourceIp":""}}`)},
		{"date not RFC 3339", cond(`{"DateGreaterThan":{"kw:CurrentTime":"2025-01-01"}}`)},
		{"date as epoch", cond(`{"DateLessThan":{"kw:CurrentTime":"1735689600"}}`)},
		{"condition value number", cond(`{"IpAddress":{"kw:SourceIp":1}}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := policy.Parse([]byte(tt.doc))
			if code := keyward.ErrorCode(err); code != keyward.EINVALID {
				t.Fatalf("Parse error code = %q (%v), want %q", code, err, keyward.EINVALID)
			}
			t.Log(keyward.ErrorMessage(err))
		})
	}
}

// TestParseNamesStatement checks that errors say which statement is wrong,
// without testing the wording.
func TestParseNamesStatement(t *testing.T) {
	doc := `{"Statement":[
		{"Effect":"Allow","Action":"*","Resource":"*"},
		{"Effect":"Allow","Action":"*","Resource":"*"},
		{"Effect":"Allow","Action":"apikeys:Craete","Resource":"*"}]}`
	_, err := policy.Parse([]byte(doc))
	msg := keyward.ErrorMessage(err)
	if !strings.Contains(msg, "3") || !strings.Contains(msg, "apikeys:Craete") {
		t.Errorf("message %q does not name statement 3 and its bad action", msg)
	}
}

func TestParseLimits(t *testing.T) {
	stmts := make([]string, policy.MaxStatements)
	for i := range stmts {
		stmts[i] = fmt.Sprintf(`{"Sid":"S%d","Effect":"Allow","Action":"*","Resource":"*"}`, i)
	}
	if _, err := policy.Parse([]byte(`{"Statement":[` + strings.Join(stmts, ",") + `]}`)); err != nil {
		t.Errorf("%d statements: %v", policy.MaxStatements, err)
	}
}

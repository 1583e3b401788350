package cli

import (
	"strings"
	"testing"
)

// TestPlainHTTPToAnotherHostWarns: with KEYWARD_ALLOW_PLAINTEXT=true the
// CLI still says when the admin token would cross the network in clear
// (http:// to a host other than loopback), and stays quiet for loopback
// and https. The fake client makes no connection. Without the variable it
// refuses (TestAttackCLISendsTokenInClearOffLoopback).
func TestPlainHTTPToAnotherHostWarns(t *testing.T) {
	for addr, warn := range map[string]bool{
		"http://keyward.internal:7070":  true,
		"http://10.1.2.3:7070":          true,
		"http://127.0.0.1:7070":         false,
		"http://[::1]:7070":             false,
		"http://localhost:7070":         false,
		"https://keyward.internal:7443": false,
	} {
		env := map[string]string{EnvToken: "kwa_admintokenadmintoken", EnvAddr: addr, EnvAllowPlaintext: "true"}
		res := runCLI(t, &fakeClient{}, env, "", "keys", "list")
		if got := strings.Contains(res.stderr, "crosses the network in clear"); got != warn {
			t.Errorf("%s: warned %v, want %v (stderr %q)", addr, got, warn, res.stderr)
		}
		if strings.Contains(res.stderr, "kwa_admintoken") {
			t.Errorf("%s: the warning holds the token", addr)
		}
	}
}

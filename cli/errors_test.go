package cli

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

func TestUsageErrors(t *testing.T) {
	cases := map[string][]string{
		"unknown flag":           {"keys", "list", "--nope"},
		"unknown verb":           {"keys", "frobnicate"},
		"unknown noun":           {"frobnicate"},
		"missing argument":       {"keys", "get"},
		"extra argument":         {"keys", "get", "a", "b"},
		"empty argument":         {"keys", "get", " "},
		"missing name":           {"keys", "create"},
		"bad duration":           {"keys", "create", "--name", "a", "--expires", "soon"},
		"negative duration":      {"keys", "create", "--name", "a", "--expires", "-1d"},
		"bad stage":              {"keys", "create", "--name", "a", "--stage", "chat"},
		"bad tag":                {"keys", "create", "--name", "a", "--tag", "novalue"},
		"duplicate tag":          {"keys", "create", "--name", "a", "--tag", "a=1", "--tag", "a=2"},
		"bad route":              {"keys", "create", "--name", "a", "--scope-route", "POST"},
		"expiry both ways":       {"keys", "update", "k", "--expires", "1d", "--no-expiry"},
		"nothing to update":      {"keys", "update", "k"},
		"bad limit":              {"keys", "list", "--limit", "-1"},
		"limit too big":          {"keys", "list", "--limit", "501"},
		"api without stage":      {"apis", "create", "chat"},
		"bad upstream":           {"apis", "create", "chat", "--stage", "prod=not-a-url"},
		"duplicate stage":        {"apis", "create", "chat", "--stage", "prod=http://x", "--stage", "prod=http://y"},
		"secret of no stage":     {"apis", "create", "chat", "--stage", "prod=http://x", "--upstream-secret", "dev=s"},
		"bad quota":              {"plans", "create", "p", "--quota", "1000/YEAR"},
		"quota not a number":     {"plans", "create", "p", "--quota", "many/DAY"},
		"rate without burst":     {"plans", "create", "p", "--rate", "10"},
		"zero rate":              {"plans", "create", "p", "--rate", "0", "--burst", "1"},
		"offset without quota":   {"plans", "create", "p", "--quota-offset", "2"},
		"offset out of range":    {"plans", "create", "p", "--quota", "5/WEEK", "--quota-offset", "7"},
		"clear and set":          {"plans", "update", "p", "--no-quota", "--quota", "1/DAY"},
		"stdin and file":         {"secrets", "create", "s", "--stdin", "--from-file", "f"},
		"window and force":       {"secrets", "delete", "s", "--force", "--recovery-window-days", "7"},
		"window out of range":    {"secrets", "delete", "s", "--recovery-window-days", "3"},
		"move nowhere":           {"secrets", "move-stage", "s", "CURRENT"},
		"no role":                {"principals", "create", "ci"},
		"bad type":               {"principals", "create", "ci", "--role", "reader", "--type", "robot"},
		"no document":            {"policies", "create", "p"},
		"key file without file":  {"audit", "verify", "--public-key-file", "k"},
		"bad output":             {"keys", "list", "-o", "yaml"},
		"token on argv":          {"keys", "list", "--token", "kwa_onargvonargvonargv"},
		"bad grace":              {"keys", "rotate", "k", "--grace", "soon"},
		"negative grace":         {"keys", "rotate", "k", "--grace", "-1h"},
		"rotate without key":     {"keys", "rotate"},
		"bad rotation state":     {"keys", "rotations", "k", "--state", "DONE"},
		"grace without every":    {"keys", "create", "--name", "a", "--rotation-grace", "1d"},
		"zero rotate-every":      {"keys", "create", "--name", "a", "--rotate-every", "0d"},
		"zero every on update":   {"keys", "update", "k", "--rotate-every", "0s"},
		"zero every on plan":     {"plans", "update", "p", "--rotate-every", "0"},
		"signed after days":      {"keys", "create", "--name", "a", "--rotate-every", "1d-12h"},
		"no-rotation and set":    {"keys", "update", "k", "--no-rotation", "--rotate-every", "30d"},
		"plan grace only":        {"plans", "create", "p", "--rotation-grace", "1d"},
		"clear rotation and set": {"plans", "update", "p", "--clear-rotation", "--rotation-grace", "1d"},
		"bad every":              {"secrets", "rotate", "s", "--every", "monthly"},
		"token without start":    {"secrets", "rotate", "s", "--no-rotate-now", "--client-token", "ct"},
		"webhook without url":    {"webhooks", "create"},
		"webhook bad url":        {"webhooks", "create", "--url", "ftp://x/y"},
		"webhook bad kind":       {"webhooks", "create", "--url", "https://x", "--kind", "lambda"},
		"webhook bad event":      {"webhooks", "create", "--url", "https://x", "--event", "key.created"},
		"rotator with events":    {"webhooks", "create", "--url", "https://x", "--kind", "rotator", "--event", "key.rotated"},
		"bad delivery state":     {"webhooks", "deliveries", "w", "--state", "SENT"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			r := runCLI(t, &fakeClient{}, adminEnv, "", args...)
			if r.code != ExitUsage {
				t.Errorf("exit %d, want %d; stderr %q", r.code, ExitUsage, r.stderr)
			}
			if !strings.HasPrefix(r.stderr, "keyward: usage: ") {
				t.Errorf("stderr = %q", r.stderr)
			}
			if r.factoryCalled {
				t.Error("a usage error must be found before any call")
			}
			if strings.Contains(r.stderr, "onargv") {
				t.Error("the token given on argv was echoed")
			}
		})
	}
}

func TestExitCodes(t *testing.T) {
	cases := []struct {
		err  error
		code int
		line string
	}{
		{keyward.Errorf(keyward.ENOTFOUND, "key %q not found", "k"), ExitNotFound, `keyward: not_found: key "k" not found`},
		{keyward.Errorf(keyward.EUNAUTHORIZED, "bad token"), ExitUnauthorized, "keyward: unauthorized: bad token"},
		{keyward.Errorf(keyward.EFORBIDDEN, "denied"), ExitUnauthorized, "keyward: forbidden: denied"},
		{keyward.Errorf(keyward.ECONFLICT, "exists"), ExitConflict, "keyward: conflict: exists"},
		{keyward.Errorf(keyward.EINVALID, "bad name"), ExitUsage, "keyward: invalid: bad name"},
		{keyward.Errorf(keyward.EPRECONDITION, "not recoverable"), ExitError, "keyward: precondition: not recoverable"},
		{keyward.Errorf(keyward.ETHROTTLED, "slow down"), ExitError, "keyward: throttled: slow down"},
		{keyward.Errorf(keyward.EINTERNAL, "internal error"), ExitError, "keyward: internal: internal error"},
		{fmt.Errorf("wrapped: %w", keyward.Errorf(keyward.ENOTFOUND, "gone")), ExitNotFound, "keyward: not_found: gone"},
		// Unknown errors from a call may carry a response body: never shown.
		{errors.New("decode: body was {\"value\":\"kw_xyz\"}"), ExitError, "keyward: internal: internal error"},
		{&url.Error{Op: "Get", URL: "http://127.0.0.1:1/v1/keys", Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}},
			ExitError, `keyward: unavailable: Get "http://127.0.0.1:1/v1/keys": dial tcp: connection refused`},
	}
	for _, c := range cases {
		r := runCLI(t, &fakeClient{err: c.err}, adminEnv, "", "keys", "get", "key_1")
		if r.code != c.code || strings.TrimSpace(r.stderr) != c.line {
			t.Errorf("%v: exit %d, stderr %q; want %d, %q", c.err, r.code, r.stderr, c.code, c.line)
		}
	}
}

func TestNoTokenInErrors(t *testing.T) {
	tok := adminEnv[EnvToken]
	// A server error that (wrongly) echoes the token is redacted.
	r := runCLI(t, &fakeClient{err: keyward.Errorf(keyward.EUNAUTHORIZED, "bad token %s", tok)}, adminEnv, "", "keys", "get", "key_1")
	if r.code != ExitUnauthorized || strings.Contains(r.stderr, tok) || !strings.Contains(r.stderr, "[redacted]") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	// So is a secret value read from stdin.
	r = runCLI(t, &fakeClient{err: keyward.Errorf(keyward.EINVALID, "bad value hunter22secret")}, adminEnv, "hunter22secret", "secrets", "put", "s")
	if strings.Contains(r.stderr, "hunter22secret") {
		t.Errorf("stderr = %q", r.stderr)
	}
	// And the token read from a file.
	p := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(p, []byte("kwa_fromfilefromfile\n"), 0o600)
	r = runCLI(t, &fakeClient{err: keyward.Errorf(keyward.EFORBIDDEN, "kwa_fromfilefromfile denied")}, nil, "", "--token-file", p, "keys", "get", "key_1")
	if r.token != "kwa_fromfilefromfile" || strings.Contains(r.stderr, "kwa_fromfile") {
		t.Errorf("token %q, stderr %q", r.token, r.stderr)
	}
}

func TestSettings(t *testing.T) {
	t.Run("no token", func(t *testing.T) {
		r := runCLI(t, &fakeClient{}, nil, "", "keys", "get", "key_1")
		if r.code != ExitUnauthorized || r.factoryCalled || !strings.Contains(r.stderr, EnvToken+" ") ||
			!strings.Contains(r.stderr, EnvTokenFile) || !strings.Contains(r.stderr, "--token-file") {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
	t.Run("env", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "tok")
		os.WriteFile(p, []byte("kwa_envfileenvfile"), 0o600)
		env := map[string]string{EnvAddr: "https://kw.example:8443/", EnvTokenFile: p, EnvOutput: "json"}
		r := runCLI(t, &fakeClient{}, env, "", "keys", "get", "key_1")
		if r.addr != "https://kw.example:8443" || r.token != "kwa_envfileenvfile" || !strings.HasPrefix(r.stdout, "{") {
			t.Errorf("addr %q, token %q, stdout %q", r.addr, r.token, r.stdout)
		}
	})
	t.Run("flags beat env", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "tok")
		os.WriteFile(p, []byte("kwa_flagfileflagfile"), 0o600)
		env := map[string]string{EnvAddr: "http://env:1", EnvToken: "kwa_envenvenvenv", EnvOutput: "json", EnvAllowPlaintext: "true"}
		r := runCLI(t, &fakeClient{}, env, "", "--addr", "http://flag:2", "--token-file", p, "-o", "table", "keys", "get", "key_1")
		if r.addr != "http://flag:2" || r.token != "kwa_flagfileflagfile" || strings.HasPrefix(r.stdout, "{") {
			t.Errorf("addr %q, token %q, stdout %q", r.addr, r.token, r.stdout)
		}
	})
	t.Run("bad addr", func(t *testing.T) {
		r := runCLI(t, &fakeClient{}, adminEnv, "", "--addr", "localhost:7070", "keys", "get", "key_1")
		if r.code != ExitUsage || r.factoryCalled {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
	t.Run("missing token file", func(t *testing.T) {
		r := runCLI(t, &fakeClient{}, nil, "", "--token-file", filepath.Join(t.TempDir(), "none"), "keys", "get", "key_1")
		if r.code != ExitError || !strings.HasPrefix(r.stderr, "keyward: error: read token file") {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
	t.Run("help", func(t *testing.T) {
		r := runCLI(t, &fakeClient{}, nil, "", "keys")
		if r.code != 0 || !strings.Contains(r.stdout, "create") {
			t.Errorf("exit %d, stdout %q", r.code, r.stdout)
		}
	})
}

func TestTableCellsAreSanitized(t *testing.T) {
	fake := &fakeClient{key: &keyward.APIKey{ID: "k", Name: "evil\x1b[2J\nname"}}
	r := runCLI(t, fake, adminEnv, "", "keys", "get", "key_1")
	if strings.ContainsAny(r.stdout, "\x1b") || strings.Contains(r.stdout, "evil\n") {
		t.Errorf("stdout = %q", r.stdout)
	}
}

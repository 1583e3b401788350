package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/keyward/keyward/cli"
	"github.com/keyward/keyward/server"
)

// badSettings holds, for every server setting, a value given in its
// environment variable and one given as its flag that must each stop the
// server. "" means the setting has no such value: an empty variable counts
// as unset, so a data directory cannot be made empty from the environment.
var badSettings = map[string]struct{ env, flag string }{
	"DataDir":     {"", ""},
	"AdminAddr":   {"localhost", "127.0.0.1"},
	"GatewayAddr": {"127.0.0.1:99999", ":http"},
	"KeyringURL":  {"base64key://c2VjcmV0LWtleS1tYXRlcmlhbA==", "nosuchscheme://host/key"},
	// No database there (port 1); a password on the command line.
	"DatabaseURL":     {"postgres://keyward:c2VjcmV0@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", "postgres://keyward:c2VjcmV0@127.0.0.1:5432/test"},
	"DatabaseURLFile": {"{dir}/no-such-file", "{dir}"},
	// Plain redis:// to another machine; a password on the command line.
	"RedisURL":              {"redis://:c2VjcmV0@10.0.0.1:6379/0", "redis://:c2VjcmV0@127.0.0.1:6379/0"},
	"RedisURLFile":          {"{dir}/no-such-file", "{dir}"},
	"RedisCAFile":           {"{dir}/ca.pem", "{dir}/ca.pem"}, // without a Redis URL
	"LimitsUnavailable":     {"maybe", "OPEN"},
	"AuditFile":             {"{dir}/no-such-dir/audit.jsonl", "{dir}/no-such-dir/audit.jsonl"},
	"AuditStdout":           {"yes", "maybe"},
	"CheckpointInterval":    {"1 minute", "1ns"},
	"TrustedProxies":        {"10.0.0.0/8,nope", "10.0.0.1/33"},
	"GatewayKeyLabels":      {"on", "2"},
	"GatewayGoroutines":     {"yes please", "2"},
	"GatewayMaxBody":        {"12x", "9223372036854775807"},
	"CheckpointEvery":       {"0", "1e3"},
	"AuditRebaseReason":     {"two\nlines", ""},
	"GatewayTimeout":        {"-5m", "0"},
	"RotationCheckInterval": {"0s", "30"},
	"LogFormat":             {"xml", "JSON"},
	"LogLevel":              {"loud", "verbose"},
	// A certificate without its key and the reverse; a pair whose files
	// do not exist is refused at start (TestTLSSettings).
	"TLS.Cert":             {"{dir}/cert.pem", "{dir}/cert.pem"},
	"TLS.Key":              {"{dir}/key.pem", "{dir}/key.pem"},
	"TLS.AdminCert":        {"{dir}/cert.pem", "{dir}/cert.pem"},
	"TLS.AdminKey":         {"{dir}/key.pem", "{dir}/key.pem"},
	"TLS.GatewayCert":      {"{dir}/cert.pem", "{dir}/cert.pem"},
	"TLS.GatewayKey":       {"{dir}/key.pem", "{dir}/key.pem"},
	"TLS.ClientCA":         {"{dir}/ca.pem", "{dir}/ca.pem"},     // without TLS on the admin listener
	"TLS.ClientPrincipals": {"cn:ci=deployer", "cn:ci=deployer"}, // without a client CA
	"TLS.AllowPlaintext":   {"yes", "maybe"},
	"TLS.CAFile":           {"{dir}/no-such-ca.pem", "{dir}/no-such-ca.pem"},
	"TLS.ReloadInterval":   {"1ns", "2h"},
	"Retention":            {"30m", "4000d"},
}

// TestBadSettingStopsTheServer gives each server setting a bad value, once
// in its environment variable and once as its flag, and runs the real
// `keyward server`: it must fail without serving, with an error that names
// the variable or the flag as given (and never echoes a keyring URL).
func TestBadSettingStopsTheServer(t *testing.T) {
	for _, s := range serverSettings {
		if _, ok := badSettings[s.field]; !ok {
			t.Errorf("setting %s has no bad values in this test", s.field)
		}
	}
	for _, s := range serverSettings {
		bad := badSettings[s.field]
		for _, via := range []string{"env", "flag"} {
			value := bad.env
			if via == "flag" {
				value = bad.flag
			}
			if value == "" && (via == "env" || s.field != "DataDir") {
				continue // no such bad value: see badSettings
			}
			t.Run(s.field+"/"+via, func(t *testing.T) {
				dir := t.TempDir()
				value := strings.ReplaceAll(value, "{dir}", dir)
				// Safe values for the rest; the flag under test is left out
				// when its variable is, since a flag wins over its variable.
				flags := map[string]string{"data-dir": filepath.Join(dir, "data"),
					"admin-addr": "127.0.0.1:0", "gateway-addr": "127.0.0.1:0", "log-level": "error"}
				want := s.env
				if via == "env" {
					t.Setenv(s.env, value)
					delete(flags, s.flag)
				} else {
					flags[s.flag] = value
					want = "--" + s.flag
				}
				args := []string{"server"}
				for name, v := range flags {
					args = append(args, "--"+name+"="+v)
				}
				code, stdout, stderr := runServerBriefly(t, args)
				if code == cli.ExitOK {
					t.Fatalf("exit 0; stderr: %s", stderr)
				}
				if strings.Contains(stdout, "keyward admin API") {
					t.Fatalf("the server started: %s", stdout)
				}
				if !strings.Contains(stderr, want) {
					t.Errorf("the error does not name %s: %s", want, stderr)
				}
				if s.secret && (strings.Contains(stderr, value) || strings.Contains(stderr, "c2VjcmV0")) {
					t.Errorf("the error echoes the keyring URL: %s", stderr)
				}
			})
		}
	}
}

// runServerBriefly runs the keyward command in process and returns its exit
// code and output. A server that starts serving never returns: that fails
// the test after a generous wait.
func runServerBriefly(t *testing.T, args []string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(args, strings.NewReader(""), &stdout, &stderr, serverCommand(nil), quickstartCommand())
	}()
	select {
	case code := <-done:
		return code, stdout.String(), stderr.String()
	case <-time.After(30 * time.Second):
		t.Fatal("keyward server did not stop: it accepted the setting")
		return 0, "", ""
	}
}

// TestServerSettingSources: a flag wins over its variable, a variable over
// the default, and an empty variable counts as unset.
func TestServerSettingSources(t *testing.T) {
	env := map[string]string{
		"KEYWARD_GATEWAY_TIMEOUT":  "2m",
		"KEYWARD_GATEWAY_MAX_BODY": "1024",
		"KEYWARD_LOG_LEVEL":        "",
		"KEYWARD_AUDIT_STDOUT":     "true",
	}
	fs := pflag.NewFlagSet("server", pflag.ContinueOnError)
	addServerFlags(fs)
	if err := fs.Parse([]string{"--gateway-timeout", "90s", "--gateway-key-labels"}); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := loadServerConfig(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	d := server.Config{}.Defaults()
	if cfg.GatewayTimeout != 90*time.Second || cfg.GatewayMaxBody != 1024 || cfg.LogLevel != d.LogLevel ||
		!cfg.AuditStdout || !cfg.GatewayKeyLabels || cfg.DataDir != d.DataDir {
		t.Fatalf("loaded %+v", cfg)
	}
}

// TestServerHelpListsOnlyServerFlags: `keyward server --help` and
// `keyward quickstart --help` list their own flags, not the CLI's global
// ones (--addr, --token-file, -o), and giving a global one is an error.
func TestServerHelpListsOnlyServerFlags(t *testing.T) {
	var global []string
	cli.NewRoot().PersistentFlags().VisitAll(func(f *pflag.Flag) { global = append(global, "--"+f.Name) })
	if len(global) == 0 {
		t.Fatal("the root command has no global flags to leave out")
	}
	for _, name := range []string{"server", "quickstart"} {
		var stdout, stderr bytes.Buffer
		if code := cli.Main([]string{name, "--help"}, strings.NewReader(""), &stdout, &stderr, serverCommand(nil), quickstartCommand()); code != cli.ExitOK {
			t.Fatalf("%s --help: exit %d: %s", name, code, stderr.String())
		}
		help := stdout.String()
		for _, g := range append(global, "Global Flags", "-o,") {
			if name == "server" && isServerFlag(g) {
				continue // the server's own setting of that name (--ca-file: what it trusts when it dials out)
			}
			if strings.Contains(help, g+" ") || strings.Contains(help, g+"\n") {
				t.Errorf("%s --help lists %s:\n%s", name, g, help)
			}
		}
		if !strings.Contains(help, "--admin-addr") || !strings.Contains(help, "--data-dir") {
			t.Errorf("%s --help lacks its own flags:\n%s", name, help)
		}
		stdout.Reset()
		stderr.Reset()
		if code := cli.Main([]string{name, "--addr", "http://127.0.0.1:1"}, strings.NewReader(""), &stdout, &stderr, serverCommand(nil), quickstartCommand()); code == cli.ExitOK ||
			!strings.Contains(stderr.String(), "--addr: not a flag of keyward "+name) {
			t.Errorf("%s --addr: exit %d, %s", name, code, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	cli.Main([]string{"server", "--help"}, strings.NewReader(""), &stdout, &stderr, serverCommand(nil), quickstartCommand())
	for _, s := range serverSettings {
		if !strings.Contains(stdout.String(), "--"+s.flag+" ") || !strings.Contains(stdout.String(), s.env) {
			t.Errorf("server --help lacks --%s (%s)", s.flag, s.env)
		}
	}
}

// TestServerDurationsReadLikeEveryOther: a server duration setting takes
// the same syntax as every other duration in keyward (days included).
func TestServerDurationsReadLikeEveryOther(t *testing.T) {
	for in, want := range map[string]time.Duration{"30s": 30 * time.Second, "1d": 24 * time.Hour, "1d12h": 36 * time.Hour} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"-1s", "1 day", "106751991167d", ""} {
		if _, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) accepted", in)
		}
	}
}

func isServerFlag(flag string) bool {
	for _, s := range serverSettings {
		if "--"+s.flag == flag {
			return true
		}
	}
	return false
}

package server_test

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/server"
)

// TestOpenRefusesBadSettings: a library user gets the check the command
// line gets. Open refuses a setting out of range with a *SettingError
// naming the Config field, before it touches the disk or a port; zero
// values still mean "the default".
func TestOpenRefusesBadSettings(t *testing.T) {
	cases := []struct {
		field string
		mod   func(c *server.Config)
	}{
		{"AdminAddr", func(c *server.Config) { c.AdminAddr = "localhost" }},
		{"AdminAddr", func(c *server.Config) { c.AdminAddr = "127.0.0.1:http" }},
		{"GatewayAddr", func(c *server.Config) { c.GatewayAddr = "127.0.0.1:70000" }},
		{"KeyringURL", func(c *server.Config) { c.KeyringURL = "no-scheme" }},
		{"CheckpointInterval", func(c *server.Config) { c.CheckpointInterval = -time.Second }},
		{"GatewayMaxBody", func(c *server.Config) { c.GatewayMaxBody = -1 }},
		{"GatewayMaxBody", func(c *server.Config) { c.GatewayMaxBody = server.MaxGatewayBody + 1 }},
		{"GatewayMaxBody", func(c *server.Config) { c.GatewayMaxBody = 1<<63 - 1 }},
		{"CheckpointInterval", func(c *server.Config) { c.CheckpointInterval = time.Nanosecond }},
		{"RotationCheckInterval", func(c *server.Config) { c.RotationCheckInterval = time.Microsecond }},
		{"GatewayTimeout", func(c *server.Config) { c.GatewayTimeout = time.Nanosecond }},
		{"GatewayTimeout", func(c *server.Config) { c.GatewayTimeout = 1<<63 - 1 }},
		{"GatewayTimeout", func(c *server.Config) { c.GatewayTimeout = -time.Minute }},
		{"RotationCheckInterval", func(c *server.Config) { c.RotationCheckInterval = -1 }},
		{"TrustedProxies", func(c *server.Config) { c.TrustedProxies = []netip.Prefix{{}} }},
		{"LogFormat", func(c *server.Config) { c.LogFormat = "xml" }},
		{"LogLevel", func(c *server.Config) { c.LogLevel = "loud" }},
	}
	for _, tc := range cases {
		t.Run(tc.field, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			cfg := server.Config{DataDir: dir, AdminAddr: "127.0.0.1:0", GatewayAddr: "127.0.0.1:0"}
			tc.mod(&cfg)
			srv, err := server.Open(context.Background(), cfg, io.Discard)
			if err == nil {
				srv.Close()
				t.Fatal("Open accepted the setting")
			}
			var se *server.SettingError
			if !errors.As(err, &se) || se.Field != tc.field {
				t.Fatalf("Open: %v, want a SettingError for %s", err, tc.field)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the data directory was created (%v): Open went ahead", err)
			}
		})
	}
}

// TestValidateRefusesExplicitZero: on a config with every setting given, as
// the command line builds it, a zero interval or size is refused like a
// negative one, while Defaults turns the zero value into the default.
func TestValidateRefusesExplicitZero(t *testing.T) {
	full := server.Config{}.Defaults()
	if err := full.Validate(); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
	zero := full
	zero.GatewayTimeout = 0
	var se *server.SettingError
	if err := zero.Validate(); !errors.As(err, &se) || se.Field != "GatewayTimeout" {
		t.Fatalf("Validate with GatewayTimeout 0: %v", err)
	}
	if got := zero.Defaults().GatewayTimeout; got != full.GatewayTimeout {
		t.Fatalf("Defaults left GatewayTimeout %v", got)
	}
	neg := server.Config{GatewayMaxBody: -5}.Defaults()
	if neg.GatewayMaxBody != -5 {
		t.Fatalf("Defaults replaced a negative GatewayMaxBody with %d: Validate must see it", neg.GatewayMaxBody)
	}
}

// TestOpenNamesABadKeyringOrAuditFile: settings only Open can judge (the
// keyring's scheme, whether the audit file can be opened) are refused as
// SettingErrors too.
func TestOpenNamesABadKeyringOrAuditFile(t *testing.T) {
	for field, mod := range map[string]func(c *server.Config, dir string){
		"KeyringURL": func(c *server.Config, _ string) { c.KeyringURL = "nosuchscheme://host/key" },
		"AuditFile":  func(c *server.Config, dir string) { c.AuditFile = filepath.Join(dir, "no-such-dir", "audit.jsonl") },
	} {
		t.Run(field, func(t *testing.T) {
			dir := t.TempDir()
			cfg := server.Config{DataDir: filepath.Join(dir, "data"), AdminAddr: "127.0.0.1:0", GatewayAddr: "127.0.0.1:0"}
			mod(&cfg, dir)
			srv, err := server.Open(context.Background(), cfg, io.Discard)
			if err == nil {
				srv.Close()
				t.Fatal("Open accepted the setting")
			}
			var se *server.SettingError
			if !errors.As(err, &se) || se.Field != field {
				t.Fatalf("Open: %v, want a SettingError for %s", err, field)
			}
		})
	}
}

// TestOpenRefusesAKeyringThatCannotServe: a keyring URL that opens but
// cannot wrap (a KMS nobody answers at, on loopback) stops the server at
// start, naming the setting, instead of failing the first secret write.
func TestOpenRefusesAKeyringThatCannotServe(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "example-secret-not-used-anywhere-0000000")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	dir := t.TempDir()
	cfg := server.Config{DataDir: filepath.Join(dir, "data"), AdminAddr: "127.0.0.1:0", GatewayAddr: "127.0.0.1:0",
		KeyringURL: "awskms://alias/keyward?region=us-east-1&endpoint=http://127.0.0.1:9"}
	srv, err := server.Open(context.Background(), cfg, io.Discard)
	if err == nil {
		srv.Close()
		t.Fatal("Open accepted a keyring that cannot wrap")
	}
	var se *server.SettingError
	if !errors.As(err, &se) || se.Field != "KeyringURL" || !strings.Contains(se.Reason, "does not wrap and unwrap") {
		t.Fatalf("Open: %v, want the keyring probe's SettingError for KeyringURL", err)
	}
	if strings.Contains(err.Error(), "127.0.0.1:9") || strings.Contains(err.Error(), "alias/keyward") {
		t.Fatalf("the error quotes the keyring URL: %v", err)
	}
}

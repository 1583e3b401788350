package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/keyward/keyward/cli"
)

// migrate-store refuses what it cannot do safely, saying why, and never
// repeats a password it was given.
func TestMigrateStoreRefuses(t *testing.T) {
	t.Setenv("KEYWARD_DATABASE_URL", "")
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate-store", "--database-url", "postgres://127.0.0.1/x"}, "--from-data-dir is required"},
		{[]string{"migrate-store", "--from-data-dir", dir}, "--database-url (or KEYWARD_DATABASE_URL) is required"},
		{[]string{"migrate-store", "--from-data-dir", dir, "--database-url", "postgres://u:pw-xyz-secret@127.0.0.1/x"}, "carries a password"},
		{[]string{"migrate-store", "--from-data-dir", dir, "--database-url", "postgres://u@127.0.0.1:1/x"}, "no keyward database in"},
	} {
		var stdout, stderr bytes.Buffer
		code := cli.Main(c.args, strings.NewReader(""), &stdout, &stderr, migrateStoreCommand())
		if code == cli.ExitOK || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %q", c.args, code, stderr.String(), c.want)
		}
		if strings.Contains(stderr.String()+stdout.String(), "pw-xyz-secret") {
			t.Errorf("%v: the password is repeated: %s", c.args, stderr.String())
		}
	}
}

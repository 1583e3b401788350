package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward"
)

// On a terminal the value is followed by a newline, unless it ends with
// one; piped, it stays byte for byte.
func TestSecretsGetOnTerminal(t *testing.T) {
	for _, tc := range []struct {
		value    string
		terminal bool
		want     string
	}{
		{"s3cret-value", true, "s3cret-value\n"},
		{"s3cret-value", false, "s3cret-value"},
		{"line\n", true, "line\n"},
		{"line\n", false, "line\n"},
	} {
		val := &keyward.SecretValue{Name: "db", VersionID: "v1", Value: []byte(tc.value)}
		r := runCLIOn(t, tc.terminal, &fakeClient{secValue: val}, adminEnv, "", "secrets", "get", "db")
		if r.stdout != tc.want {
			t.Errorf("%q on terminal %v: stdout %q, want %q", tc.value, tc.terminal, r.stdout, tc.want)
		}
		if string(val.Value) != tc.value {
			t.Errorf("the value was changed in place: %q", val.Value)
		}
		// JSON is for scripts: never a newline more than the encoder's.
		r = runCLIOn(t, tc.terminal, &fakeClient{secValue: val}, adminEnv, "", "secrets", "get", "db", "-o", "json")
		if m := jsonObject(t, r.stdout); m["secretString"] != tc.value {
			t.Errorf("json secretString = %q", m["secretString"])
		}
	}
}

func TestIsTerminal(t *testing.T) {
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	regular, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer regular.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	for _, tc := range []struct {
		what string
		s    any
		want bool
	}{
		{"a character device", devNull, true},
		{"a regular file", regular, false},
		{"a pipe", pw, false},
		{"a buffer", &strings.Builder{}, false},
	} {
		if got := isTerminal(tc.s); got != tc.want {
			t.Errorf("isTerminal(%s) = %v", tc.what, got)
		}
	}
}

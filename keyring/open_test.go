package keyring

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"gocloud.dev/secrets/localsecrets"
)

func TestOpenFileURL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	created := openFile(t, path, true)
	k, err := Open(context.Background(), "file://"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if k.ID() != created.ID() {
		t.Fatalf("file URL opened a different key: %s vs %s", k.ID(), created.ID())
	}
}

func TestOpenBadURLs(t *testing.T) {
	for _, u := range []string{
		"",
		"file://relative/master.key",
		"file:relative",
		"file:///tmp/master.key?create=1",
		"file://user:pw@/tmp/master.key",
		"base64key://",
		"nosuch://host/key",
		"://nope",
		"awskms:alias/opaque",
	} {
		k, err := Open(context.Background(), u)
		if !errors.Is(err, ErrBadURL) {
			t.Errorf("Open(%q) = %v, %v; want ErrBadURL", u, k, err)
		}
	}
}

func base64KeyURL(t *testing.T) string {
	t.Helper()
	key, err := localsecrets.NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	return "base64key://" + base64.URLEncoding.EncodeToString(key[:])
}

func TestOpenBase64KeyRoundTrip(t *testing.T) {
	ctx := context.Background()
	u := base64KeyURL(t)
	k1, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer k1.Close()
	k2, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer k2.Close()

	secret := strings.TrimPrefix(u, "base64key://")
	if !strings.HasPrefix(k1.ID(), "base64key:") || strings.Contains(k1.ID(), secret[:8]) || k1.ID() != k2.ID() {
		t.Fatalf("ID %q / %q: want equal base64key:<fingerprint> without key material", k1.ID(), k2.ID())
	}

	dek := seq(9, 32)
	wrapped, err := k1.Wrap(ctx, dek)
	if err != nil {
		t.Fatal(err)
	}
	got, err := k2.Unwrap(ctx, wrapped)
	if err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("Unwrap = %x, %v", got, err)
	}
	for _, i := range []int{0, len(wrapped) / 2, len(wrapped) - 1} {
		b := bytes.Clone(wrapped)
		b[i] ^= 0x80
		if _, err := k2.Unwrap(ctx, b); !errors.Is(err, ErrUnwrap) {
			t.Fatalf("tampered byte %d: got %v, want ErrUnwrap", i, err)
		}
	}
	other, err := Open(ctx, base64KeyURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Unwrap(ctx, wrapped); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("other key: got %v, want ErrUnwrap", err)
	}
}

func TestURLIDDropsSecrets(t *testing.T) {
	tests := []struct{ in, want string }{
		{"awskms://alias/keyward?region=us-east-1", "awskms://alias/keyward"},
		{"awskms:///arn:aws:kms:us-east-1:111122223333:key/abcd?region=us-east-1", "awskms:///arn:aws:kms:us-east-1:111122223333:key/abcd"},
		{"hashivault://admin:hunter2@mykey?engine=transit&token=s.QQQ#frag", "hashivault://mykey"},
		{"GCPKMS://projects/p/locations/global/keyRings/r/cryptoKeys/k", "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k"},
		{"azurekeyvault://vault.vault.azure.net/keys/k?client_secret=zzz", "azurekeyvault://vault.vault.azure.net/keys/k"},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := urlID(u); got != tt.want {
			t.Errorf("urlID(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestOpenErrorsHideSecrets drives gocloud into errors that print the URL
// (hashivault rejects unknown query parameters and quotes the whole URL) and
// checks that userinfo, query values and base64 keys are scrubbed.
func TestOpenErrorsHideSecrets(t *testing.T) {
	t.Setenv("VAULT_SERVER_URL", "http://127.0.0.1:1") // loopback; never dialled
	t.Setenv("VAULT_SERVER_TOKEN", "")
	const pw, tok = "hunter2pw", "tok-QQQ-secret"
	tests := []struct {
		url     string
		secrets []string
	}{
		{"hashivault://admin:" + pw + "@mykey?token=" + tok, []string{pw, tok, "admin:", "token=" + tok}},
		{"nosuch://admin:" + pw + "@host/key?token=" + tok, []string{pw, tok}},
		{"base64key://not-a-valid-key-" + tok, []string{tok}},
		{"base64key://" + strings.Repeat("A", 44) + "?token=" + tok, []string{tok, strings.Repeat("A", 20)}},
		{"file:///tmp/x?token=" + tok, []string{tok}},
		{"awskms://admin:" + pw + "@%zz?token=" + tok, []string{pw, tok}},
	}
	for _, tt := range tests {
		k, err := Open(context.Background(), tt.url)
		if err == nil {
			k.Close()
			t.Errorf("Open(%q) succeeded", tt.url)
			continue
		}
		for _, s := range tt.secrets {
			if strings.Contains(err.Error(), s) {
				t.Errorf("Open error shows %q: %v", s, err)
			}
		}
	}
}

func TestOpenAWSKMSIDOffline(t *testing.T) {
	// Opening only builds a client; nothing is dialled until Wrap.
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	k, err := Open(context.Background(), "awskms://AKIAEXAMPLE:sekrit@alias/keyward?region=us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if k.ID() != "awskms://alias/keyward" {
		t.Fatalf("ID = %q", k.ID())
	}
}

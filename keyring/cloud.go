package keyring

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"gocloud.dev/secrets"
	"gocloud.dev/secrets/localsecrets"
)

// cloudKeyring adapts a gocloud.dev secrets.Keeper, which does the actual
// wrapping inside a KMS or Vault.
type cloudKeyring struct {
	id     string
	keeper *secrets.Keeper
}

var _ Keyring = (*cloudKeyring)(nil)

// openKeeper opens u through gocloud's default mux. gocloud's own errors
// print the URL verbatim, password and query included, so they are
// scrubbed before they are returned.
func openKeeper(ctx context.Context, u *url.URL, rawURL string) (Keyring, error) {
	mux := secrets.DefaultURLMux()
	scheme := strings.ToLower(u.Scheme)
	if !mux.ValidKeeperScheme(scheme) {
		return nil, fmt.Errorf("%w: unsupported scheme %q; want file or one of %s", ErrBadURL, scheme, strings.Join(mux.KeeperSchemes(), ", "))
	}
	id := urlID(u)
	k, err := mux.OpenKeeperURL(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %s", ErrBadURL, id, scrub(err.Error(), u, rawURL))
	}
	return &cloudKeyring{id: id, keeper: k}, nil
}

// urlID is the keyring ID of a gocloud URL: scheme, host and path, without
// userinfo, query or fragment. base64key:// URLs carry the key in the host,
// so their ID is a fingerprint of the decoded key instead.
func urlID(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	if scheme == "base64key" {
		key, err := localsecrets.Base64Key(u.Host)
		if err != nil {
			return "base64key:invalid"
		}
		defer clear(key[:])
		return "base64key:" + fingerprint(key[:])
	}
	return (&url.URL{Scheme: scheme, Host: u.Host, Path: u.Path}).String()
}

// scrub removes from msg every part of u that may be secret: the raw and
// re-encoded URL, userinfo, query string and query values, and for
// base64key the host. Longer strings go first so a shorter secret inside a
// longer one cannot leave a fragment of it behind.
func scrub(msg string, u *url.URL, rawURL string) string {
	secretParts := []string{rawURL, u.String(), u.Redacted(), u.RawQuery, u.Fragment}
	if u.User != nil {
		secretParts = append(secretParts, u.User.String(), u.User.Username())
		if p, ok := u.User.Password(); ok {
			secretParts = append(secretParts, p, url.QueryEscape(p))
		}
	}
	// Individual query values are scrubbed too, except very short ones
	// ("1", "true") that cannot be secrets and would shred the message.
	for _, vs := range u.Query() {
		for _, v := range vs {
			if len(v) >= 4 {
				secretParts = append(secretParts, v)
			}
		}
	}
	if strings.EqualFold(u.Scheme, "base64key") {
		secretParts = append(secretParts, u.Host)
	}
	sort.Slice(secretParts, func(i, j int) bool { return len(secretParts[i]) > len(secretParts[j]) })
	for _, s := range secretParts {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return msg
}

func (k *cloudKeyring) ID() string { return k.id }

func (k *cloudKeyring) Wrap(ctx context.Context, dek []byte) ([]byte, error) {
	w, err := k.keeper.Encrypt(ctx, dek)
	if err != nil {
		return nil, fmt.Errorf("keyring: wrap with %s: %w", k.id, err)
	}
	return w, nil
}

func (k *cloudKeyring) Unwrap(ctx context.Context, wrapped []byte) ([]byte, error) {
	dek, err := k.keeper.Decrypt(ctx, wrapped)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnwrap, k.id, err)
	}
	return dek, nil
}

func (k *cloudKeyring) Close() error { return k.keeper.Close() }

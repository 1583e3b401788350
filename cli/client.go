package cli

// This file is the only one that knows the HTTP client of the admin API.

import "github.com/keyward/keyward/httpapi"

// newHTTPClient is the clientFactory of the keyward command. A nil
// *http.Client gives httpapi's default: a 60 s timeout, and redirects never
// followed, so the token is never replayed to another host.
func newHTTPClient(addr, token string) (Client, error) {
	return httpapi.NewClient(addr, token, nil), nil
}

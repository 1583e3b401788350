package cli

// This file is the only one that knows the HTTP client of the admin API.

import (
	"github.com/keyward/keyward/httpapi"
	"github.com/keyward/keyward/tlsconfig"
)

// newHTTPClient is the clientFactory of the keyward command: httpapi's
// client (a 60 s timeout, redirects never followed, so the token is never
// replayed to another host) verifying the server's certificate against the
// system's roots and the CA file, if any.
func newHTTPClient(addr, token string, files tlsconfig.ClientFiles) (Client, error) {
	tc, err := tlsconfig.Client(files)
	if err != nil {
		return nil, localf("%v", err)
	}
	return httpapi.NewClient(addr, token, httpapi.NewHTTPClient(tc)), nil
}

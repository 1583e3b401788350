package cli

// This file is the only one that knows the HTTP client of the admin API.

import (
	"net/http"
	"time"

	"github.com/keyward/keyward/httpapi"
)

// requestTimeout bounds each admin API call.
const requestTimeout = 60 * time.Second

// newHTTPClient is the ClientFactory of the keyward command.
func newHTTPClient(addr, token string) (Client, error) {
	return httpapi.NewClient(addr, token, &http.Client{Timeout: requestTimeout}), nil
}

package httpapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/tlsconfig"
)

// Client implements the domain service interfaces against a keyward admin
// API, for the CLI and the Pulumi provider. Every error it returns carries a
// keyward error code (keyward.ErrorCode): the server's own code and message
// when it sent one, EUNAVAILABLE when the server cannot be reached, and
// EINTERNAL for answers it does not understand. The token is sent only in
// the Authorization header and never appears in an error.
type Client struct {
	base    string // scheme://host[/prefix], no trailing slash
	baseErr error
	token   string
	hc      *http.Client
}

var (
	_ keyward.KeyService       = (*Client)(nil)
	_ keyward.UsageService     = (*Client)(nil)
	_ keyward.APIService       = (*Client)(nil)
	_ keyward.PlanService      = (*Client)(nil)
	_ keyward.SecretService    = (*Client)(nil)
	_ keyward.PrincipalService = (*Client)(nil)
	_ keyward.PolicyService    = (*Client)(nil)
	_ keyward.AuditService     = (*Client)(nil)
	_ keyward.RotationService  = (*Client)(nil)
	_ keyward.WebhookService   = (*Client)(nil)
)

// maxResponseBytes bounds what the client reads from one answer.
const maxResponseBytes = 64 << 20

// NewClient returns a client of the admin API at baseURL (for example
// "https://keyward.internal:8443"), authenticating with an admin token. A nil
// hc means a client with a 60 s timeout that does not follow redirects. A
// bad baseURL is reported as EINVALID by every call.
func NewClient(baseURL, token string, hc *http.Client) *Client {
	c := &Client{token: token, hc: hc}
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		c.baseErr = keyward.Errorf(keyward.EINVALID, "invalid keyward server URL: want http(s)://host[:port]")
	case u.RawQuery != "" || u.Fragment != "":
		c.baseErr = keyward.Errorf(keyward.EINVALID, "invalid keyward server URL: no query or fragment allowed")
	default:
		c.base = u.String()
	}
	if c.hc == nil {
		c.hc = NewHTTPClient(nil)
	}
	return c
}

// NewHTTPClient is the HTTP client NewClient uses by default: a 60 s
// timeout, redirects never followed (a token is never replayed to another
// host), and tc for HTTPS (tlsconfig.Client; nil: the system's roots).
func NewHTTPClient(tc *tls.Config) *http.Client {
	hc := &http.Client{
		Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // never replay a token elsewhere
		},
	}
	if tc != nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = tc
		hc.Transport = t
	}
	return hc
}

// Health checks GET /healthz; it needs no token. EUNAVAILABLE when the server
// cannot be reached.
func (c *Client) Health(ctx context.Context) error {
	return c.send(ctx, http.MethodGet, "/healthz", nil, nil, nil, false)
}

// do sends an authenticated request: in (if not nil) as the JSON body, out
// (if not nil) decoded from a 2xx answer.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	return c.send(ctx, method, path, q, in, out, true)
}

func (c *Client) send(ctx context.Context, method, path string, q url.Values, in, out any, auth bool) error {
	if c.baseErr != nil {
		return c.baseErr
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return keyward.Errorf(keyward.EINVALID, "cannot encode request") // e.g. a policy document that is not JSON
		}
		body = bytes.NewReader(b)
	}
	target := c.base + path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return keyward.Errorf(keyward.EINVALID, "cannot build request for %s %s", method, path)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "keyward-client")
	if auth {
		if !validToken(c.token) {
			return keyward.Errorf(keyward.EINVALID, "the admin token contains characters no token has")
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return unreachable(ctx, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return unreachable(ctx, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return responseError(resp.StatusCode, b)
	}
	if out == nil || len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return keyward.Errorf(keyward.EINTERNAL, "malformed answer from keyward server")
	}
	return nil
}

// validToken reports whether t can travel in a header: visible ASCII only.
func validToken(t string) bool {
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] >= 0x7f {
			return false
		}
	}
	return true
}

// unreachable is the error of a request that got no (complete) answer. It is
// an EUNAVAILABLE *keyward.Error that also wraps the context's error, so
// errors.Is(err, context.Canceled) holds when the caller gave up.
func unreachable(ctx context.Context, err error) error {
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) {
		cause = ue.Err // the URL is known to the caller; the token was never in it
	}
	cause = tlsconfig.Explain(cause) // a certificate problem, said so that it can be fixed
	kerr := keyward.Errorf(keyward.EUNAVAILABLE, "cannot reach keyward server: %v", cause)
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%w (%w)", kerr, ctxErr)
	}
	return kerr
}

// responseError decodes an error answer back into the server's code and
// message. An answer without a known code (a proxy's HTML page, say) becomes
// EUNAVAILABLE for 502, 503 and 504 and EINTERNAL otherwise.
func responseError(status int, b []byte) error {
	var eb errorBody
	if json.Unmarshal(b, &eb) == nil && eb.Error.Code != "" {
		if _, known := codeStatus[eb.Error.Code]; known {
			return &keyward.Error{Code: eb.Error.Code, Message: eb.Error.Message}
		}
	}
	switch status {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return keyward.Errorf(keyward.EUNAVAILABLE, "keyward server unavailable (HTTP %d)", status)
	}
	return keyward.Errorf(keyward.EINTERNAL, "unexpected answer from keyward server (HTTP %d)", status)
}

// seg escapes one path segment. Empty, "." and ".." segments would change
// the route (or be cleaned away by the server), so they are refused.
func seg(s string) (string, error) {
	if s == "" || s == "." || s == ".." {
		return "", keyward.Errorf(keyward.EINVALID, "empty or relative identifier")
	}
	return url.PathEscape(s), nil
}

// path joins literal parts and escaped identifiers: path("/v1/keys/", id).
// Arguments alternate: literal, identifier, literal, ...
func path(parts ...string) (string, error) {
	var b strings.Builder
	for i, p := range parts {
		if i%2 == 0 {
			b.WriteString(p)
			continue
		}
		s, err := seg(p)
		if err != nil {
			return "", err
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// pageQuery adds limit and position to q.
func pageQuery(q url.Values, p keyward.Page) url.Values {
	if q == nil {
		q = url.Values{}
	}
	if p.Limit > 0 {
		q.Set("limit", fmt.Sprint(p.Limit))
	}
	if p.Position != "" {
		q.Set("position", p.Position)
	}
	return q
}

// setIf sets q[name] when v is not empty.
func setIf(q url.Values, name, v string) {
	if v != "" {
		q.Set(name, v)
	}
}

package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/keyward/keyward"
)

// maxAnswer is how much of an endpoint's answer Post reads (and discards)
// so that the connection can be reused; the status is all that counts.
const maxAnswer = 64 << 10

// Post sends one signed POST of body to endpointURL: Content-Type
// application/json, User-Agent UserAgent, Keyward-Signature for now, and
// the given headers (which cannot replace those three). It reads at most
// 64 KiB of the answer and discards it. Redirects are not followed, even
// when client would: a 3xx answer is a failure. A nil client means a plain
// http.Client; deadlines come from ctx (or the client's Timeout).
//
// It returns the answer's status (0 when there was none) and nil for a 2xx
// answer. Errors are *keyward.Error values whose message is safe to show
// the endpoint's owner and to store: it never holds the URL, a header, the
// secret or transport detail. EINVALID: a URL that is not absolute http(s),
// or an empty secret. EUNAVAILABLE: the endpoint could not be reached, the
// deadline passed, or it answered other than 2xx.
func Post(ctx context.Context, client *http.Client, endpointURL string, secret []byte, headers map[string]string, body []byte, now time.Time) (status int, err error) {
	if len(secret) == 0 {
		return 0, keyward.Errorf(keyward.EINVALID, "empty signing secret")
	}
	if !validURL(endpointURL) {
		return 0, keyward.Errorf(keyward.EINVALID, "endpoint URL must be absolute http or https")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpointURL, bytes.NewReader(body))
	if err != nil {
		return 0, keyward.Errorf(keyward.EINVALID, "invalid endpoint URL")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderSignature, Sign(secret, now, body))

	resp, err := noRedirects(client).Do(req)
	if err != nil {
		return 0, keyward.Errorf(keyward.EUNAVAILABLE, "%s", transportReason(err))
	}
	// The answer is read only so the connection can be reused; an error
	// while reading it does not change what the status said.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return resp.StatusCode, nil
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return resp.StatusCode, keyward.Errorf(keyward.EUNAVAILABLE,
			"endpoint answered HTTP %d (redirects are not followed)", resp.StatusCode)
	default:
		return resp.StatusCode, keyward.Errorf(keyward.EUNAVAILABLE, "endpoint answered HTTP %d", resp.StatusCode)
	}
}

// validURL accepts absolute http and https URLs with a host.
func validURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// noRedirects returns a copy of client (or of a plain client) that hands
// back a redirect instead of following it.
func noRedirects(client *http.Client) *http.Client {
	var c http.Client
	if client != nil {
		c = *client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// transportReason turns an error of http.Client.Do into a short reason
// safe to show: *url.Error and friends name the URL, so only the kind of
// failure is kept.
func transportReason(err error) string {
	var (
		dnsErr   *net.DNSError
		certErr  *tls.CertificateVerificationError
		unknownA x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		invalid  x509.CertificateInvalidError
		recErr   tls.RecordHeaderError
		netErr   net.Error
	)
	switch {
	case errors.Is(err, context.Canceled):
		return "request cancelled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.As(err, &dnsErr):
		return "endpoint host not found"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.As(err, &certErr), errors.As(err, &unknownA), errors.As(err, &hostErr), errors.As(err, &invalid):
		return "endpoint TLS certificate not trusted"
	case errors.As(err, &recErr):
		return "endpoint does not speak TLS"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed without an answer"
	default:
		return "request failed"
	}
}

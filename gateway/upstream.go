package gateway

import (
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// upstream is a connection pool to one upstream host. Pools outlive table
// rebuilds, so a configuration change does not drop warm connections.
type upstream struct {
	host   string
	https  bool
	client *fasthttp.HostClient
}

type upstreams struct {
	mu      sync.Mutex
	m       map[string]*upstream
	timeout time.Duration
}

func (u *upstreams) get(https bool, host string) *upstream {
	u.mu.Lock()
	defer u.mu.Unlock()
	k := host
	if https {
		k = "https://" + host
	}
	if up := u.m[k]; up != nil {
		return up
	}
	if u.m == nil {
		u.m = map[string]*upstream{}
	}
	addr := host
	if _, _, ok := splitHostPort(host); !ok {
		if https {
			addr += ":443"
		} else {
			addr += ":80"
		}
	}
	up := &upstream{host: host, https: https, client: &fasthttp.HostClient{
		Addr:                          addr,
		IsTLS:                         https,
		MaxConns:                      4096,
		MaxIdleConnDuration:           90 * time.Second,
		StreamResponseBody:            true, // server-sent events pass through as they arrive
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: false,
		RetryIfErr: func(req *fasthttp.Request, attempts int, err error) (bool, bool) {
			// Retry only when a pooled connection turned out dead before
			// anything was sent; never resend a request the upstream may have
			// acted on (an LLM call costs money).
			return false, attempts < 2 && err == fasthttp.ErrConnectionClosed && req.Header.IsGet()
		},
	}}
	u.m[k] = up
	return up
}

// splitHostPort reports whether host has a port.
func splitHostPort(host string) (string, string, bool) {
	for i := len(host) - 1; i >= 0; i-- {
		switch host[i] {
		case ':':
			return host[:i], host[i+1:], true
		case ']':
			return host, "", false
		}
	}
	return host, "", false
}

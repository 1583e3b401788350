package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// upstream is a pool of HTTP/1.1 connections to one upstream host. The
// gateway speaks HTTP/1.1 to upstreams itself (fasthttp parses and writes
// the messages; this file owns the connections): it can then see how a
// response is framed before deciding to buffer or stream it, and see what
// its read buffer holds, so a stream of events is relayed in as few writes
// as the upstream's timing allows. Pools outlive table rebuilds, so a
// configuration change does not drop warm connections.
type upstream struct {
	host  string // as in the URL: Host header and TLS server name
	addr  string // host:port to dial
	https bool
	roots *x509.CertPool // verifies an HTTPS upstream; nil: the system's
	ip    netip.AddrPort // addr when it is an IP address (the event loop dials only those)

	mu   sync.Mutex
	idle []*upConn // most recently used last
}

// upConn is one connection to an upstream.
type upConn struct {
	c         net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	up        *upstream
	idleSince time.Time // when it was last taken from or put in the pool
	reused    bool
	deadline  time.Time // last deadline set on c
	unsent    []byte    // the end of a request the event loop began (loop_linux.go)
	once      bool      // the loop handed it over unread to the end: never pooled
}

// setDeadline bounds the exchange about to run. Deadlines are rounded up
// to the next second and set only when that changes: under load most
// exchanges on a connection then skip the call, for a bound at most a
// second looser.
func (uc *upConn) setDeadline(d time.Time) {
	d = d.Truncate(time.Second).Add(time.Second)
	if !d.Equal(uc.deadline) {
		uc.c.SetDeadline(d)
		uc.deadline = d
	}
}

const (
	// maxIdleTime is how long an idle connection is kept: under the
	// keep-alive timeouts of common upstream servers (uvicorn and Node 5 s),
	// so that the gateway rarely sends a request on a connection the
	// upstream is closing.
	maxIdleTime = 4 * time.Second
	// probeAfter: a connection idle longer than this is checked for a
	// close from the upstream before it is reused.
	probeAfter = 500 * time.Millisecond
	// probeWait is how long that check waits for the upstream's close
	// (already in the socket when it closed while idle): the cost of a
	// first request after a pause.
	probeWait   = time.Millisecond
	maxIdle     = 1024
	dialTimeout = 5 * time.Second
	bufSize     = 16 << 10
)

type upstreams struct {
	roots *x509.CertPool // nil: the system's
	mu    sync.Mutex
	m     map[string]*upstream
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
	if _, _, err := net.SplitHostPort(host); err != nil {
		if https {
			addr = net.JoinHostPort(trimBrackets(host), "443")
		} else {
			addr = net.JoinHostPort(trimBrackets(host), "80")
		}
	}
	up := &upstream{host: host, addr: addr, https: https, roots: u.roots}
	up.ip, _ = netip.ParseAddrPort(addr)
	u.m[k] = up
	return up
}

func trimBrackets(h string) string {
	if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
		return h[1 : len(h)-1]
	}
	return h
}

// acquire returns an idle connection that is still open, or a new one.
func (u *upstream) acquire(ctx context.Context, now time.Time) (*upConn, error) {
	for {
		u.mu.Lock()
		n := len(u.idle)
		if n == 0 {
			u.mu.Unlock()
			break
		}
		uc := u.idle[n-1]
		u.idle[n-1] = nil
		u.idle = u.idle[:n-1]
		u.mu.Unlock()
		if idle := now.Sub(uc.idleSince); idle > maxIdleTime || !uc.inStep(idle) {
			uc.c.Close()
			continue
		}
		uc.reused, uc.idleSince = true, now
		return uc, nil
	}
	return u.dial(ctx)
}

func (u *upstream) dial(ctx context.Context) (*upConn, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", u.addr)
	now := time.Now()
	if err != nil {
		return nil, err
	}
	c = rawConn(c)
	if u.https {
		tc := tls.Client(c, &tls.Config{ServerName: trimBrackets(hostOnly(u.host)), NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12, RootCAs: u.roots})
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, err
		}
		c = tc
	}
	return &upConn{c: c, br: bufio.NewReaderSize(c, bufSize), bw: bufio.NewWriterSize(c, bufSize), up: u, idleSince: now}, nil
}

func hostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return h
}

// inStep reports whether an idle connection can carry the next request:
// nothing waits to be read on it. Bytes nobody asked for (a second
// response an upstream sent behind the first, which release could not
// see when the last read ended exactly at the answer's end) would be read
// as the next request's answer; a close from the upstream would fail it.
// A plain TCP socket is asked without blocking, one system call; other
// connections (TLS, where a session ticket may arrive at any time) are
// probed only after probeAfter idle.
func (uc *upConn) inStep(idle time.Duration) bool {
	c := uc.c
	if pc, ok := c.(*prefixConn); ok {
		if len(pc.pre) > 0 {
			return false
		}
		c = pc.Conn
	}
	if uc.br.Buffered() > 0 {
		return false
	}
	if q, ok := c.(interface{ quiet() bool }); ok {
		return q.quiet()
	}
	return idle <= probeAfter || uc.alive()
}

// alive reports whether the upstream has not closed the connection while
// it sat idle: a read that times out means nothing is pending. The
// deadline is just ahead, not now: a deadline already past fails the read
// before it is made, and a closed connection looked alive.
func (uc *upConn) alive() bool {
	uc.c.SetReadDeadline(time.Now().Add(probeWait))
	_, err := uc.br.Peek(1)
	uc.c.SetReadDeadline(uc.deadline)
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// release puts a connection whose last exchange ended cleanly back in the
// pool.
func (uc *upConn) release() {
	if pc, ok := uc.c.(*prefixConn); uc.once || uc.br.Buffered() > 0 || ok && len(pc.pre) > 0 {
		// Bytes past the end of the answer (in the read buffer, or in
		// what the event loop read before handing the connection over):
		// the connection is out of step, and the next request on it
		// would read them as its own.
		uc.discard()
		return
	}
	u := uc.up
	uc.idleSince = time.Now()
	u.mu.Lock()
	if len(u.idle) >= maxIdle {
		u.mu.Unlock()
		uc.c.Close()
		return
	}
	u.idle = append(u.idle, uc)
	// Close the oldest idle connections once they are past use, so that a
	// burst does not leave hundreds of sockets the upstream has given up on.
	var stale []*upConn
	for len(u.idle) > 1 && uc.idleSince.Sub(u.idle[0].idleSince) > maxIdleTime {
		stale = append(stale, u.idle[0])
		u.idle[0] = nil
		u.idle = u.idle[1:]
	}
	u.mu.Unlock()
	for _, s := range stale {
		s.c.Close()
	}
}

// discard closes a connection that cannot be reused.
func (uc *upConn) discard() { uc.c.Close() }

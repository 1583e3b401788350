package gateway

import (
	"net"
	"sync"
)

// handoffListener is the listener fasthttp serves when the event loop
// (loop_linux.go) owns the socket: the loop hands it each connection it
// does not serve itself, with the bytes it has already read. Closing it
// (fasthttp's Shutdown) closes every connection handed over later.
type handoffListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// deliver hands c to fasthttp, or closes it once the listener is closed.
func (l *handoffListener) deliver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

// prefixConn is a connection whose first reads return bytes already read
// from it.
type prefixConn struct {
	net.Conn
	pre []byte
}

func withPrefix(c net.Conn, pre []byte) net.Conn {
	if len(pre) == 0 {
		return c
	}
	return &prefixConn{Conn: c, pre: append([]byte(nil), pre...)}
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

//go:build linux

package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"
	"golang.org/x/sys/unix"
)

// The event loop serves plain-HTTP gateway connections the way nginx
// does: one goroutine per processor waits on its own epoll set and reads,
// handles and writes every ready socket, clients' and upstreams' alike, with
// raw system calls. A request then costs the system calls it needs and no
// goroutine switch; through fasthttp's goroutine per connection it cost
// about 10 µs more, which on a core shared with the upstream was the gap
// to nginx (bench/README.md).
//
// The loop serves the common case itself and hands the rest to the
// fasthttp server, which behaves as it always did:
//   - a request it does not take (HTTP/1.0, Expect, a chunked or
//     multipart body, a header it cannot parse or longer than 16 KiB, a
//     body over the limit) hands over the whole connection with the bytes
//     read so far: fasthttp parses them again and answers as before;
//   - a response it does not relay itself (streamed: events, chunked,
//     unsized or over 1 MiB; a model list; an upstream it does not dial:
//     HTTPS or a host name) hands over the exchange: a goroutine runs the
//     rest of it through relay or forward, writes the answer and hands the
//     connection to fasthttp.
//
// What the loop does itself is the same code: begin (routing, the key,
// limits), buildRequest, relayHeader and endBuffered, on fasthttp's
// request and response types, so there is one place for each rule.

const (
	loopHeaderMax = 16 << 10               // fasthttp's ReadBufferSize: longer heads go to it
	loopTick      = 250 * time.Millisecond // timeouts are checked this often
	loopKeepBuf   = 64 << 10               // larger buffers are dropped when idle
	// upstreamAhead bounds what is read of an answer before it is known to
	// be streamed: a header and the largest body answered whole.
	upstreamAhead = loopHeaderMax + 1<<20 + 4<<10
)

// loopGroup runs one loop per processor on a shared listening socket.
type loopGroup struct {
	g         *Gateway
	ln        *net.TCPListener
	lfd       int // a duplicate of ln's socket, non-blocking
	addr      *net.TCPAddr
	loops     []*evLoop
	handoff   *handoffListener
	stopping  atomic.Bool
	handoffs  atomic.Int64   // connections handed to fasthttp, for tests
	listening atomic.Int32   // loops still using lfd; the last closes it
	elsewhere sync.WaitGroup // exchanges handed to goroutines
	idleMu    sync.Mutex
	idle      map[net.Conn]struct{} // handed over, waiting for their next request
}

// loopable reports whether Serve can run the event loop on ln: a plain
// TCP listener and an in-process limiter (a shared limiter's calls wait on
// the network, which the loop must never do).
func (g *Gateway) loopable(ln net.Listener) (*net.TCPListener, bool) {
	if g.cfg.NoEventLoop {
		return nil, false
	}
	if w, ok := g.limiter.(interface{ WaitsOnNetwork() bool }); ok && w.WaitsOnNetwork() {
		return nil, false
	}
	tl, ok := ln.(*net.TCPListener)
	return tl, ok
}

// serveLoops serves ln with event loops until Shutdown; fasthttp serves
// the connections they hand over.
func (g *Gateway) serveLoops(ln *net.TCPListener) error {
	grp, err := g.newLoopGroup(ln)
	if err != nil {
		return err
	}
	g.shutMu.Lock()
	if g.shut {
		// Shutdown came first: there is nothing to serve.
		g.shutMu.Unlock()
		grp.close()
		return nil
	}
	g.loops.Store(grp)
	for _, l := range grp.loops {
		go l.run()
	}
	g.shutMu.Unlock()
	return g.server.Serve(grp.handoff)
}

// newLoopGroup makes one loop per processor on ln's socket; none runs
// yet.
func (g *Gateway) newLoopGroup(ln *net.TCPListener) (*loopGroup, error) {
	f, err := ln.File()
	if err != nil {
		return nil, err
	}
	lfd, err := unix.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		return nil, err
	}
	unix.CloseOnExec(lfd)
	if err := unix.SetNonblock(lfd, true); err != nil {
		unix.Close(lfd)
		return nil, err
	}
	grp := &loopGroup{g: g, ln: ln, lfd: lfd, handoff: newHandoffListener(ln.Addr())}
	grp.addr, _ = ln.Addr().(*net.TCPAddr)
	for range runtime.GOMAXPROCS(0) {
		l, err := newLoop(grp)
		if err != nil {
			grp.close()
			return nil, err
		}
		grp.loops = append(grp.loops, l)
	}
	grp.listening.Store(int32(len(grp.loops)))
	return grp, nil
}

// close releases the descriptors of a group whose loops never ran.
func (grp *loopGroup) close() {
	for _, l := range grp.loops {
		l.closeAll()
	}
	unix.Close(grp.lfd)
}

// shutdown stops accepting, lets every loop finish its exchanges in
// flight (answering them with Connection: close) and close its
// connections, then waits for the exchanges handed to goroutines.
func (grp *loopGroup) shutdown(ctx context.Context) error {
	if grp.stopping.Swap(true) {
		return nil
	}
	// The loops stop listening first thing (drain); the last to do so
	// closes the socket, so the port is free even while exchanges finish.
	grp.ln.Close()
	grp.idleMu.Lock()
	for c := range grp.idle {
		c.Close()
	}
	grp.idleMu.Unlock()
	for _, l := range grp.loops {
		l.wake()
	}
	for _, l := range grp.loops {
		select {
		case <-l.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	done := make(chan struct{})
	go func() { grp.elsewhere.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func loopHandoffs(grp *loopGroup) int64 { return grp.handoffs.Load() }

// lconn is a socket the loop owns: a client's or an upstream's.
type lconn struct {
	fd       int
	gen      int32 // tells a reused descriptor number from this one
	upstream bool
	closed   bool
	readable bool   // not read to exhaustion since the last edge
	eof      bool   // the peer closed its side (or the socket failed)
	hup      bool   // an event said so: read on to the end, past short reads
	in       []byte // read, not yet consumed
	out      []byte // to write
	outOff   int

	// A client.
	ctx        *fasthttp.RequestCtx
	x          *exchange // in flight upstream, else nil
	rest       []byte
	reqLen     int    // bytes of in the request in flight takes
	reqOut     []byte // the request as sent upstream, kept for a retry
	attempt    int
	upc        *lconn
	closeAfter bool
	since      time.Time // idle since, or the first byte of a request
	writeSince time.Time // a write has waited since

	// An upstream connection.
	peer       *lconn // the client whose exchange it carries; nil when idle
	pool       *upstream
	connecting bool
	reused     bool
	sent       int // bytes of peer.reqOut written
	hdrLen     int // length of the response header once read, else 0
	stream     streamState
	status     int
	bodyLen    int
	deadline   time.Time
	idleSince  time.Time
}

// Write buffers p for the client's socket (the response's serializer
// writes here).
func (c *lconn) Write(p []byte) (int, error) {
	c.out = append(c.out, p...)
	return len(p), nil
}

type evLoop struct {
	grp     *loopGroup
	g       *Gateway
	epfd    int
	ef      *os.File // epfd in the runtime's poller: the loop parks there
	rc      syscall.RawConn
	wakefd  int // an eventfd: Shutdown wakes the loop through it
	conns   []*lconn
	gen     int32
	events  []unix.EpollEvent
	ready   int                // events pollEvents found
	poll    func(uintptr) bool // l.pollEvents
	rd      bytes.Reader
	dec     []byte   // a streamed body's decoded bytes
	again   []*lconn // streams that used up their turn (resume)
	spare   []*lconn
	scratch []byte
	br      *bufio.Reader
	idle    map[*upstream][]*lconn
	now     time.Time
	done    chan struct{}

	acceptPaused bool // out of descriptors: accepting resumes at the next tick
	listening    bool
	unlistened   bool // done with the listening socket (drain)
}

func newLoop(grp *loopGroup) (*evLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	l := &evLoop{grp: grp, g: grp.g, epfd: epfd, wakefd: -1, events: make([]unix.EpollEvent, 256),
		br: bufio.NewReaderSize(nil, loopHeaderMax), idle: map[*upstream][]*lconn{}, done: make(chan struct{})}
	if l.wakefd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		unix.Close(epfd)
		return nil, err
	}
	if err = unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, l.wakefd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(l.wakefd)}); err == nil {
		err = l.listen()
	}
	if err == nil {
		// The loop waits in the runtime's poller, not in epoll_wait: a
		// blocked system call would hold a processor the handed-over
		// connections' goroutines need.
		err = unix.SetNonblock(epfd, true)
	}
	if err != nil {
		l.closeAll()
		return nil, err
	}
	l.poll = l.pollEvents
	l.ef = os.NewFile(uintptr(epfd), "epoll")
	if l.rc, err = l.ef.SyscallConn(); err != nil {
		l.closeAll()
		return nil, err
	}
	return l, nil
}

// listen adds the listening socket; EPOLLEXCLUSIVE wakes one loop per
// connection, not all of them.
func (l *evLoop) listen() error {
	err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, l.grp.lfd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE, Fd: int32(l.grp.lfd)})
	l.listening = err == nil
	return err
}

func (l *evLoop) wake() {
	var one = [8]byte{1}
	unix.Write(l.wakefd, one[:])
}

// closeAll releases the loop's descriptors once it has stopped.
func (l *evLoop) closeAll() {
	for _, c := range l.conns {
		if c != nil {
			unix.Close(c.fd)
		}
	}
	l.conns = nil
	if l.wakefd >= 0 {
		unix.Close(l.wakefd)
	}
	if l.ef != nil {
		l.ef.Close()
	} else {
		unix.Close(l.epfd)
	}
}

func (l *evLoop) run() {
	defer close(l.done)
	defer l.closeAll()
	next := time.Now().Add(loopTick)
	l.ef.SetReadDeadline(next)
	for {
		n, timedOut := l.wait()
		l.now = time.Now()
		l.dispatch(n)
		l.resume()
		if l.grp.stopping.Load() && l.drain() {
			return
		}
		if timedOut || !l.now.Before(next) {
			l.sweep()
			next = l.now.Add(loopTick)
			l.ef.SetReadDeadline(next)
		}
	}
}

// dispatch handles the first n events wait returned.
func (l *evLoop) dispatch(n int) {
	l.closeStirredIdle(n)
	for i := range n {
		ev := l.events[i]
		fd := int(ev.Fd)
		switch {
		// The listener and the eventfd are registered with Pad 0, every
		// connection with its generation (at least 1): once the listener
		// is closed its number may come back as a connection's.
		case ev.Pad == 0 && fd == l.grp.lfd && !l.unlistened:
			l.accept()
		case ev.Pad == 0 && fd == l.wakefd:
			var b [8]byte
			unix.Read(l.wakefd, b[:])
		default:
			c := l.conn(fd, ev.Pad)
			if c == nil {
				continue
			}
			if c.upstream {
				l.upstreamEvent(c, ev.Events)
			} else {
				l.clientEvent(c, ev.Events)
			}
		}
	}
}

// closeStirredIdle closes, before any event is handled, the idle
// upstream connections among the first n events that have something to
// read: bytes nobody asked for (a second response an upstream sent
// behind the first) or the upstream's close. Handled in arrival order, a
// client's request in the same batch could otherwise take such a
// connection from the pool first, and get the stray response as its own
// or fail on the closed socket. What arrives after this wait is the race
// every HTTP/1.1 proxy has; what arrived before it never reaches a
// request.
func (l *evLoop) closeStirredIdle(n int) {
	for i := range n {
		ev := l.events[i]
		if ev.Pad == 0 || ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) == 0 {
			continue
		}
		if c := l.conn(int(ev.Fd), ev.Pad); c != nil && c.upstream && c.peer == nil {
			l.closeUpstream(c)
		}
	}
}

// wait returns the ready events, parking in the runtime's poller while
// there are none; timedOut when the sweep's deadline passed first.
func (l *evLoop) wait() (n int, timedOut bool) {
	if len(l.again) > 0 {
		l.pollEvents(0) // streams wait for their turn: look, do not park
		return l.ready, false
	}
	err := l.rc.Read(l.poll) // l.poll is bound once: a closure here would allocate
	return l.ready, err != nil
}

// pollEvents takes the ready events without waiting; false parks the loop
// until the epoll descriptor is readable.
func (l *evLoop) pollEvents(uintptr) bool {
	r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])), uintptr(len(l.events)), 0, 0, 0)
	if e != 0 {
		l.ready = 0
		return e != syscall.EINTR && e != syscall.EAGAIN
	}
	l.ready = int(r)
	return l.ready > 0
}

func (l *evLoop) conn(fd int, gen int32) *lconn {
	if fd < 0 || fd >= len(l.conns) {
		return nil
	}
	c := l.conns[fd]
	if c == nil || c.gen != gen {
		return nil
	}
	return c
}

// add registers a new socket, edge-triggered for reads and writes.
func (l *evLoop) add(fd int, upstream bool) (*lconn, error) {
	l.gen++
	c := &lconn{fd: fd, gen: l.gen, upstream: upstream, since: l.now}
	for fd >= len(l.conns) {
		l.conns = append(l.conns, make([]*lconn, len(l.conns)+64)...)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd), Pad: c.gen}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return nil, err
	}
	l.conns[fd] = c
	return c, nil
}

func (l *evLoop) forget(c *lconn) {
	c.closed = true
	if l.conns[c.fd] == c {
		l.conns[c.fd] = nil
	}
}

func (l *evLoop) accept() {
	for !l.grp.stopping.Load() {
		fd, sa, err := unix.Accept4(l.grp.lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch {
		case err == unix.EINTR || err == unix.ECONNABORTED:
			continue
		case err == unix.EMFILE || err == unix.ENFILE || err == unix.ENOBUFS || err == unix.ENOMEM:
			// Out of descriptors: stop listening until the next tick
			// rather than spin on a socket that stays readable.
			if unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, l.grp.lfd, nil) == nil {
				l.listening = false
			}
			l.acceptPaused = true
			return
		case err != nil:
			return
		}
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		c, err := l.add(fd, false)
		if err != nil {
			unix.Close(fd)
			continue
		}
		c.ctx = new(fasthttp.RequestCtx)
		c.ctx.Init2(&addrConn{local: l.grp.addr, remote: tcpAddr(sa)}, quietLogger{}, false)
		c.readable = true // an edge may have come before the registration
		l.advance(c)
	}
}

func (l *evLoop) clientEvent(c *lconn, events uint32) {
	if events&unix.EPOLLOUT != 0 && c.outOff < len(c.out) {
		if !l.flush(c) {
			return
		}
		if up := c.upc; up != nil && up.stream.on && up.readable {
			l.upstreamEvent(up, 0) // the stream it held back goes on
			if c.closed {
				return
			}
		}
	}
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.readable = true
	}
	if events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		// The end of the stream may have come with the last bytes, in
		// the same edge: a short read does not mean there is no more.
		c.hup = true
	}
	l.advance(c)
}

// advance moves a client on as far as it can go without waiting: reads,
// then serves every complete request in turn, one at a time.
func (l *evLoop) advance(c *lconn) {
	for !c.closed && c.x == nil && c.outOff == len(c.out) {
		if l.grp.stopping.Load() {
			l.close(c)
			return
		}
		l.read(c)
		if c.closed || !l.next(c) {
			break
		}
	}
	if !c.closed && c.eof && c.x == nil && c.outOff == len(c.out) {
		l.close(c)
	}
}

// read reads what the client sent, up to a bound while a request is in
// the way.
func (l *evLoop) read(c *lconn) {
	for c.readable && len(c.in) < loopHeaderMax+l.g.cfg.MaxBodyBytes {
		space := readSpace(&c.in)
		n, e := rawRead(c.fd, space)
		switch {
		case n > 0:
			if len(c.in) == 0 {
				c.since = l.now
			}
			c.in = c.in[:len(c.in)+n]
			if n < len(space) && !c.hup {
				c.readable = false // drained: the next byte brings an edge
			}
		case e == syscall.EINTR:
		case e == syscall.EAGAIN:
			c.readable = false
		default: // end of stream or an error
			c.readable, c.eof = false, true
		}
	}
}

// next serves the request at the head of c.in when it is complete. It
// reports whether the request was answered at once (so another may
// follow); false when there is none yet, when it went upstream, or when
// the connection was handed over.
func (l *evLoop) next(c *lconn) bool {
	if len(c.in) == 0 {
		return false
	}
	req := &c.ctx.Request
	total, f := frameRequest(req, c.in, l.g.cfg.MaxBodyBytes, &l.rd, l.br)
	switch f {
	case frameIncomplete:
		return false
	case frameElsewhere:
		l.handOver(c) // fasthttp reads it again and answers as it always has
		return false
	}
	c.reqLen = total
	return l.handle(c)
}

type framing int

const (
	frameWhole      framing = iota // req holds a whole request of total bytes
	frameIncomplete                // more bytes are needed
	frameElsewhere                 // not the loop's: hand the connection over
)

// frameRequest reads the request at the start of in into req when it is
// one the loop takes and has arrived whole: HTTP/1.1, a header fasthttp
// reads exactly up to its blank line, no Expect, and a body framed by
// Content-Length (or none), not multipart, up to maxBody. req's body
// refers to in. rd and br are scratch readers.
func frameRequest(req *fasthttp.Request, in []byte, maxBody int, rd *bytes.Reader, br *bufio.Reader) (total int, f framing) {
	end := headerEnd(in)
	if end < 0 {
		if len(in) > loopHeaderMax {
			return 0, frameElsewhere
		}
		return 0, frameIncomplete
	}
	req.Reset()
	if end > loopHeaderMax {
		return 0, frameElsewhere
	}
	rd.Reset(in[:end])
	br.Reset(rd)
	err := req.Header.Read(br)
	consumed := end - rd.Len() - br.Buffered()
	cl := req.Header.ContentLength()
	if cl == -2 {
		// Neither Content-Length nor Transfer-Encoding: no body, and
		// fasthttp says so in the header of any request but GET and HEAD.
		cl = 0
		if !req.Header.IsGet() && !req.Header.IsHead() {
			req.Header.SetContentLength(0)
		}
	}
	if err != nil || consumed != end || !req.Header.IsHTTP11() || cl < 0 || cl > maxBody ||
		req.Header.Peek("Expect") != nil || isMultipart(req.Header.ContentType()) {
		return 0, frameElsewhere
	}
	if len(in) < end+cl {
		return 0, frameIncomplete
	}
	if cl > 0 {
		req.SetBodyRaw(in[end : end+cl])
	}
	return end + cl, frameWhole
}

// headerEnd returns the length of the message header at the start of b,
// its blank line included, or -1. fasthttp accepts bare LFs as line ends,
// so a blank line is "\n\n" or "\n\r\n"; next checks that fasthttp read
// exactly as far.
func headerEnd(b []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		switch {
		case i < len(b) && b[i] == '\n':
			return i + 1
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			return i + 2
		}
	}
}

// handle runs the gateway on the request in c.ctx: answered at once
// (true), or sent upstream.
func (l *evLoop) handle(c *lconn) bool {
	g, ctx := l.g, c.ctx
	ctx.Response.Reset()
	ctx.Response.Header.SetNoDefaultContentType(true) // as the server sets it
	x, rest := g.begin(ctx)
	if x == nil {
		l.respond(c)
		return true
	}
	if x.st.authMissing {
		g.finish(ctx, x, fasthttp.StatusBadGateway, bodyBadGateway)
		l.respond(c)
		return true
	}
	if !x.st.up.dialable() {
		l.handOverExchange(c, x, rest, nil)
		return false
	}
	c.reqOut = append(g.appendRequestHead(c.reqOut[:0], ctx, x, rest), x.upstreamBody(ctx)...)
	c.x, c.rest, c.attempt = x, rest, 0
	l.send(c)
	return c.x == nil && !c.closed && c.outOff == len(c.out)
}

// send puts the client's request on an upstream connection.
func (l *evLoop) send(c *lconn) {
	x := c.x
	up, err := l.acquire(x.st.up)
	if err != nil {
		l.endFailed(c, err)
		return
	}
	up.peer, c.upc = c, up
	up.sent, up.hdrLen, up.in = 0, 0, up.in[:0]
	up.deadline = x.start.Add(l.g.cfg.Timeout)
	if up.connecting {
		up.deadline = minTime(up.deadline, l.now.Add(dialTimeout))
	}
	l.writeUpstream(up)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// acquire takes an idle connection to u, or dials one.
func (l *evLoop) acquire(u *upstream) (*lconn, error) {
	idle := l.idle[u]
	for len(idle) > 0 {
		up := idle[len(idle)-1]
		idle[len(idle)-1] = nil
		idle = idle[:len(idle)-1]
		l.idle[u] = idle
		if l.now.Sub(up.idleSince) > maxIdleTime || up.eof {
			l.closeUpstream(up)
			continue
		}
		up.reused = true
		return up, nil
	}
	sa, family := u.sockaddr()
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	err = unix.Connect(fd, sa)
	connecting := err == unix.EINPROGRESS
	if err != nil && !connecting {
		unix.Close(fd)
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: err}
	}
	up, err := l.add(fd, true)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	up.pool, up.connecting = u, connecting
	return up, nil
}

func (l *evLoop) writeUpstream(up *lconn) {
	c := up.peer
	if up.connecting || c == nil {
		return
	}
	for up.sent < len(c.reqOut) {
		n, e := rawWrite(up.fd, c.reqOut[up.sent:])
		switch {
		case n > 0:
			up.sent += n
		case e == syscall.EINTR:
		case e == syscall.EAGAIN:
			return // EPOLLOUT resumes
		default:
			l.upstreamFailed(up, errUpstreamWrite, true)
			return
		}
	}
	c.x.sent = true
}

var (
	errUpstreamWrite = errors.New("gateway: write to upstream failed")
	errUpstreamEOF   = errors.New("gateway: upstream closed the connection")
	errUpstreamBad   = errors.New("gateway: malformed upstream response")
)

// timeoutError is what an exchange past its deadline fails with.
type timeoutError struct{}

func (timeoutError) Error() string { return "gateway: upstream timeout" }
func (timeoutError) Timeout() bool { return true }

func (l *evLoop) upstreamEvent(up *lconn, events uint32) {
	c := up.peer
	if c == nil {
		return // idle: closeStirredIdle has closed it if it had input
	}
	l.upstreamReady(up, events)
	if !c.closed && c.x == nil {
		l.advance(c)
	}
}

// upstreamReady moves an exchange on when its upstream connection is
// ready: connected, writable, readable or closed.
func (l *evLoop) upstreamReady(up *lconn, events uint32) {
	if up.connecting {
		if events&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
			return
		}
		if e, err := unix.GetsockoptInt(up.fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || e != 0 {
			l.upstreamFailed(up, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.Errno(e)}, false)
			return
		}
		up.connecting = false
		up.deadline = up.peer.x.start.Add(l.g.cfg.Timeout) // no longer the dial's
	}
	if up.sent < len(up.peer.reqOut) {
		l.writeUpstream(up)
		if up.closed || up.peer == nil {
			return
		}
	}
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		up.readable = true
	}
	if events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		up.hup = true // see clientEvent
	}
	for turn := 0; up.readable; turn++ {
		if c := up.peer; up.stream.on && len(c.out)-c.outOff > streamBacklog {
			return // a stream's client is behind: its EPOLLOUT resumes reading
		}
		if turn == streamTurn {
			// A fast stream takes turns with the loop's other sockets:
			// it goes on after the next wait for events, which does not
			// park while a stream is waiting for its turn.
			l.again = append(l.again, up)
			return
		}
		l.readUpstream(up)
		l.response(up)
		if up.closed || up.peer == nil || !up.stream.on && !up.readable {
			return
		}
	}
}

// resume gives the streams that used up their turn another.
func (l *evLoop) resume() {
	batch := l.again
	l.again = l.spare[:0]
	for i, up := range batch {
		batch[i] = nil
		if !up.closed && up.peer != nil && up.readable {
			l.upstreamEvent(up, 0)
		}
	}
	l.spare = batch[:0]
}

// readUpstream reads what the upstream sent, until the socket is drained
// (readable turns false) or, for a stream, until a step's worth is in.
func (l *evLoop) readUpstream(up *lconn) {
	for !up.eof {
		// Reads stop, the socket still readable, where the caller has
		// to act first: at a stream's streamBacklog unrelayed bytes; at
		// a header and streamBacklog more, for response to learn whether
		// the answer streams; at upstreamAhead, which only an answer
		// that streams reaches. A fast upstream would otherwise have the
		// loop read, and buffer, all it can send.
		limit := upstreamAhead
		switch {
		case up.stream.on:
			limit = up.stream.off + streamBacklog
		case up.hdrLen == 0:
			limit = loopHeaderMax + streamBacklog
		}
		if len(up.in) >= limit {
			return
		}
		space := readSpace(&up.in)
		space = space[:min(len(space), limit-len(up.in))]
		n, e := rawRead(up.fd, space)
		if n > 0 {
			up.in = up.in[:len(up.in)+n]
			if n < len(space) && !up.hup {
				break // drained: the next byte brings an edge
			}
			continue
		}
		if e == syscall.EINTR {
			continue
		}
		if e == syscall.EAGAIN {
			break
		}
		up.eof = true
	}
	up.readable = false
}

// response moves the exchange on with what the upstream has sent.
func (l *evLoop) response(up *lconn) {
	c := up.peer
	x, ctx, g := c.x, c.ctx, l.g
	if up.stream.on {
		l.stream(c, up)
		return
	}
	if up.hdrLen == 0 {
		for {
			end := headerEnd(up.in)
			if end < 0 || end > bufSize {
				switch {
				case len(up.in) > bufSize:
					l.upstreamBad(up)
				case up.eof:
					l.upstreamFailed(up, errUpstreamEOF, len(up.in) == 0)
				}
				return
			}
			l.rd.Reset(up.in[:end])
			l.br.Reset(&l.rd)
			x.resp.Reset()
			err := x.resp.Read(l.br)
			if err != nil || end-l.rd.Len()-l.br.Buffered() != end {
				l.upstreamBad(up)
				return
			}
			// An answer means the upstream got the request, even one it
			// answered before reading all of it: it may have acted on it.
			x.sent = true
			if s := x.resp.StatusCode(); s >= 200 || s == fasthttp.StatusSwitchingProtocols {
				up.hdrLen = end
				break
			}
			up.in = up.in[:copy(up.in, up.in[end:])] // 1xx: the real answer follows
		}
		status, n := g.relayHeader(ctx, x)
		up.status = status
		if bodiless(&ctx.Request, status) {
			reuse := !x.resp.ConnectionClose() && status != fasthttp.StatusSwitchingProtocols && len(up.in) == up.hdrLen && !up.readable && up.sent == len(c.reqOut)
			g.endBodiless(ctx, x, status)
			l.endExchange(c, up, reuse)
			return
		}
		if status == fasthttp.StatusOK && listsModels(ctx, x, c.rest) {
			l.handOverExchange(c, x, c.rest, up)
			return
		}
		events := isEventStream(x.resp.ContentType())
		if n == -1 && l.wholeChunkedBody(c, up, status, events) {
			return
		}
		if streamed(events, n) {
			l.startStream(c, up, status, n, events)
			return
		}
		up.bodyLen = n
	}
	body := up.in[up.hdrLen:]
	x.received = int64(min(len(body), up.bodyLen))
	if len(body) < up.bodyLen {
		if up.eof {
			l.upstreamBad(up) // cut short
		}
		return
	}
	// Reused only in step: the whole request written, nothing past the
	// body, no close asked for or seen.
	reuse := len(body) == up.bodyLen && !x.resp.ConnectionClose() && !up.eof && !up.readable && up.sent == len(c.reqOut)
	g.endBuffered(ctx, x, up.status, body[:up.bodyLen], false)
	l.endExchange(c, up, reuse)
}

// upstreamFailed ends an exchange whose upstream failed before its
// answer began. A reused connection the upstream had closed gets the
// request again on a new one when it cannot have been acted on: the write
// failed, or the method is idempotent and the connection closed cleanly.
func (l *evLoop) upstreamFailed(up *lconn, err error, clean bool) {
	c := up.peer
	if up.stream.on {
		l.abortStream(c, up) // the answer has begun: it can only be cut
		return
	}
	retry := up.reused && c.attempt == 0 && (err == errUpstreamWrite || (clean && idempotent(c.ctx.Request.Header.Method())))
	l.closeUpstream(up)
	if retry {
		c.attempt++
		l.send(c)
		return
	}
	l.endFailed(c, err)
}

// upstreamBad ends an exchange whose upstream answered out of protocol or
// cut its body short: 502, as relayBuffered answers.
func (l *evLoop) upstreamBad(up *lconn) {
	c := up.peer
	if up.stream.on {
		l.abortStream(c, up)
		return
	}
	l.closeUpstream(up)
	c.ctx.Response.Header.Reset()
	l.endFailed(c, errUpstreamBad)
}

func (l *evLoop) endFailed(c *lconn, err error) {
	l.g.upstreamFailed(c.ctx, c.x, err)
	l.endExchange(c, nil, false)
}

// endExchange answers the client (the exchange has been settled) and
// puts the upstream connection back or closes it. The caller moves the
// client on (advance) once it is back at the top of an event: a failure
// inside handle must not serve the next request from within itself.
func (l *evLoop) endExchange(c *lconn, up *lconn, reuse bool) {
	if up != nil {
		if reuse {
			l.release(up)
		} else {
			l.closeUpstream(up)
		}
	}
	c.x, c.upc, c.rest = nil, nil, nil
	if cap(c.reqOut) > loopKeepBuf {
		c.reqOut = nil
	}
	l.respond(c)
}

// respond writes the answer in c.ctx and drops the request.
func (l *evLoop) respond(c *lconn) {
	l.prepareAnswer(c)
	c.out = appendResponse(c.out, &c.ctx.Response, &l.scratch)
	l.finishAnswer(c)
}

// prepareAnswer makes the decisions fasthttp's server makes before it
// writes an answer: whether the connection closes after it, HEAD, the
// Server header.
func (l *evLoop) prepareAnswer(c *lconn) {
	// A client that closed its side after pipelining requests gets every
	// one of them answered; the connection closes after the last.
	c.closeAfter = l.grp.prepareAnswer(c.ctx, c.closeAfter || (c.eof && len(c.in) == c.reqLen))
}

// prepareAnswer makes those decisions for an answer in ctx, on the loop
// or on a handed-over exchange's goroutine, and reports whether the
// connection closes after it (closeAfter: it must already).
func (grp *loopGroup) prepareAnswer(ctx *fasthttp.RequestCtx, closeAfter bool) bool {
	closeAfter = closeAfter || ctx.Request.Header.ConnectionClose() || ctx.Response.Header.ConnectionClose() || grp.stopping.Load()
	if closeAfter {
		ctx.Response.Header.SetConnectionClose()
	}
	if ctx.Request.Header.IsHead() {
		ctx.Response.SkipBody = true
	}
	grp.g.serverName(ctx)
	return closeAfter
}

// finishAnswer drops the answered request and writes what is buffered.
func (l *evLoop) finishAnswer(c *lconn) {
	ctx := c.ctx
	ctx.Response.Reset()
	ctx.Request.Reset()
	c.in = c.in[:copy(c.in, c.in[c.reqLen:])]
	c.reqLen = 0
	c.since = l.now
	l.flush(c)
}

// appendResponse appends resp as fasthttp's Response.Write writes it (the
// loop's answers are never streams) without its bufio.Writer in between.
func appendResponse(dst []byte, resp *fasthttp.Response, scratch *[]byte) []byte {
	status := resp.StatusCode()
	send := !(resp.SkipBody || status < 200 || status == fasthttp.StatusNoContent || status == fasthttp.StatusNotModified)
	body := resp.Body()
	if send || len(body) > 0 {
		resp.Header.SetContentLength(len(body))
	}
	dst = appendHeader(dst, &resp.Header, scratch)
	if send {
		dst = append(dst, body...)
	}
	return dst
}

// flush writes what is buffered for the client; false when the
// connection closed.
func (l *evLoop) flush(c *lconn) bool {
	for c.outOff < len(c.out) {
		n, e := rawWrite(c.fd, c.out[c.outOff:])
		switch {
		case n > 0:
			c.outOff += n
		case e == syscall.EINTR:
		case e == syscall.EAGAIN:
			if c.writeSince.IsZero() {
				c.writeSince = l.now
			}
			return true // EPOLLOUT resumes
		default:
			l.close(c)
			return false
		}
	}
	c.out, c.outOff, c.writeSince = c.out[:0], 0, time.Time{}
	// A large buffer is dropped once its exchange is over; a stream in
	// flight keeps it, or each read it relays would grow a new one.
	if cap(c.out) > loopKeepBuf && c.x == nil {
		c.out = nil
	}
	if cap(c.in) > loopKeepBuf && len(c.in) == 0 {
		c.in = nil
	}
	if c.closeAfter && c.x == nil { // not mid-stream: the answer is whole
		l.close(c)
		return false
	}
	return true
}

func (l *evLoop) release(up *lconn) {
	up.peer, up.reused = nil, true
	up.in = up.in[:0]
	up.idleSince = l.now
	idle := l.idle[up.pool]
	if len(idle) >= maxIdle {
		l.closeUpstream(up)
		return
	}
	l.idle[up.pool] = append(idle, up)
}

// closeUpstream closes an upstream connection, in use or idle.
func (l *evLoop) closeUpstream(up *lconn) {
	if up.closed {
		return
	}
	if up.peer != nil {
		up.peer.upc = nil
		up.peer = nil
	} else {
		idle := l.idle[up.pool]
		for i, u := range idle {
			if u == up {
				l.idle[up.pool] = append(idle[:i], idle[i+1:]...)
				break
			}
		}
	}
	l.forget(up)
	unix.Close(up.fd)
}

// close closes a client connection; an exchange still in flight is
// ended first (the loop never closes a client mid-exchange by itself).
func (l *evLoop) close(c *lconn) {
	if c.closed {
		return
	}
	if c.x != nil {
		if up := c.upc; up != nil && up.stream.on {
			l.settleStream(c, up, false)
		} else {
			if up != nil {
				l.closeUpstream(up)
			}
			l.g.finish(c.ctx, c.x, fasthttp.StatusBadGateway, bodyBadGateway)
			c.x = nil
		}
	}
	l.forget(c)
	unix.Close(c.fd)
}

// sweep enforces the timeouts: an exchange past its deadline gets 504; a
// client idle, slow to send its request or slow to read its answer is
// closed; an upstream connection idle too long is closed.
func (l *evLoop) sweep() {
	s := l.g.server
	if l.acceptPaused && !l.grp.stopping.Load() {
		l.acceptPaused = false
		if !l.listening {
			l.listen()
		}
		l.accept()
	}
	for _, c := range l.conns {
		if c == nil || c.closed {
			continue
		}
		switch {
		case c.upstream && c.peer != nil:
			if client := c.peer; !l.now.Before(c.deadline) {
				l.upstreamFailed(c, timeoutError{}, false)
				if !client.closed && client.x == nil {
					l.advance(client)
				}
			}
		case c.upstream:
			if l.now.Sub(c.idleSince) > maxIdleTime {
				l.closeUpstream(c)
			}
		case c.x != nil:
			// A stream's client that stopped reading.
			if c.outOff < len(c.out) && !c.writeSince.IsZero() && l.now.Sub(c.writeSince) > s.WriteTimeout {
				l.close(c)
			}
		case c.outOff < len(c.out):
			if l.now.Sub(c.writeSince) > s.WriteTimeout {
				l.close(c)
			}
		case len(c.in) > 0:
			if l.now.Sub(c.since) > s.ReadTimeout {
				l.close(c)
			}
		default:
			if l.now.Sub(c.since) > s.IdleTimeout {
				l.close(c)
			}
		}
	}
}

// drain runs while the gateway shuts down: it stops listening and closes
// every client not waiting for an answer; those that are get theirs with
// Connection: close. It reports whether the loop is done.
func (l *evLoop) drain() bool {
	if !l.unlistened {
		if l.listening {
			unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, l.grp.lfd, nil)
			l.listening = false
		}
		l.unlistened = true
		if l.grp.listening.Add(-1) == 0 {
			unix.Close(l.grp.lfd)
		}
	}
	busy := false
	for _, c := range l.conns {
		switch {
		case c == nil || c.closed || c.upstream:
		case c.x == nil && c.outOff == len(c.out):
			l.close(c)
		default:
			c.closeAfter = true
			busy = true
		}
	}
	return !busy
}

// handOver gives the whole connection to fasthttp, with every byte read
// from it so far.
func (l *evLoop) handOver(c *lconn) {
	l.grp.handoffs.Add(1)
	cc, err := l.detach(c, c.in)
	if err != nil {
		return
	}
	l.grp.elsewhere.Add(1)
	go func() {
		defer l.grp.elsewhere.Done()
		l.grp.handoff.deliver(cc)
	}()
}

// handOverExchange gives the exchange in flight to a goroutine, which
// finishes it with the fasthttp-based code: forward when up is nil (the
// loop does not dial this upstream), relay of the response whose header
// up has read otherwise. The connection then goes to fasthttp.
func (l *evLoop) handOverExchange(c *lconn, x *exchange, rest []byte, up *lconn) {
	l.grp.handoffs.Add(1)
	var uc *upConn
	if up != nil {
		nc, err := l.detach(up, nil)
		if err != nil {
			l.endFailed(c, err)
			return
		}
		nc = withPrefix(nc, up.in[up.hdrLen:])
		uc = &upConn{c: nc, br: bufio.NewReaderSize(nc, bufSize), bw: bufio.NewWriterSize(nc, bufSize),
			up: up.pool, reused: up.reused, idleSince: l.now, once: up.readable}
		uc.setDeadline(x.start.Add(l.g.cfg.Timeout))
		if up.sent < len(c.reqOut) {
			// The upstream answered before reading the whole request:
			// the rest goes first, as the goroutine path writes a whole
			// request before it reads; else the connection would go
			// back to the pool owing the upstream a body.
			uc.unsent = c.reqOut[up.sent:]
		}
	}
	ctx := c.ctx
	cc, err := l.detach(c, c.in[c.reqLen:])
	if err != nil {
		// The client is gone: end the exchange as a failed write would.
		if uc != nil {
			uc.discard()
		}
		l.g.finish(ctx, x, fasthttp.StatusBadGateway, bodyBadGateway)
		return
	}
	grp := l.grp
	grp.elsewhere.Add(1)
	go func() {
		defer grp.elsewhere.Done()
		grp.finishElsewhere(cc, ctx, x, rest, uc)
	}()
}

// finishElsewhere runs the rest of a handed-over exchange on its own
// goroutine, writes the answer as fasthttp would, and hands the
// connection to fasthttp.
func (grp *loopGroup) finishElsewhere(cc net.Conn, ctx *fasthttp.RequestCtx, x *exchange, rest []byte, uc *upConn) {
	g := grp.g
	if uc == nil {
		g.forward(ctx, x, rest)
	} else {
		if len(uc.unsent) > 0 {
			if _, err := uc.c.Write(uc.unsent); err != nil {
				x.resp.SetConnectionClose() // out of step: relay closes it
			}
			uc.unsent = nil
		}
		g.relay(ctx, x, uc, rest)
	}
	closeAfter := grp.prepareAnswer(ctx, false)
	cc.SetWriteDeadline(time.Now().Add(g.server.WriteTimeout))
	bw := bufio.NewWriterSize(cc, 16<<10)
	err := ctx.Response.Write(bw) // closes a streamed body, which settles it
	if err == nil {
		err = bw.Flush()
	}
	ctx.Response.Reset()
	ctx.Request.Reset()
	if err != nil || closeAfter {
		cc.Close()
		return
	}
	cc.SetWriteDeadline(time.Time{})
	grp.deliverWhenAsked(cc)
}

// deliverWhenAsked hands cc to fasthttp once its next request begins. A
// connection fasthttp gets idle, it sees as new and waits on for up to its
// read timeout, even at shutdown; one waiting here is closed by Shutdown
// and after the idle timeout, as fasthttp's own idle connections are.
func (grp *loopGroup) deliverWhenAsked(cc net.Conn) {
	grp.idleMu.Lock()
	if grp.stopping.Load() {
		grp.idleMu.Unlock()
		cc.Close()
		return
	}
	if grp.idle == nil {
		grp.idle = map[net.Conn]struct{}{}
	}
	grp.idle[cc] = struct{}{}
	grp.idleMu.Unlock()
	cc.SetReadDeadline(time.Now().Add(grp.g.server.IdleTimeout))
	var b [1]byte
	n, err := cc.Read(b[:])
	grp.idleMu.Lock()
	delete(grp.idle, cc)
	grp.idleMu.Unlock()
	if n == 0 || err != nil {
		cc.Close()
		return
	}
	cc.SetReadDeadline(time.Time{})
	grp.handoff.deliver(withPrefix(cc, b[:1]))
}

// detach takes a socket out of the loop as a net.Conn whose first reads
// return pre.
func (l *evLoop) detach(c *lconn, pre []byte) (net.Conn, error) {
	unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	l.forget(c)
	f := os.NewFile(uintptr(c.fd), "")
	nc, err := net.FileConn(f) // a duplicate descriptor in the runtime's poller
	f.Close()
	if err != nil {
		return nil, err
	}
	return withPrefix(rawConn(nc), pre), nil
}

// addrConn gives a loop's request its addresses (fasthttp.RequestCtx
// reads them from a net.Conn); nothing reads or writes through it.
type addrConn struct {
	local, remote net.Addr
}

var errNotAConn = errors.New("gateway: not a connection")

func (c *addrConn) Read([]byte) (int, error)         { return 0, errNotAConn }
func (c *addrConn) Write([]byte) (int, error)        { return 0, errNotAConn }
func (c *addrConn) Close() error                     { return nil }
func (c *addrConn) LocalAddr() net.Addr              { return c.local }
func (c *addrConn) RemoteAddr() net.Addr             { return c.remote }
func (c *addrConn) SetDeadline(time.Time) error      { return nil }
func (c *addrConn) SetReadDeadline(time.Time) error  { return nil }
func (c *addrConn) SetWriteDeadline(time.Time) error { return nil }

func tcpAddr(sa unix.Sockaddr) *net.TCPAddr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	return &net.TCPAddr{}
}

// readSpace returns the free capacity of *b to read into, grown when
// there is little: reads land where the bytes are kept, without a copy.
func readSpace(b *[]byte) []byte {
	if cap(*b)-len(*b) < 2<<10 {
		*b = slices.Grow(*b, max(4<<10, len(*b)))
	}
	return (*b)[len(*b):cap(*b)]
}

// serverName names the gateway in an answer without a Server header, as
// the fasthttp server does with its Name.
func (g *Gateway) serverName(ctx *fasthttp.RequestCtx) {
	if len(ctx.Response.Header.Server()) == 0 {
		ctx.Response.Header.SetServer(g.server.Name)
	}
}

// dialable reports whether the event loop dials this upstream itself:
// plain HTTP to an IP address. A host name would need a resolver that
// does not block, and HTTPS a TLS client on the loop.
func (u *upstream) dialable() bool {
	return !u.https && u.ip.IsValid() && u.ip.Addr().Zone() == ""
}

func (u *upstream) sockaddr() (unix.Sockaddr, int) {
	a := u.ip.Addr()
	if a.Is4() || a.Is4In6() {
		return &unix.SockaddrInet4{Port: int(u.ip.Port()), Addr: a.Unmap().As4()}, unix.AF_INET
	}
	return &unix.SockaddrInet6{Port: int(u.ip.Port()), Addr: a.As16()}, unix.AF_INET6
}
